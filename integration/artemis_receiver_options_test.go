//go:build integration

package integration

import (
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// TestArtemisNoLocal: Artemis honours the JMS no-local filter as amq sends
// it (Qpid JMS's form) on a multicast address: the subscriber misses what
// its own connection publishes and gets the others'.
func TestArtemisNoLocal(t *testing.T) {
	p := getPeer(t, "artemis")
	ctx := testCtx(t, time.Minute)
	topic := uniqueName(t)
	caps := []string{"topic"}
	mine, other := amqDial(t, p, p.Addr, nil), amqDial(t, p, p.Addr, nil)
	r := amqReceiver(t, mine, topic, &amq.ReceiverOptions{Capabilities: caps, NoLocal: true})
	if err := amqSender(t, mine, topic, &amq.SenderOptions{Capabilities: caps}).Send(ctx, amq.NewMessage("own")); err != nil {
		t.Fatal(err)
	}
	if err := amqSender(t, other, topic, &amq.SenderOptions{Capabilities: caps}).Send(ctx, amq.NewMessage("theirs")); err != nil {
		t.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := bodyString(t, d.Message); got != "theirs" {
		t.Errorf("no-local subscriber got %q first, want \"theirs\"", got)
	}
	expectNoMore(t, r)
}

// TestArtemisPresettledReceiver: a receiver asking for snd-settle-mode
// settled gets its messages settled (at-most-once): once received they are
// gone from the queue, whatever the receiver does.
func TestArtemisPresettledReceiver(t *testing.T) {
	const n = 5
	p := getPeer(t, "artemis")
	ctx := testCtx(t, time.Minute)
	addr := uniqueName(t)
	c := amqDial(t, p, p.Addr, nil)
	if err := amqSendN(ctx, amqSender(t, c, addr, nil), "m", n); err != nil {
		t.Fatal(err)
	}
	r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Presettled: true, ManualAccept: true, Credit: n})
	for i := 0; i < n; i++ {
		d, err := r.Receive(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if err := d.Release(ctx); err != nil {
			t.Errorf("release of a pre-settled delivery: %v, want nil (a no-op)", err)
		}
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Released or not, Artemis settled them as it sent them.
	expectNoMore(t, amqReceiver(t, c, addr, nil))
}

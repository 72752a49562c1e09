//go:build integration

package integration

import (
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// TestAmqNonClosingDetachKeepsSubscription: Qpid Proton (the reference
// engine) detaches a durable subscriber's link without closing it, after
// putting a message on the subscription. amq answers with a non-closing
// detach, which keeps the subscription, and re-attaches to it: the message
// arrives. An answer that closed the link would have ended the
// subscription and lost the message (go-amqp alone answers so, and then
// hangs). The peer's test broker does this for a message sent to
// "suspend.TOPIC" (peers/proton_broker.py).
func TestAmqNonClosingDetachKeepsSubscription(t *testing.T) {
	p := getPeer(t, "proton-python")
	ctx := testCtx(t, time.Minute)
	topic := uniqueName(t)
	c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.ContainerID = uniqueName(t) })
	r := amqReceiver(t, c, topic, &amq.ReceiverOptions{Name: "sub", Durable: true, Capabilities: p.TopicCaps, ManualAccept: true})
	if err := c.Send(ctx, amq.NewMessage("before").SetTo(topic)); err != nil {
		t.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := bodyString(t, d.Message); got != "before" {
		t.Fatalf("got %q, want %q", got, "before")
	}
	// Settled before the suspend message goes out on the same connection:
	// otherwise the broker would requeue it on the detach, rightly.
	if err := d.Accept(ctx); err != nil {
		t.Fatal(err)
	}

	if err := c.Send(ctx, amq.NewMessage("suspend").SetTo("suspend."+topic)); err != nil {
		t.Fatal(err)
	}
	d, err = r.Receive(ctx)
	if err != nil {
		t.Fatalf("after the peer's non-closing detach: %v", err)
	}
	if got := bodyString(t, d.Message); got != "kept across the detach" {
		t.Fatalf("got %q, want the message the subscription kept", got)
	}
	if err := d.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	// The re-attached link carries on.
	if err := c.Send(ctx, amq.NewMessage("after").SetTo(topic)); err != nil {
		t.Fatal(err)
	}
	if d, err = r.Receive(ctx); err != nil || bodyString(t, d.Message) != "after" {
		t.Fatalf("after re-attach: %v %v", d, err)
	}
	if err := d.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

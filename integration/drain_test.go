//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// drainPeers are the brokers Receiver.Drain is checked against: each
// answers a drain flow in its own code (Artemis on Proton-J, RabbitMQ's
// AMQP 1.0 plugin, the embedded broker).
var drainPeers = []string{"artemis", "rabbitmq", "embedded"}

// drainFails names the peers that end the session when asked to drain,
// with the condition they send and what was measured.
var drainFails = map[string]struct{ condition, why string }{
	"rabbitmq": {"amqp:internal-error", "measured (frame trace): RabbitMQ 3.10.8 answers a drain flow on a /queue/ link with flow(drain=true, link-credit unchanged) and then ends the session with amqp:internal-error, a function_clause in rabbit_classic_queue:handle_event({send_drained, ...}): its AMQP 1.0 plugin cannot drain a classic queue (rabbitmq/rabbitmq-server#7119, fixed by #7141 and backported to later 3.10 releases; when the installed RabbitMQ has the fix this check fails and rabbitmq belongs with the others)"},
}

// already returns a context that has ended: a Receive with it returns a
// message only if one has arrived already, which is what a drain promises.
func already(t *testing.T) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	t.Cleanup(cancel)
	return ctx
}

// TestDrain: Receiver.Drain returns once the broker has sent what it had
// for the receiver's credit (AMQP 1.0 2.6.7): fewer messages than the
// window, more, and none. Every message it sent has arrived by then, and
// the window works again afterwards.
func TestDrain(t *testing.T) {
	for _, name := range drainPeers {
		t.Run(name, func(t *testing.T) {
			p := getPeer(t, name)
			c := amqDial(t, p, p.Addr, nil)
			ctx := testCtx(t, time.Minute)
			if fails, ok := drainFails[name]; ok {
				drainRefused(t, ctx, p, c, fails.condition, fails.why)
				return
			}

			t.Run("fewer than the window", func(t *testing.T) {
				addr := p.Queue(uniqueName(t))
				if err := amqSendN(ctx, amqSender(t, c, addr, nil), "m", 3); err != nil {
					t.Fatal(err)
				}
				r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 10})
				if err := r.Drain(ctx); err != nil {
					t.Fatal(err)
				}
				receiveArrived(t, r, "m", 0, 3)
				if d, err := r.Receive(already(t)); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("after the drain: %v %v, want nothing more", d, err)
				}
				// The window works again.
				if err := amqSender(t, c, addr, nil).Send(ctx, amq.NewMessage("later")); err != nil {
					t.Fatal(err)
				}
				d, err := r.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := bodyString(t, d.Message); got != "later" {
					t.Errorf("got %q, want \"later\"", got)
				}
			})

			t.Run("more than the window", func(t *testing.T) {
				const window, total = 10, 25
				addr := p.Queue(uniqueName(t))
				if err := amqSendN(ctx, amqSender(t, c, addr, nil), "m", total); err != nil {
					t.Fatal(err)
				}
				r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: window})
				if err := r.Drain(ctx); err != nil {
					t.Fatal(err)
				}
				receiveArrived(t, r, "m", 0, window)
				for i := window; i < total; i++ {
					d, err := r.Receive(ctx)
					if err != nil {
						t.Fatalf("message %d: %v", i, err)
					}
					if got, want := bodyString(t, d.Message), fmt.Sprintf("m %d", i); got != want {
						t.Fatalf("got %q, want %q", got, want)
					}
				}
			})

			t.Run("empty", func(t *testing.T) {
				addr := p.Queue(uniqueName(t))
				r := amqReceiver(t, c, addr, nil)
				if err := r.Drain(ctx); err != nil {
					t.Fatal(err)
				}
				if d, err := r.Receive(already(t)); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("after draining an empty queue: %v %v, want nothing", d, err)
				}
				if err := amqSender(t, c, addr, nil).Send(ctx, amq.NewMessage("after")); err != nil {
					t.Fatal(err)
				}
				d, err := r.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := bodyString(t, d.Message); got != "after" {
					t.Errorf("got %q, want \"after\"", got)
				}
			})
		})
	}
}

// receiveArrived receives the messages prefix+from … prefix+(to-1), each of
// which must have arrived already.
func receiveArrived(t *testing.T, r *amq.Receiver, prefix string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		d, err := r.Receive(already(t))
		if err != nil {
			t.Fatalf("message %d had not arrived when Drain returned: %v", i, err)
		}
		if got, want := bodyString(t, d.Message), fmt.Sprintf("%s %d", prefix, i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// drainRefused checks a peer that ends the session when asked to drain:
// Drain returns the peer's error at once rather than asking the
// re-attached link again, and the receiver re-attaches and receives.
func drainRefused(t *testing.T, ctx context.Context, p *Peer, c *amq.Client, condition, why string) {
	t.Logf("%s cannot drain: %s", p.Name, why)
	addr := p.Queue(uniqueName(t))
	if err := amqSendN(ctx, amqSender(t, c, addr, nil), "m", 1); err != nil {
		t.Fatal(err)
	}
	r := amqReceiver(t, c, addr, nil)
	err := r.Drain(ctx)
	var ae *amq.Error
	if !errors.As(err, &ae) || ae.Condition != condition {
		t.Fatalf("Drain: %v, want an *amq.Error with %s (%s)", err, condition, why)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		t.Fatalf("the receiver did not recover after the failed drain: %v", err)
	}
	if got := bodyString(t, d.Message); got != "m 0" {
		t.Errorf("got %q, want \"m 0\"", got)
	}
}

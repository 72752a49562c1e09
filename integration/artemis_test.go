//go:build integration

package integration

// What Artemis users rely on (reference chapters 8 and 14.3), through amq.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// TestArtemisAnycastVsMulticast: an address used with the "queue"
// capability (or none: the harness makes auto-created addresses anycast)
// shares its messages among its consumers; with the "topic" capability
// every consumer gets every message.
func TestArtemisAnycastVsMulticast(t *testing.T) {
	const n = 20
	p := getPeer(t, "artemis")
	for _, tc := range []struct {
		name      string
		caps      []string
		multicast bool
	}{
		{"no capability", nil, false},
		{"queue", []string{"queue"}, false},
		{"topic", []string{"topic"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, time.Minute)
			c := amqDial(t, p, p.Addr, nil)
			addr := uniqueName(t)
			opts := &amq.ReceiverOptions{Credit: 5, Capabilities: tc.caps}
			rs := []*amq.Receiver{amqReceiver(t, c, addr, opts), amqReceiver(t, c, addr, opts)}
			s := amqSender(t, c, addr, &amq.SenderOptions{Capabilities: tc.caps})
			if err := amqSendN(ctx, s, "m", n); err != nil {
				t.Fatal(err)
			}
			got := make([]map[string]bool, len(rs))
			total := 0
			want := n
			if tc.multicast {
				want = 2 * n
			}
			for total < want {
				progress := false
				for i, r := range rs {
					rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					d, err := r.Receive(rctx)
					cancel()
					if err != nil {
						continue
					}
					progress = true
					if got[i] == nil {
						got[i] = map[string]bool{}
					}
					body := bodyString(t, d.Message)
					if got[i][body] {
						t.Fatalf("consumer %d got %q twice", i, body)
					}
					got[i][body] = true
					total++
				}
				if !progress && ctx.Err() != nil {
					t.Fatalf("received %d of %d", total, want)
				}
			}
			if tc.multicast {
				for i := range rs {
					if len(got[i]) != n {
						t.Errorf("topic subscriber %d got %d of %d messages", i, len(got[i]), n)
					}
				}
				return
			}
			// Anycast: each message reached exactly one of the two, and
			// Artemis round-robins, so both had a share.
			for body := range got[0] {
				if got[1][body] {
					t.Errorf("queue message %q reached both consumers", body)
				}
			}
			if len(got[0]) == 0 || len(got[1]) == 0 {
				t.Errorf("queue consumers got %d and %d messages: not shared", len(got[0]), len(got[1]))
			}
			expectNoMore(t, rs...)
		})
	}
}

// expectNoMore checks that none of rs holds another message: after the
// exact count arrived, a short bounded wait is the assertion.
func expectNoMore(t testing.TB, rs ...*amq.Receiver) {
	t.Helper()
	for i, r := range rs {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		d, err := r.Receive(ctx)
		cancel()
		if err == nil {
			t.Errorf("receiver %d: unexpected message %q", i, bodyString(t, d.Message))
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("receiver %d: %v", i, err)
		}
	}
}

// TestArtemisDurableSubscriptionSurvivesClientRestart: a durable
// subscription (container id + link name, reference 8.2) keeps what is
// published while its client is gone — the client process ends without
// closing the link — and Close ends it.
func TestArtemisDurableSubscriptionSurvivesClientRestart(t *testing.T) {
	p := getPeer(t, "artemis")
	ctx := testCtx(t, time.Minute)
	topic := uniqueName(t)
	container := uniqueName(t)
	opts := &amq.ReceiverOptions{Name: "sub", Durable: true, Capabilities: []string{"topic"}, Credit: 10}
	pub := amqSender(t, amqDial(t, p, p.Addr, nil), topic, &amq.SenderOptions{Capabilities: []string{"topic"}})

	// First run of the subscriber: it subscribes, gets one message and
	// goes away without closing its link (a process that ends).
	c1 := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.ContainerID = container })
	r := amqReceiver(t, c1, topic, opts)
	if err := amqSendN(ctx, pub, "first", 1); err != nil {
		t.Fatal(err)
	}
	if err := amqReceiveN(ctx, t, r, "first", 1); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(); err != nil {
		t.Fatalf("Close client: %v", err)
	}

	if err := amqSendN(ctx, pub, "while away", 5); err != nil {
		t.Fatal(err)
	}

	// The second run finds what was published meanwhile.
	c2 := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.ContainerID = container })
	r = amqReceiver(t, c2, topic, opts)
	if err := amqReceiveN(ctx, t, r, "while away", 5); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	// Close (not Detach) ends the subscription: what is published after it
	// is not kept for the name.
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := amqSendN(ctx, pub, "after close", 1); err != nil {
		t.Fatal(err)
	}
	r = amqReceiver(t, c2, topic, opts)
	if err := amqSendN(ctx, pub, "new", 1); err != nil {
		t.Fatal(err)
	}
	if err := amqReceiveN(ctx, t, r, "new", 1); err != nil {
		t.Fatalf("the closed subscription was kept: %v", err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestArtemisSharedSubscription: the "shared" source capability (with
// "global" when the consumers have different container ids), as Qpid JMS
// asks for JMS 2.0 shared subscriptions. Consumers of one shared
// subscription compete for its messages; a second subscription gets its
// own copy of each. Artemis takes the subscription name from the link name
// up to a '|', so each consumer's link name can differ after it.
func TestArtemisSharedSubscription(t *testing.T) {
	const n = 20
	p := getPeer(t, "artemis")
	for _, tc := range []struct {
		name    string
		durable bool
	}{{"durable", true}, {"volatile", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, time.Minute)
			topic := uniqueName(t)
			caps := []string{"topic", "shared", "global"}
			consumer := func(sub, suffix string) *amq.Receiver {
				opts := &amq.ReceiverOptions{Name: sub + "|" + suffix, Capabilities: caps, Credit: 5, Durable: tc.durable}
				// Different container ids: "global" shares across them.
				return amqReceiver(t, amqDial(t, p, p.Addr, nil), topic, opts)
			}
			suffix := "global"
			if !tc.durable {
				suffix = "global-volatile"
			}
			a1, a2 := consumer("subA", suffix), consumer("subA", suffix)
			b := consumer("subB", suffix)
			pub := amqSender(t, amqDial(t, p, p.Addr, nil), topic, &amq.SenderOptions{Capabilities: []string{"topic"}})
			if err := amqSendN(ctx, pub, "s", n); err != nil {
				t.Fatal(err)
			}
			// subB alone gets all n, in order.
			if err := amqReceiveN(ctx, t, b, "s", n); err != nil {
				t.Fatalf("subscription B: %v", err)
			}
			// subA's two consumers share the n between them.
			seen := map[string]int{}
			counts := [2]int{}
			for len(seen) < n {
				for i, r := range []*amq.Receiver{a1, a2} {
					rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					d, err := r.Receive(rctx)
					cancel()
					if err != nil {
						if ctx.Err() != nil {
							t.Fatalf("subscription A: %d of %d messages: %v", len(seen), n, err)
						}
						continue
					}
					seen[bodyString(t, d.Message)]++
					counts[i]++
				}
			}
			for body, k := range seen {
				if k != 1 {
					t.Errorf("%q reached subscription A %d times", body, k)
				}
			}
			if counts[0] == 0 || counts[1] == 0 {
				t.Errorf("subscription A's consumers got %v: not shared", counts)
			}
			expectNoMore(t, a1, a2, b)
			if tc.durable {
				for _, r := range []*amq.Receiver{a1, a2, b} {
					if err := r.Close(ctx); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
			}
		})
	}
}

// TestArtemisLargeMessages: bodies past amqpMinLargeMessageSize (100 KiB)
// are stored by Artemis as large messages, in files; 1 MiB and 50 MiB
// bodies go from amq to Artemis and back, intact, as a data section and as
// an amqp-value binary.
func TestArtemisLargeMessages(t *testing.T) {
	p := getPeer(t, "artemis")
	for _, size := range []int{1 << 20, 50 << 20} {
		for _, asValue := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dMiB/value=%v", size>>20, asValue), func(t *testing.T) {
				ctx := testCtx(t, 3*time.Minute)
				c := amqDial(t, p, p.Addr, nil)
				addr := uniqueName(t)
				body := make([]byte, size)
				for i := range body {
					body[i] = byte(i*7 + i>>16)
				}
				m := amq.NewMessage(body)
				m.BinaryAsValue = asValue
				m.Durable = true
				m.Properties = map[string]any{"size": int64(size)}
				if err := amqSender(t, c, addr, nil).Send(ctx, m); err != nil {
					t.Fatalf("send %d bytes: %v", size, err)
				}
				r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 1})
				d, err := r.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := d.Message.Body.([]byte)
				if !ok || !bytes.Equal(got, body) {
					t.Fatalf("%d-byte body differs: got %T of %d bytes", size, d.Message.Body, len(got))
				}
				if d.Message.BinaryAsValue != asValue {
					t.Errorf("BinaryAsValue %v, want %v", d.Message.BinaryAsValue, asValue)
				}
				if d.Message.Properties["size"] != int64(size) {
					t.Errorf("properties %v", d.Message.Properties)
				}
			})
		}
	}
}

// TestArtemisScheduledDelivery: the x-opt-delivery-time (absolute, ms since
// the epoch) and x-opt-delivery-delay (ms) message annotations hold a
// message back until then; a message sent later without one overtakes it.
func TestArtemisScheduledDelivery(t *testing.T) {
	p := getPeer(t, "artemis")
	for _, annotation := range []string{"x-opt-delivery-time", "x-opt-delivery-delay"} {
		t.Run(annotation, func(t *testing.T) {
			ctx := testCtx(t, time.Minute)
			c := amqDial(t, p, p.Addr, nil)
			addr := uniqueName(t)
			s := amqSender(t, c, addr, nil)
			const delay = 2 * time.Second
			due := time.Now().Add(delay)
			later := amq.NewMessage("later")
			if annotation == "x-opt-delivery-time" {
				later.Annotations = map[string]any{annotation: due.UnixMilli()}
			} else {
				later.Annotations = map[string]any{annotation: delay.Milliseconds()}
			}
			if err := s.Send(ctx, later); err != nil {
				t.Fatal(err)
			}
			if err := s.Send(ctx, amq.NewMessage("now")); err != nil {
				t.Fatal(err)
			}
			r := amqReceiver(t, c, addr, nil)
			d, err := r.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := bodyString(t, d.Message); got != "now" {
				t.Fatalf("first message %q, want the unscheduled one", got)
			}
			d, err = r.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			arrived := time.Now()
			if got := bodyString(t, d.Message); got != "later" {
				t.Fatalf("second message %q", got)
			}
			// Artemis and this test read the same clock; the broker's
			// scheduler fires at the due millisecond or after it.
			if arrived.Before(due.Truncate(time.Millisecond)) {
				t.Errorf("scheduled message arrived %v before it was due", due.Sub(arrived))
			}
			t.Logf("due %s, arrived %v after", due.Format("15:04:05.000"), arrived.Sub(due).Round(time.Millisecond))
		})
	}
}

// TestArtemisRedelivery: a released message comes back with its
// delivery-count unchanged (AMQP 1.0 3.4.4: the node must not count a
// release); modified with delivery-failed raises it; after
// max-delivery-attempts the broker moves the message to its dead-letter
// queue, and the consumer does not see it again. A rejected message goes
// there at once.
func TestArtemisRedelivery(t *testing.T) {
	p := getPeer(t, "artemis")
	ctx := testCtx(t, time.Minute)
	c := amqDial(t, p, p.Addr, nil)
	addr := "dlq." + uniqueName(t) // address-setting dlq.#: artemisMaxDeliveries
	if err := amqSender(t, c, addr, nil).Send(ctx, amq.NewMessage("poison").SetTo(addr)); err != nil {
		t.Fatal(err)
	}
	r := amqReceiver(t, c, addr, &amq.ReceiverOptions{ManualAccept: true, Credit: 1})
	next := func(what string) *amq.Delivery {
		t.Helper()
		d, err := r.Receive(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := bodyString(t, d.Message); got != "poison" {
			t.Fatalf("%s: body %q", what, got)
		}
		return d
	}

	d := next("first delivery")
	if d.Message.DeliveryCount != 0 {
		t.Errorf("first delivery: delivery-count %d, want 0", d.Message.DeliveryCount)
	}
	if err := d.Release(ctx); err != nil {
		t.Fatal(err)
	}
	d = next("after release")
	if d.Message.DeliveryCount != 0 {
		t.Errorf("after release: delivery-count %d, want 0 (a release is not a failed delivery)", d.Message.DeliveryCount)
	}
	// Each failed delivery counts against max-delivery-attempts.
	for attempt := 1; attempt <= artemisMaxDeliveries; attempt++ {
		if err := d.Modify(ctx, &amq.ModifyOptions{DeliveryFailed: true}); err != nil {
			t.Fatalf("Modify %d: %v", attempt, err)
		}
		if attempt == artemisMaxDeliveries {
			break
		}
		d = next(fmt.Sprintf("after failed delivery %d", attempt))
		if d.Message.DeliveryCount != uint32(attempt) {
			t.Errorf("after failed delivery %d: delivery-count %d, want %d", attempt, d.Message.DeliveryCount, attempt)
		}
	}
	expectNoMore(t, r)

	// The dead letter, read by its fully qualified queue name.
	dead := amqReceiver(t, c, "DLA::DLQ."+addr, nil)
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	dd, err := dead.Receive(dctx)
	if err != nil {
		t.Fatalf("dead-letter queue: %v", err)
	}
	if got := bodyString(t, dd.Message); got != "poison" {
		t.Fatalf("dead letter %q", got)
	}
	t.Logf("dead letter: delivery-count %d, annotations %v", dd.Message.DeliveryCount, dd.Message.Annotations)
	if orig := dd.Message.Annotations["x-opt-ORIG-ADDRESS"]; orig != addr {
		t.Errorf("dead letter's x-opt-ORIG-ADDRESS %#v, want %q", orig, addr)
	}

	// A rejected message is not redelivered: it goes to the dead letters
	// at once.
	if err := c.Send(ctx, amq.NewMessage("rejected").SetTo(addr)); err != nil {
		t.Fatal(err)
	}
	d, err = r.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Reject(ctx, "amqp:precondition-failed", "test rejects"); err != nil {
		t.Fatal(err)
	}
	expectNoMore(t, r)
	if dd, err = dead.Receive(dctx); err != nil {
		t.Fatalf("dead-letter queue after a reject: %v", err)
	}
	if got := bodyString(t, dd.Message); got != "rejected" {
		t.Fatalf("dead letter %q, want the rejected message", got)
	}
}

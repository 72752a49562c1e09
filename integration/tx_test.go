//go:build integration

package integration

// Local transactions (AMQP 1.0 chapter 4) through amq against every peer:
// the peers with a coordinator (FeatTransactions) apply a transaction's
// sends and settlements at the commit and drop them at a rollback; the
// others make Begin fail with ErrNoCoordinator and leave the client as it
// was.
//
// "Not visible yet" is never asserted by waiting for nothing to arrive: a
// marker sent outside the transaction after its sends must reach the
// consumer first, since a queue is first in, first out and the
// transaction's messages join it only at the commit.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// sendInTx sends "<prefix> 1" … "<prefix> n" in tx on s, durable.
func sendInTx(ctx context.Context, tx *amq.Tx, s *amq.Sender, prefix string, n int) error {
	for i := 1; i <= n; i++ {
		m := amq.NewMessage(fmt.Sprintf("%s %d", prefix, i))
		m.Durable = true
		m.Properties = map[string]any{"seq": int64(i)}
		if err := tx.Send(ctx, s, m); err != nil {
			return fmt.Errorf("Tx.Send %d: %w", i, err)
		}
	}
	return nil
}

// receiveBodies receives n messages on r and returns them.
func receiveBodies(ctx context.Context, t testing.TB, r *amq.Receiver, n int) ([]string, []*amq.Delivery) {
	t.Helper()
	var bodies []string
	var ds []*amq.Delivery
	for i := 0; i < n; i++ {
		d, err := r.Receive(ctx)
		if err != nil {
			t.Fatalf("receive %d of %d (got %q): %v", i+1, n, bodies, err)
		}
		bodies = append(bodies, bodyString(t, d.Message))
		ds = append(ds, d)
	}
	return bodies, ds
}

// numbered is "<prefix> 1" … "<prefix> n".
func numbered(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

// sendMarker sends a message outside any transaction on s.
func sendMarker(ctx context.Context, t testing.TB, s *amq.Sender, body string) {
	t.Helper()
	if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
		t.Fatalf("send the marker %q: %v", body, err)
	}
}

// expectNext fails t unless the next message on r has body want; why
// says what another body would mean.
func expectNext(ctx context.Context, t testing.TB, r *amq.Receiver, want, why string) *amq.Delivery {
	t.Helper()
	d, err := r.Receive(ctx)
	if err != nil {
		t.Fatalf("waiting for %q (%s): %v", want, why, err)
	}
	if got := bodyString(t, d.Message); got != want {
		t.Fatalf("got %q before %q: %s", got, want, why)
	}
	return d
}

// queueDrained checks that addr holds nothing any more: a fresh client's
// marker is the first message a fresh consumer gets.
func queueDrained(ctx context.Context, t testing.TB, p *Peer, addr, why string) {
	t.Helper()
	c := amqDial(t, p, p.Addr, nil)
	r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 10})
	sendMarker(ctx, t, amqSender(t, c, addr, nil), "drained marker")
	expectNext(ctx, t, r, "drained marker", why)
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestTxCommit: messages sent in a transaction reach no consumer before
// the commit, and all of them, in order, after it.
func TestTxCommit(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) { checkCommit(t, p, 5, false) })
}

// TestTxCommitAsync: the same with a window of sends in the transaction
// (Tx.SendAsync), whose outcomes the commit waits for.
func TestTxCommitAsync(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) { checkCommit(t, p, 200, true) })
}

func checkCommit(t *testing.T, p *Peer, n int, async bool) {
	p.Require(t, FeatTransactions)
	ctx := testCtx(t, time.Minute)
	c := amqDial(t, p, p.Addr, nil)
	addr := p.Queue(uniqueName(t))
	r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 2 * n})
	s := amqSender(t, c, addr, nil)

	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	var receipts []*amq.Receipt
	if async {
		for i := 1; i <= n; i++ {
			m := amq.NewMessage(fmt.Sprintf("tx %d", i))
			m.Durable = true
			rc, err := tx.SendAsync(ctx, s, m)
			if err != nil {
				t.Fatalf("Tx.SendAsync %d: %v", i, err)
			}
			receipts = append(receipts, rc)
		}
	} else if err := sendInTx(ctx, tx, s, "tx", n); err != nil {
		t.Fatal(err)
	}
	sendMarker(ctx, t, s, "marker")
	expectNext(ctx, t, r, "marker", "a consumer saw the transaction's messages before the commit")

	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	for i, rc := range receipts {
		if err := rc.Wait(ctx); err != nil {
			t.Fatalf("receipt %d after the commit: %v", i+1, err)
		}
	}
	if got, _ := receiveBodies(ctx, t, r, n); !slices.Equal(got, numbered("tx", n)) {
		t.Fatalf("after the commit: %d messages, want %q…", len(got), numbered("tx", n)[:3])
	}
	if err := tx.Commit(ctx); !errors.Is(err, amq.ErrTxDone) {
		t.Errorf("second Commit: %v, want ErrTxDone", err)
	}
	if err := tx.Send(ctx, s, amq.NewMessage("late")); !errors.Is(err, amq.ErrTxDone) {
		t.Errorf("Send after Commit: %v, want ErrTxDone", err)
	}
	if _, err := tx.SendAsync(ctx, s, amq.NewMessage("late")); !errors.Is(err, amq.ErrTxDone) {
		t.Errorf("SendAsync after Commit: %v, want ErrTxDone", err)
	}
	expectNoMore(t, r)
}

// TestTxRollback: nothing sent in a rolled-back transaction is ever
// delivered, and the sender goes on outside it. BeginFunc rolls back when
// its function fails.
func TestTxRollback(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatTransactions)
		ctx := testCtx(t, time.Minute)
		c := amqDial(t, p, p.Addr, nil)
		addr := p.Queue(uniqueName(t))
		r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 10})
		s := amqSender(t, c, addr, nil)

		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		if err := sendInTx(ctx, tx, s, "rolled back", 3); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}

		failure := errors.New("the work failed")
		err = c.BeginFunc(ctx, func(tx *amq.Tx) error {
			if err := sendInTx(ctx, tx, s, "failed func", 2); err != nil {
				return err
			}
			return failure
		})
		if !errors.Is(err, failure) {
			t.Fatalf("BeginFunc: %v, want the function's error", err)
		}

		// The rollbacks returned before this is sent: had either applied
		// anything, it would be queued ahead of the marker.
		sendMarker(ctx, t, s, "marker")
		expectNext(ctx, t, r, "marker", "a rolled-back message was delivered")
		expectNoMore(t, r)
	})
}

// TestTxSettlements: deliveries accepted in a transaction go back to the
// queue for redelivery at a rollback and leave it at a commit.
func TestTxSettlements(t *testing.T) {
	const n = 3
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatTransactions)
		ctx := testCtx(t, time.Minute)
		addr := p.Queue(uniqueName(t))
		if err := amqSendN(ctx, amqSender(t, amqDial(t, p, p.Addr, nil), addr, nil), "m", n); err != nil {
			t.Fatal(err)
		}
		c := amqDial(t, p, p.Addr, nil)
		r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 10, ManualAccept: true})
		want := []string{"m 0", "m 1", "m 2"}

		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		got, ds := receiveBodies(ctx, t, r, n)
		if !slices.Equal(got, want) {
			t.Fatalf("received %q, want %q", got, want)
		}
		for _, d := range ds {
			if err := tx.Accept(ctx, d); err != nil {
				t.Fatalf("Tx.Accept: %v", err)
			}
		}
		if err := ds[0].Accept(ctx); !errors.Is(err, amq.ErrAlreadySettled) {
			t.Errorf("Accept after Tx.Accept: %v, want ErrAlreadySettled", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}

		// The rollback gives all three back, to the consumer that has them
		// on credit.
		tx, err = c.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		got, ds = receiveBodies(ctx, t, r, n)
		if !slices.Equal(got, want) {
			t.Fatalf("redelivered after the rollback: %q, want %q", got, want)
		}
		for i, d := range ds {
			t.Logf("%s: %q redelivered with delivery-count %d, first-acquirer %v", p.Name, got[i], d.Message.DeliveryCount, d.Message.FirstAcquirer)
			if d.Message.DeliveryCount == 0 {
				t.Errorf("%q redelivered after the rollback with delivery-count 0: a consumer cannot tell it was delivered before", got[i])
			}
			if err := tx.Accept(ctx, d); err != nil {
				t.Fatalf("Tx.Accept: %v", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// Closed: anything still held for the consumer would be back on the
		// queue, ahead of the marker.
		queueDrained(ctx, t, p, addr, "a message accepted in a committed transaction is still queued")
	})
}

// TestTxSendAndAccept moves messages from one queue to another, as the
// BeginFunc example does, across the sessions amq gives each link: the
// coordinator on its own session, the sender and the receiver on theirs.
func TestTxSendAndAccept(t *testing.T) {
	const n = 3
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatTransactions)
		ctx := testCtx(t, time.Minute)
		in, out := p.Queue(uniqueName(t)), p.Queue(uniqueName(t))
		if err := amqSendN(ctx, amqSender(t, amqDial(t, p, p.Addr, nil), in, nil), "order", n); err != nil {
			t.Fatal(err)
		}
		c := amqDial(t, p, p.Addr, nil)
		r := amqReceiver(t, c, in, &amq.ReceiverOptions{Credit: 1, ManualAccept: true})
		s := amqSender(t, c, out, nil)
		for i := 0; i < n; i++ {
			err := c.BeginFunc(ctx, func(tx *amq.Tx) error {
				d, err := r.Receive(ctx)
				if err != nil {
					return err
				}
				if err := tx.Send(ctx, s, amq.NewMessage("shipped "+bodyString(t, d.Message))); err != nil {
					return err
				}
				return tx.Accept(ctx, d)
			})
			if err != nil {
				t.Fatalf("move %d: %v", i, err)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		queueDrained(ctx, t, p, in, "a moved message is still on its first queue")
		c2 := amqDial(t, p, p.Addr, nil)
		got, _ := receiveBodies(ctx, t, amqReceiver(t, c2, out, nil), n)
		if want := []string{"shipped order 0", "shipped order 1", "shipped order 2"}; !slices.Equal(got, want) {
			t.Fatalf("the second queue holds %q, want %q", got, want)
		}
	})
}

// TestTxNoCoordinator: on a peer without transactions Begin fails with
// ErrNoCoordinator, not worth retrying, and the client's connection and
// links carry on as before.
func TestTxNoCoordinator(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		if p.Has(FeatTransactions) {
			t.Skipf("%s has a transaction coordinator", p.Name)
		}
		if p.Name == "proton-c" {
			// What Begin does to the example broker must not break the
			// shared one the other tests use.
			var err error
			if p, err = startProtonC(); err != nil {
				missing(t, "proton-c", err)
			}
		}
		ctx := testCtx(t, 30*time.Second)
		// No reconnecting: a Begin that cost the connection shows as a
		// failed Send below, not as a reconnect nobody notices.
		c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.Reconnect = amq.NoReconnect })
		addr := p.Queue(uniqueName(t))
		r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 10})
		s := amqSender(t, c, addr, nil)
		if err := s.Send(ctx, amq.NewMessage("before")); err != nil {
			t.Fatal(err)
		}

		tx, err := c.Begin(ctx)
		t.Logf("%s: Begin: %v", p.Name, err)
		if err == nil {
			_ = tx.Rollback(ctx)
			t.Fatalf("Begin succeeded on a peer without transactions")
		}
		if !errors.Is(err, amq.ErrNoCoordinator) {
			t.Errorf("Begin: %v (%T), want an error wrapping ErrNoCoordinator", err, err)
		}
		if amq.Retryable(err) {
			t.Errorf("Retryable(%v) = true: retrying cannot give the peer a coordinator", err)
		}

		for _, body := range []string{"after", "after again"} {
			if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
				t.Fatalf("Send %q after the refused Begin: %v", body, err)
			}
		}
		if got, _ := receiveBodies(ctx, t, r, 3); !slices.Equal(got, []string{"before", "after", "after again"}) {
			t.Fatalf("received %q", got)
		}
		select {
		case <-c.Done():
			t.Fatalf("the refused Begin ended the client: %v", c.Err())
		default:
		}
	})
}

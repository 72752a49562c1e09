package amq_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// sendIn sends the bodies in tx on s.
func sendIn(t *testing.T, ctx context.Context, tx *amq.Tx, s *amq.Sender, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		require.NoError(t, tx.Send(ctx, s, amq.NewMessage(b)))
	}
}

// receiveBodies receives n messages and returns their bodies, accepting
// none of them (the receiver is ManualAccept).
func receiveBodies(t *testing.T, ctx context.Context, r *amq.Receiver, n int) ([]string, []*amq.Delivery) {
	t.Helper()
	var bodies []string
	var ds []*amq.Delivery
	for range n {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		bodies = append(bodies, fmt.Sprint(d.Message.Body))
		ds = append(ds, d)
	}
	return bodies, ds
}

func TestTxCommitMakesItsSendsVisible(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "tx-commit", nil)
	require.NoError(t, err)

	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	sendIn(t, ctx, tx, s, "one", "two", "three")
	assert.Equal(t, 0, b.QueueDepth("tx-commit"), "nothing visible before the commit")
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, 3, b.QueueDepth("tx-commit"))

	r, err := c.NewReceiver(ctx, "tx-commit", nil)
	require.NoError(t, err)
	got, _ := receiveBodies(t, ctx, r, 3)
	assert.Equal(t, []string{"one", "two", "three"}, got, "in the order sent")

	assert.ErrorIs(t, tx.Commit(ctx), amq.ErrTxDone)
	assert.ErrorIs(t, tx.Send(ctx, s, amq.NewMessage("late")), amq.ErrTxDone)
}

func TestTxRollbackDropsItsSends(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "tx-rollback", nil)
	require.NoError(t, err)

	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	sendIn(t, ctx, tx, s, "gone")
	require.NoError(t, tx.Rollback(ctx))
	require.NoError(t, s.Send(ctx, amq.NewMessage("kept")), "the sender goes on outside the transaction")
	assert.Equal(t, 1, b.QueueDepth("tx-rollback"))

	r, err := c.NewReceiver(ctx, "tx-rollback", nil)
	require.NoError(t, err)
	got, _ := receiveBodies(t, ctx, r, 1)
	assert.Equal(t, []string{"kept"}, got)
}

// Settlements in a transaction take effect at commit; a rollback gives
// the messages back for redelivery, counted as a failed attempt.
func TestTxSettlements(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "tx-settle", nil)
	require.NoError(t, err)
	for _, body := range []string{"a", "b", "c"} {
		require.NoError(t, s.Send(ctx, amq.NewMessage(body)))
	}
	r, err := c.NewReceiver(ctx, "tx-settle", &amq.ReceiverOptions{ManualAccept: true, Credit: 1})
	require.NoError(t, err)

	// Rolled back: "a" comes again, once more delivered.
	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	_, ds := receiveBodies(t, ctx, r, 1)
	require.NoError(t, tx.Accept(ctx, ds[0]))
	assert.ErrorIs(t, ds[0].Accept(ctx), amq.ErrAlreadySettled, "settled once, in the transaction")
	require.NoError(t, tx.Rollback(ctx))

	// Committed: everything received is consumed.
	tx, err = c.Begin(ctx)
	require.NoError(t, err)
	var bodies []string
	for range 3 {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		bodies = append(bodies, fmt.Sprint(d.Message.Body))
		if d.Message.Body == "a" {
			assert.Equal(t, uint32(1), d.Message.DeliveryCount, "redelivered after the rollback")
		}
		require.NoError(t, tx.Accept(ctx, d))
	}
	assert.ElementsMatch(t, []string{"a", "b", "c"}, bodies)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, r.Close(ctx))
	assert.Equal(t, 0, b.QueueDepth("tx-settle"), "every accept applied at the commit")
}

func TestBeginFunc(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "tx-func", nil)
	require.NoError(t, err)

	require.NoError(t, c.BeginFunc(ctx, func(tx *amq.Tx) error {
		return tx.Send(ctx, s, amq.NewMessage("committed"))
	}))
	assert.Equal(t, 1, b.QueueDepth("tx-func"))

	failure := errors.New("the work failed")
	err = c.BeginFunc(ctx, func(tx *amq.Tx) error {
		require.NoError(t, tx.Send(ctx, s, amq.NewMessage("rolled back")))
		return failure
	})
	assert.ErrorIs(t, err, failure)
	assert.Equal(t, 1, b.QueueDepth("tx-func"), "an error rolls back")

	assert.PanicsWithValue(t, "boom", func() {
		_ = c.BeginFunc(ctx, func(tx *amq.Tx) error {
			require.NoError(t, tx.Send(ctx, s, amq.NewMessage("panicked")))
			panic("boom")
		})
	})
	assert.Equal(t, 1, b.QueueDepth("tx-func"), "a panic rolls back")
}

// A transaction does not outlive its connection: the client says so, lets
// the work be retried, and the broker applied none of it.
func TestTxLostWithItsConnection(t *testing.T) {
	b := amqtest.NewBroker(t)
	lost := make(chan struct{}, 1)
	c := dial(t, b.URL(), &amq.ConnectOptions{OnStateChange: func(ev amq.StateEvent) {
		if ev.State == amq.StateDisconnected {
			select {
			case lost <- struct{}{}:
			default:
			}
		}
	}})
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "tx-lost", nil)
	require.NoError(t, err)

	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	sendIn(t, ctx, tx, s, "in flight")
	b.DropConnections()
	select {
	case <-lost: // the client knows: the commit is not sent at all
	case <-ctx.Done():
		t.Fatal("the client never noticed the drop")
	}

	err = tx.Commit(ctx)
	require.ErrorIs(t, err, amq.ErrTransactionLost)
	assert.True(t, amq.Retryable(err))
	assert.Equal(t, 0, b.QueueDepth("tx-lost"), "nothing of it applied")

	// The client reconnected: a new transaction works.
	require.NoError(t, c.BeginFunc(ctx, func(tx *amq.Tx) error {
		return tx.Send(ctx, s, amq.NewMessage("again"))
	}))
	assert.Equal(t, 1, b.QueueDepth("tx-lost"))
}

func TestBeginWithoutCoordinator(t *testing.T) {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: server.HandlerFuncs{}, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), nil)

	_, err = c.Begin(testCtx(t))
	require.ErrorIs(t, err, amq.ErrNoCoordinator)
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "amqp:not-implemented", ae.Condition)
	assert.False(t, amq.Retryable(err))
	select {
	case <-c.Done():
		t.Fatal("a refused coordinator must not end the client")
	default:
	}
}

func TestRetryableTransactionErrors(t *testing.T) {
	assert.True(t, amq.Retryable(&amq.TransactionError{Op: "commit", Condition: "amqp:transaction:rollback"}))
	assert.True(t, amq.Retryable(&amq.Error{Scope: amq.ScopeConnection, Err: amq.ErrTransactionLost}))
	assert.False(t, amq.Retryable(&amq.Error{Scope: amq.ScopeConnection, Err: fmt.Errorf("%w (eof)", amq.ErrTransactionOutcomeUnknown)}))
	assert.False(t, amq.Retryable(context.Canceled))
}

// A peer that refuses the coordinator by ending its session (as RabbitMQ
// 3.10 does) gives ErrNoCoordinator; the client answers that end once and
// the connection goes on, as clean as before.
func TestBeginRefusedByASessionEnd(t *testing.T) {
	frames := make(chan []string, 1)
	peer := startRawPeer(t, func(pc *peerConn) {
		var seen []string
		defer func() { frames <- seen }()
		if pc.send(&codec.Open{ContainerID: "rabbit-like"}) != nil {
			return
		}
		for {
			fr, err := codec.ReadFrame(pc.nc, 0)
			if err != nil {
				return
			}
			switch b := fr.Body.(type) {
			case *codec.Begin:
				ch := fr.Channel
				if codec.WriteFrame(pc.nc, codec.Frame{Type: codec.FrameAMQP, Channel: ch, Body: &codec.Begin{RemoteChannel: &ch, IncomingWindow: 100, OutgoingWindow: 100}}) != nil {
					return
				}
			case *codec.Attach:
				seen = append(seen, "attach")
				end := &codec.End{Error: &codec.Error{Condition: codec.ErrCondNotImplemented, Description: "Transactions not supported"}}
				if codec.WriteFrame(pc.nc, codec.Frame{Type: codec.FrameAMQP, Channel: fr.Channel, Body: end}) != nil {
					return
				}
			case *codec.End:
				seen = append(seen, "end")
			case *codec.Close:
				if b.Error != nil {
					seen = append(seen, "close "+string(b.Error.Condition))
				} else {
					seen = append(seen, "close")
				}
				_ = pc.send(&codec.Close{})
				return
			}
		}
	})
	c, err := amq.Dial(testCtx(t), peer.url(), &amq.ConnectOptions{SASL: noSASL, Reconnect: amq.NoReconnect})
	require.NoError(t, err)

	_, err = c.Begin(testCtx(t))
	require.ErrorIs(t, err, amq.ErrNoCoordinator)
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, amq.ScopeSession, ae.Scope)
	assert.Equal(t, "amqp:not-implemented", ae.Condition)
	require.NoError(t, c.Close())
	assert.Equal(t, []string{"attach", "end", "close"}, <-frames, "one end for the peer's, then the client's own clean close")
}

// A window of sends in one transaction: nothing is visible before the
// commit, which waits for every receipt, and everything after it, in order.
func TestTxSendAsync(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "tx-async", nil)
	require.NoError(t, err)

	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	const n = 50
	var receipts []*amq.Receipt
	for i := range n {
		rc, err := tx.SendAsync(ctx, s, amq.NewMessage(fmt.Sprint(i)))
		require.NoError(t, err)
		receipts = append(receipts, rc)
	}
	require.NoError(t, tx.Commit(ctx), "the commit waits for the receipts itself")
	assert.Equal(t, n, b.QueueDepth("tx-async"))
	for _, rc := range receipts {
		require.NoError(t, rc.Wait(ctx), "known since the commit")
	}

	r, err := c.NewReceiver(ctx, "tx-async", nil)
	require.NoError(t, err)
	got, _ := receiveBodies(t, ctx, r, n)
	for i, body := range got {
		require.Equal(t, fmt.Sprint(i), body, "in the order sent")
	}
	_, err = tx.SendAsync(ctx, s, amq.NewMessage("late"))
	assert.ErrorIs(t, err, amq.ErrTxDone)
}

// A send of the window that the peer refuses makes Commit roll the whole
// transaction back: no part of it is applied.
func TestTxSendAsyncRefusedRollsBack(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithMaxQueueMessages(2)) // a transaction holds at most 2 sends
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "tx-async-full", nil)
	require.NoError(t, err)

	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	var receipts []*amq.Receipt
	for i := range 3 {
		rc, err := tx.SendAsync(ctx, s, amq.NewMessage(fmt.Sprint(i)))
		require.NoError(t, err)
		receipts = append(receipts, rc)
	}
	err = tx.Commit(ctx)
	var te *amq.TransactionError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "amqp:transaction:rollback", te.Condition)
	assert.Equal(t, 0, b.QueueDepth("tx-async-full"), "nothing of it applied")
	require.NoError(t, receipts[0].Wait(ctx))
	var rej *amq.RejectedError
	assert.ErrorAs(t, receipts[2].Wait(ctx), &rej, "the third send was refused")
}

// Waiting for a receipt with a context that ends first does not decide
// the transaction: the outcome is still to come.
func TestTxSendAsyncWaitTimesOut(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "tx-async-wait", nil)
	require.NoError(t, err)
	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	rc, err := tx.SendAsync(ctx, s, amq.NewMessage("x"))
	require.NoError(t, err)
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := rc.Wait(ended); err != nil {
		require.ErrorIs(t, err, context.Canceled)
	}
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, 1, b.QueueDepth("tx-async-wait"))
}

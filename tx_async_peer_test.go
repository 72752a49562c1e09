package amq_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// lenientCoordinator is a peer whose coordinator commits whatever it is
// asked to, and whose queue refuses the refuse-th send of a transaction
// without failing the transaction: the spec allows it, and amq's broker
// does not do it. Each discharge's fail flag goes to discharges.
func lenientCoordinator(refuse int, discharges chan<- bool) server.HandlerFuncs {
	txnID := []byte("txn-1")
	return server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		coordinator := engine.LinkCoordinator(r.Link()) != nil
		sends := 0
		for {
			d, err := r.Receive(ctx)
			if err != nil {
				return
			}
			if !coordinator {
				sends++
				var outcome codec.DeliveryState = &codec.Accepted{}
				if sends == refuse {
					outcome = &codec.Rejected{Error: &codec.Error{Condition: "amqp:precondition-failed"}}
				}
				_ = d.Settle(&codec.TransactionalState{TxnID: txnID, Outcome: outcome})
				continue
			}
			m, err := d.Message()
			if err != nil {
				_ = d.Reject(&codec.Error{Condition: codec.ErrCondDecodeError})
				continue
			}
			req, err := codec.ParseCoordinatorRequest(m)
			switch {
			case err != nil:
				_ = d.Reject(&codec.Error{Condition: codec.ErrCondDecodeError})
			case req.Declare:
				_ = d.Settle(&codec.Declared{TxnID: txnID})
			default:
				discharges <- req.Fail
				_ = d.Accept()
			}
		}
	}}
}

// A send of the window that the peer refuses, on a peer that would commit
// the rest all the same: Commit discharges with fail (a rollback) and says
// so, rather than apply a part of the transaction.
func TestTxSendAsyncRefusedPartIsNotCommitted(t *testing.T) {
	discharges := make(chan bool, 1)
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		Handler: lenientCoordinator(2, discharges), AllowAnonymous: true, Transactions: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "q", nil)
	require.NoError(t, err)

	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	for i := range 3 {
		_, err := tx.SendAsync(ctx, s, amq.NewMessage(i))
		require.NoError(t, err)
	}
	err = tx.Commit(ctx)
	var te *amq.TransactionError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "amqp:transaction:rollback", te.Condition)
	assert.True(t, <-discharges, "the discharge asked for a rollback")
}

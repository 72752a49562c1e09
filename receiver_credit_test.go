package amq_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// A receiver lets the peer send at most its credit window ahead of the
// application (ReceiverOptions.Credit), however many messages wait and
// however slowly the application takes them: the credit it tops up counts
// the messages it holds already.
//
// Measured at the peer, which has ten windows of numbered messages to send.
// What it has sent plus the credit it holds is what the client allows it to
// send; that may exceed the Receive calls the application has begun by at
// most the window. The peer checks it before each message and after each
// flow. The application takes one message at a time, accepts it, and before
// the next waits until the peer has the accept: the client writes a credit
// it grants while handing over a message before the accept of the next one,
// so by then the peer has seen that credit, and a grant too large cannot
// hide behind a fast consumer.
func TestCreditWindowBoundsWhatTheReceiverHolds(t *testing.T) {
	const window, total = 10, 10 * 10
	var (
		asked    atomic.Int64 // Receive calls begun
		ahead    atomic.Int64 // the most the peer was allowed beyond them
		overrun  = make(chan [2]int64, 1)
		sendLink = make(chan *server.Sender, 1)
	)
	h := server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		sendLink <- s
		check := func(sent int64) {
			// Credit first: a grant it includes comes from a Receive that
			// asked already counts.
			allowed := sent + int64(s.Credit())
			beyond := allowed - asked.Load()
			if beyond > ahead.Load() {
				ahead.Store(beyond)
			}
			if beyond > window {
				select {
				case overrun <- [2]int64{allowed, allowed - beyond}:
				default:
				}
			}
		}
		var sent int64
		for ; sent < total; sent++ {
			if s.WaitCredit(ctx) != nil {
				return
			}
			check(sent)
			if _, err := s.Send(ctx, &codec.Message{Value: sent, HasValue: true}, false); err != nil {
				return
			}
		}
		for {
			select {
			case <-s.Flowed():
				check(sent)
			case <-ctx.Done():
				return
			}
		}
	}}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "numbers", &amq.ReceiverOptions{Credit: window, ManualAccept: true})
	require.NoError(t, err)
	var peer *server.Sender
	select {
	case peer = <-sendLink:
	case <-ctx.Done():
		t.Fatal("the peer's sending link did not start")
	}
	failIfOverrun := func() {
		t.Helper()
		select {
		case o := <-overrun:
			t.Fatalf("with a credit window of %d, the client allowed the peer %d messages when the application had asked for %d",
				window, o[0], o[1])
		default:
		}
	}
	for i := range total {
		asked.Add(1)
		d, err := r.Receive(ctx)
		require.NoError(t, err, "message %d", i)
		require.Equal(t, int64(i), d.Message.Body)
		require.NoError(t, d.Accept(ctx))
		for peer.SettledCount() < uint64(i+1) {
			select {
			case <-peer.Settlements():
			case <-ctx.Done():
				t.Fatalf("the peer did not get the accept of message %d", i)
			}
		}
		failIfOverrun()
	}
	require.NoError(t, r.Close(ctx))
	failIfOverrun()
	assert.GreaterOrEqual(t, ahead.Load(), int64(window/2), "the peer was allowed to send ahead of the application")
}

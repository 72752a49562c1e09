package amq_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/faultproxy"
	"github.com/amqgo/amq/internal/testsupport"
)

// abortBodySize is far beyond what the socket buffers, the proxy and the
// writer's backlog hold together: a send of it cannot finish while the
// proxy is paused.
const abortBodySize = 32 << 20

// TestSendAbortedMidMessage: a send whose context ends after the first
// frames of its message went out returns the context's error and aborts
// the delivery (AMQP 1.0 §2.6.14): the broker never enqueues the message,
// the link goes on, and a reconnect does not send it again. The proxy's
// pause stalls the send mid-message deterministically: the client's
// writes back up once the socket buffers are full.
func TestSendAbortedMidMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *amq.SenderOptions
		send func(ctx context.Context, s *amq.Sender, m *amq.Message) error
	}{
		{"Send", nil, func(ctx context.Context, s *amq.Sender, m *amq.Message) error { return s.Send(ctx, m) }},
		{"SendAsync", nil, func(ctx context.Context, s *amq.Sender, m *amq.Message) error {
			_, err := s.SendAsync(ctx, m)
			return err
		}},
		{"presettled", &amq.SenderOptions{Presettled: true}, func(ctx context.Context, s *amq.Sender, m *amq.Message) error { return s.Send(ctx, m) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const address = "abort"
			b := amqtest.NewBroker(t)
			p := faultproxy.Start(t, strings.TrimPrefix(b.URL(), "amqp://"))
			w := testsupport.NewTransferWatch()
			ctx := testCtx(t)
			c := dial(t, p.URL(), &amq.ConnectOptions{Reconnect: fastReconnect(), TraceFrames: true, TraceOutput: w})
			s, err := c.NewSender(ctx, address, tc.opts)
			require.NoError(t, err)

			p.Pause(true)
			sendCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				errc <- tc.send(sendCtx, s, amq.NewMessage(make([]byte, abortBodySize)))
			}()
			select {
			case <-w.FirstFrame():
			case err := <-errc:
				t.Fatalf("the send ended before its first frame was written: %v", err)
			case <-ctx.Done():
				t.Fatal("the first frame was never written")
			}
			cancel()
			select {
			case err = <-errc:
			case <-ctx.Done():
				p.Pause(false)
				t.Fatal("the send did not return once its context ended")
			}
			require.ErrorIs(t, err, context.Canceled)
			p.Pause(false)

			// The link goes on; the abort was written before this message.
			require.NoError(t, s.Send(ctx, amq.NewMessage("after the abort")))
			if tc.opts == nil {
				// Accepted, so enqueued: alone.
				assert.Equal(t, 1, b.QueueDepth(address), "the aborted message was enqueued")
			}
			// Each receiver is closed after accepting, so that the broker
			// has the accept before the connection is cut.
			receive := func(want string) {
				t.Helper()
				r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{ManualAccept: true})
				require.NoError(t, err)
				d, err := r.Receive(ctx)
				require.NoError(t, err)
				require.Equal(t, want, d.Message.Body, "the aborted message, or a copy of it, was delivered")
				require.NoError(t, d.Accept(ctx))
				require.NoError(t, r.Close(ctx))
			}
			receive("after the abort")
			// Written before that message, so traced by now.
			assert.Equal(t, 1, w.Aborted(), "one transfer with aborted=true")

			if tc.opts != nil {
				// Pre-settled messages are never sent again, and one
				// sent while the cut goes unnoticed is lost (at-most-once).
				return
			}
			// A reconnect does not send the aborted message again.
			require.Positive(t, p.CutAll())
			require.NoError(t, s.Send(ctx, amq.NewMessage("after the reconnect")))
			receive("after the reconnect")
			assert.Zero(t, b.QueueDepth(address), "more messages than sent")
		})
	}
}

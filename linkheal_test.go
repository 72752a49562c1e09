package amq_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// A peer that forces links closed (amqp:link:detach-forced) while the
// connection stays up: the sender re-attaches by itself, resends what was
// unsettled, and nothing is lost.
func TestSenderReattachesAfterForcedDetach(t *testing.T) {
	var (
		mu       sync.Mutex
		got      = map[int64]bool{}
		attaches atomic.Int32
	)
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			attaches.Add(1)
			return nil
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			n := 0
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				m, err := d.Message()
				if err != nil {
					return
				}
				n++
				if n == 50 && attaches.Load() < 4 {
					// Force the link closed without settling this one.
					_ = r.Close(&codec.Error{Condition: codec.ErrCondDetachForced, Description: "moving the queue"})
					return
				}
				mu.Lock()
				got[m.Value.(int64)] = true
				mu.Unlock()
				_ = d.Accept()
			}
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	rec := newStateRecorder()
	c := dial(t, srv.URL(), &amq.ConnectOptions{OnStateChange: rec.record})
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "moving", nil)
	require.NoError(t, err)
	const n = 300
	for i := range n {
		require.NoError(t, s.Send(ctx, amq.NewMessage(int64(i))), "message %d", i)
	}
	mu.Lock()
	assert.Len(t, got, n, "every message arrived")
	mu.Unlock()
	assert.GreaterOrEqual(t, attaches.Load(), int32(4), "the link was re-attached after each forced detach")
	select {
	case ev := <-rec.ch:
		assert.Equal(t, amq.StateConnected, ev.State, "the connection itself never dropped")
	default:
	}
	assert.NoError(t, c.Err())
}

// lossyPeer starts a server that takes away the first losses links
// attached to it with lose (a link the client sends on after its first
// transfer, which stays unsettled; one it receives on at once) and serves
// the later ones: it accepts and records every message sent to it, and
// sends "kept" to a receiver. It returns a client connected to it, the
// bodies it accepted, and the times of the attaches.
func lossyPeer(t *testing.T, losses int32, lose func(*server.Link) error) (c *amq.Client, got func() map[any]bool, attaches func() []time.Time) {
	var (
		mu       sync.Mutex
		bodies   = map[any]bool{}
		attached []time.Time
	)
	lost := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return int32(len(attached)) <= losses
	}
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			mu.Lock()
			attached = append(attached, time.Now())
			mu.Unlock()
			return nil
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			losing := lost()
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				if losing {
					_ = lose(r.Link())
					return
				}
				m, err := d.Message()
				if err != nil {
					return
				}
				mu.Lock()
				bodies[m.Value] = true
				mu.Unlock()
				_ = d.Accept()
			}
		},
		ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
			if lost() {
				_ = lose(s.Link())
				return
			}
			if _, err := s.Send(ctx, &codec.Message{Value: "kept", HasValue: true}, false); err == nil {
				<-ctx.Done()
			}
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return dial(t, srv.URL(), nil), func() map[any]bool {
			mu.Lock()
			defer mu.Unlock()
			return maps.Clone(bodies)
		}, func() []time.Time {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(attached)
		}
}

// The ways a peer takes a link away while the connection stays up.
var linkLosses = []struct {
	name   string
	losses int32
	lose   func(*server.Link) error
}{
	// Forced closed again as soon as it is re-attached, several times in
	// a row: every loss starts a new re-attach, however soon it follows the
	// previous one.
	{"forced closed in quick succession", 3, func(l *server.Link) error {
		return l.Close(&codec.Error{Condition: codec.ErrCondDetachForced})
	}},
	// Detached without closing (closed=false: the terminus lives on), which
	// go-amqp alone answers with amqp:not-implemented and then hangs on.
	{"detached without closing", 1, func(l *server.Link) error { return l.Detach(nil) }},
}

// A sender whose link the peer takes away re-attaches, resends what was in
// flight, and every message arrives.
func TestSenderHealsLostLinks(t *testing.T) {
	for _, tc := range linkLosses {
		t.Run(tc.name, func(t *testing.T) {
			c, got, attaches := lossyPeer(t, tc.losses, tc.lose)
			ctx := testCtx(t)
			s, err := c.NewSender(ctx, "lossy", nil)
			require.NoError(t, err)
			const n = 30
			for i := range n {
				require.NoError(t, s.Send(ctx, amq.NewMessage(int64(i))), "message %d", i)
			}
			assert.Len(t, got(), n, "every message arrived")
			assert.GreaterOrEqual(t, len(attaches()), int(tc.losses)+1, "a re-attach per loss")
			assert.NoError(t, c.Err())
		})
	}
}

// A receiver whose link the peer takes away re-attaches and gets the
// message the peer sends on the link it keeps. Losses right after a
// re-attach are paced by one back-off schedule (0, then 0.1 s, 0.2 s, ...
// each ±50%), not retried in a tight loop: from the third attach on, each
// waited at least half of 0.1 s, 0.2 s, ...
func TestReceiverHealsLostLinks(t *testing.T) {
	for _, tc := range linkLosses {
		t.Run(tc.name, func(t *testing.T) {
			c, _, attaches := lossyPeer(t, tc.losses, tc.lose)
			ctx := testCtx(t)
			r, err := c.NewReceiver(ctx, "lossy", nil)
			require.NoError(t, err)
			d, err := r.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, "kept", d.Message.Body)
			assert.NoError(t, c.Err())

			times := attaches()
			assert.GreaterOrEqual(t, len(times), int(tc.losses)+1, "a re-attach per loss")
			min := 50 * time.Millisecond
			for i := 2; i < len(times); i++ {
				assert.GreaterOrEqual(t, times[i].Sub(times[i-1]), min, "gap before attach %d", i+1)
				min *= 2
			}
		})
	}
}

// TestLinkHealFollowsTheReconnectPolicy: a link the peer takes away is
// re-attached on the client's reconnect policy; with NoReconnect it fails
// with the peer's error instead, and the connection carries on.
func TestLinkHealFollowsTheReconnectPolicy(t *testing.T) {
	var attaches atomic.Int32
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			attaches.Add(1)
			return nil
		},
		ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
			_ = s.Close(&codec.Error{Condition: codec.ErrCondDetachForced, Description: "moving the queue"})
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), &amq.ConnectOptions{Reconnect: amq.NoReconnect})
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "moving", nil)
	require.NoError(t, err)
	_, err = r.Receive(ctx)
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "amqp:link:detach-forced", ae.Condition)
	assert.Equal(t, int32(1), attaches.Load(), "NoReconnect: no re-attach")
	assert.NoError(t, c.Err(), "the connection is fine")
}

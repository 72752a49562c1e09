package amq_test

import (
	"context"
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

// A link forced closed again as soon as it is re-attached, several times
// in a row: every loss starts a new re-attach, however soon it follows the
// previous one, so the sends complete once the peer stops.
func TestSenderHealsLinksLostInQuickSuccession(t *testing.T) {
	const forced = 3
	var (
		attaches atomic.Int32
		mu       sync.Mutex
		got      = map[int64]bool{}
	)
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			attaches.Add(1)
			return nil
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			lose := attaches.Load() <= forced
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				if lose {
					// Take the first transfer on the link and force the
					// link closed without settling it.
					_ = r.Close(&codec.Error{Condition: codec.ErrCondDetachForced})
					return
				}
				m, err := d.Message()
				if err != nil {
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

	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "flapping", nil)
	require.NoError(t, err)
	const n = 30
	for i := range n {
		require.NoError(t, s.Send(ctx, amq.NewMessage(int64(i))), "message %d", i)
	}
	mu.Lock()
	assert.Len(t, got, n, "every message arrived")
	mu.Unlock()
	assert.Greater(t, attaches.Load(), int32(forced), "the link was re-attached after each forced detach")
	assert.NoError(t, c.Err())
}

// The receiving side of the same: a link the peer forces closed right after
// each re-attach is re-attached again, and the receiver gets the message
// the peer finally keeps the link open for.
func TestReceiverHealsLinksLostInQuickSuccession(t *testing.T) {
	const forced = 3
	var (
		attaches atomic.Int32
		mu       sync.Mutex
		times    []time.Time
	)
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			attaches.Add(1)
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			return nil
		},
		ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
			n := attaches.Load()
			if n <= forced {
				_ = s.Close(&codec.Error{Condition: codec.ErrCondDetachForced})
				return
			}
			if _, err := s.Send(ctx, &codec.Message{Value: "kept", HasValue: true}, false); err != nil {
				return
			}
			<-ctx.Done()
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "flapping", nil)
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "kept", d.Message.Body)
	assert.Greater(t, attaches.Load(), int32(forced), "the link was re-attached after each forced detach")
	assert.NoError(t, c.Err())

	// Losses right after a re-attach are paced by one back-off schedule
	// (0, then 0.1 s, 0.2 s, 0.4 s ... each ±50%, an attempt the peer
	// refuses taking a step too), not retried in a tight loop: from the
	// third attach on, each waited at least half of 0.1 s, 0.2 s, ...
	mu.Lock()
	defer mu.Unlock()
	min := 50 * time.Millisecond
	for i := 2; i < len(times); i++ {
		assert.GreaterOrEqual(t, times[i].Sub(times[i-1]), min, "gap before attach %d", i+1)
		min *= 2
	}
}

// A peer that detaches a link without closing it (closed=false: the
// terminus lives on) gets its link back: the sender re-attaches and the
// send in flight completes on the new link, where go-amqp alone would
// leave it waiting for an outcome that never comes.
func TestSenderReattachesAfterNonClosingDetach(t *testing.T) {
	var attaches atomic.Int32
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			attaches.Add(1)
			return nil
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			first := attaches.Load() == 1
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				if first {
					_ = r.Detach(nil)
					<-ctx.Done()
					return
				}
				_ = d.Accept()
			}
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "suspended", nil)
	require.NoError(t, err)
	require.NoError(t, s.Send(ctx, amq.NewMessage("in flight")))
	require.NoError(t, s.Send(ctx, amq.NewMessage("after")))
	assert.Equal(t, int32(2), attaches.Load(), "one re-attach")
	assert.NoError(t, c.Err())
}

// The receiving side: a receiver whose link the peer detaches without
// closing re-attaches and gets the next message.
func TestReceiverReattachesAfterNonClosingDetach(t *testing.T) {
	var attaches atomic.Int32
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			attaches.Add(1)
			return nil
		},
		ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
			if attaches.Load() == 1 {
				_ = s.Detach(nil)
				<-ctx.Done()
				return
			}
			if _, err := s.Send(ctx, &codec.Message{Value: "on the new link", HasValue: true}, false); err != nil {
				return
			}
			<-ctx.Done()
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "suspended", nil)
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "on the new link", d.Message.Body)
	assert.Equal(t, int32(2), attaches.Load(), "one re-attach")
	assert.NoError(t, c.Err())
}

package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// attachDrainReceiver attaches a receiver with an automatic credit window
// of window, as the amq client does (credit granted again only once used).
func attachDrainReceiver(t *testing.T, srv *server.Server, window uint32) *engine.Receiver {
	t.Helper()
	ctx := testCtx(t)
	s, err := engine.NewSession(ctx, dial(t, srv, clientConfig()))
	require.NoError(t, err)
	r, err := s.AttachReceiver(ctx, &engine.AttachOptions{
		Name: "drain", Source: &codec.Source{Address: "q"}, Target: &codec.Target{},
		CreditWindow: window, CreditAfterUse: true,
	})
	require.NoError(t, err)
	return r
}

// endedCtx returns a context that has already ended: a Receive with it
// returns only what has arrived already.
func endedCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func drainLink(ctx context.Context, r *engine.Receiver) error {
	return engine.Drain(ctx, r, nil, nil)
}

func receiveValue(t *testing.T, ctx context.Context, r *engine.Receiver) any {
	t.Helper()
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	m, err := d.Message()
	require.NoError(t, err)
	require.NoError(t, d.Accept())
	return m.Value
}

// waitDraining waits until the peer has asked s to drain.
func waitDraining(ctx context.Context, s *server.Sender) bool {
	for !s.Draining() {
		select {
		case <-s.Flowed():
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// The peer has three messages and a window of ten: it sends them, and
// answers the drain by giving up the other seven credits. Drain returns
// with the three already arrived; the window resumes once the
// application receives again, not before.
func TestDrainReturnsWhenThePeerHasSentAll(t *testing.T) {
	const window = 10
	regranted := make(chan uint32, 1)
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		for i := range 3 {
			if s.WaitCredit(ctx) != nil {
				return
			}
			if _, err := s.Send(ctx, &codec.Message{Value: int64(i), HasValue: true}, false); err != nil {
				return
			}
		}
		if !waitDraining(ctx, s) || s.Drained() != nil {
			return
		}
		for s.Credit() == 0 {
			select {
			case <-s.Flowed():
			case <-ctx.Done():
				return
			}
		}
		regranted <- s.Credit()
		<-ctx.Done()
	}})
	r := attachDrainReceiver(t, srv, window)
	ctx := testCtx(t)

	require.NoError(t, drainLink(ctx, r))
	assert.Zero(t, r.Credit(), "the peer holds no credit after a drain")
	for i := range 3 {
		assert.Equal(t, int64(i), receiveValue(t, endedCtx(t), r), "message %d had arrived when Drain returned", i)
	}
	_, err := r.Receive(endedCtx(t))
	assert.ErrorIs(t, err, context.Canceled, "the peer had no fourth message")

	select {
	case n := <-regranted:
		// The first Receive after the drain restores the window, less
		// the two messages it still holds.
		assert.Equal(t, uint32(window-2), n, "the window resumes once the application receives again")
	case <-ctx.Done():
		t.Fatal("no credit after the drain")
	}
}

// A peer whose messages use up all the credit sends no flow (§2.6.7 asks
// for one only when credit is left to consume): the last transfer ends
// the drain. Here the peer sends nothing until it is asked to drain, and
// then exactly the window.
func TestDrainEndsWithTheTransferThatUsesTheCredit(t *testing.T) {
	const window = 10
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if !waitDraining(ctx, s) {
			return
		}
		for i := 0; s.Credit() > 0; i++ {
			if _, err := s.Send(ctx, &codec.Message{Value: int64(i), HasValue: true}, false); err != nil {
				return
			}
		}
		<-ctx.Done()
	}})
	r := attachDrainReceiver(t, srv, window)

	require.NoError(t, drainLink(testCtx(t), r))
	for i := range window {
		assert.Equal(t, int64(i), receiveValue(t, endedCtx(t), r), "message %d had arrived when Drain returned", i)
	}
}

// When the delivery that uses the last credit spans several frames, Drain
// waits for all of them if nothing else is there to receive.
func TestDrainWaitsForAWholeLastDelivery(t *testing.T) {
	big := strings.Repeat("x", 300*1024) // several 64 KiB frames
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if !waitDraining(ctx, s) {
			return
		}
		if _, err := s.Send(ctx, &codec.Message{Value: big, HasValue: true}, false); err != nil {
			return
		}
		<-ctx.Done()
	}})
	r := attachDrainReceiver(t, srv, 1)

	require.NoError(t, drainLink(testCtx(t), r))
	assert.Equal(t, big, receiveValue(t, endedCtx(t), r))
}

// With no credit held by the peer there is nothing to drain: Drain
// returns without asking. This peer answers only the first drain.
func TestDrainWithoutCreditReturnsAtOnce(t *testing.T) {
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if waitDraining(ctx, s) {
			_ = s.Drained()
		}
		<-ctx.Done()
	}})
	r := attachDrainReceiver(t, srv, 5)
	ctx := testCtx(t)
	require.NoError(t, drainLink(ctx, r))
	require.NoError(t, drainLink(ctx, r), "the credit is used up: no second drain")
}

// A peer that never answers: Drain ends with ctx's error, the drain is
// given up, and the receiver goes on receiving.
func TestDrainContextEnds(t *testing.T) {
	draining, proceed := make(chan struct{}), make(chan struct{})
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if !waitDraining(ctx, s) {
			return
		}
		close(draining)
		select {
		case <-proceed:
		case <-ctx.Done():
			return
		}
		if _, err := s.Send(ctx, &codec.Message{Value: "late", HasValue: true}, false); err != nil {
			return
		}
		<-ctx.Done()
	}})
	r := attachDrainReceiver(t, srv, 5)

	ctx, cancel := context.WithCancel(testCtx(t))
	go func() {
		<-draining
		cancel()
	}()
	err := drainLink(ctx, r)
	require.ErrorIs(t, err, context.Canceled)

	close(proceed)
	assert.Equal(t, "late", receiveValue(t, testCtx(t), r))
}

// stop ends a Drain as ctx does, with stopErr's error.
func TestDrainStops(t *testing.T) {
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		<-ctx.Done() // never answers
	}})
	r := attachDrainReceiver(t, srv, 5)
	stop := make(chan struct{})
	close(stop)
	errStop := errors.New("stopped")
	err := engine.Drain(testCtx(t), r, stop, func() error { return errStop })
	assert.ErrorIs(t, err, errStop)
}

// A link the peer detaches during the drain ends it with ErrLinkDetached.
func TestDrainLinkDetached(t *testing.T) {
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if waitDraining(ctx, s) {
			_ = s.Close(&codec.Error{Condition: codec.ErrCondResourceDeleted, Description: "gone"})
		}
		<-ctx.Done()
	}})
	r := attachDrainReceiver(t, srv, 5)
	assert.ErrorIs(t, drainLink(testCtx(t), r), engine.ErrLinkDetached)
	assert.ErrorIs(t, drainLink(testCtx(t), r), engine.ErrLinkDetached, "on a detached link")
}

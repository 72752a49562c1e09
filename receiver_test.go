package amq_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// Messages that arrived within the credit window but were never handed to
// the application go back to the peer when the receiver closes (released,
// or requeued by the detach if they were still on the way): the next
// receiver gets them all (not necessarily in order: a released message
// goes back to the head of the queue).
func TestCloseReleasesPrefetchedMessages(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	const n = 40
	s, err := c.NewSender(ctx, "prefetch", nil)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, s.Send(ctx, amq.NewMessage(fmt.Sprint(i))))
	}

	r, err := c.NewReceiver(ctx, "prefetch", &amq.ReceiverOptions{Credit: n})
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "0", d.Message.Body)
	require.NoError(t, r.Close(ctx)) // accepts "0", releases the rest

	r2, err := c.NewReceiver(ctx, "prefetch", &amq.ReceiverOptions{Credit: n})
	require.NoError(t, err)
	got := map[any]bool{}
	for range n - 1 {
		d, err := r2.Receive(ctx)
		require.NoError(t, err)
		got[d.Message.Body] = true
	}
	require.NoError(t, r2.Close(ctx))
	for i := 1; i < n; i++ {
		assert.True(t, got[fmt.Sprint(i)], "message %d came back", i)
	}
	assert.Zero(t, b.QueueDepth("prefetch"))
}

// Close settles every message that arrived but was never handed to the
// application with the released outcome, before it detaches the link, so
// the peer has them back at once whatever it does with the unsettled
// deliveries of a detached link (TestCloseReleasesPrefetchedMessages cannot
// tell: the broker requeues those too). Checked at the peer: each was
// settled released, not left unsettled when the link ended.
//
// The application starts taking messages only once the client holds all
// of them: the peer then sends one message on a second link of the same
// connection, and the client reads a connection's frames in order, so
// that message arrives after the others. The application then takes
// messages until the client tops up its window (the peer then has credit
// again, having sent everything). The client grants new credit once half
// of the window is taken (see Receiver.attach), so the application stops
// while the client still holds the rest: each accept is seen by the peer
// before the next message is taken, and the client writes a grant before
// the accept that follows it.
func TestCloseSendsReleasedBeforeDetach(t *testing.T) {
	const n = 40
	type sending struct {
		s   *server.Sender
		out []*server.OutgoingDelivery
	}
	sent := make(chan sending, 1)
	allSent := make(chan struct{})
	h := server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if s.Link().Source().Address == "marker" {
			select {
			case <-allSent:
				_, _ = s.Send(ctx, &codec.Message{Value: "after the others", HasValue: true}, true)
			case <-ctx.Done():
			}
			<-ctx.Done()
			return
		}
		out := make([]*server.OutgoingDelivery, 0, n)
		for i := range n {
			d, err := s.Send(ctx, &codec.Message{Value: int64(i), HasValue: true}, false)
			if err != nil {
				break
			}
			out = append(out, d)
		}
		sent <- sending{s, out}
		close(allSent)
		<-ctx.Done()
	}}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)

	r, err := c.NewReceiver(ctx, "prefetch", &amq.ReceiverOptions{Credit: n, ManualAccept: true})
	require.NoError(t, err)
	var peer sending
	select {
	case peer = <-sent:
	case <-ctx.Done():
		t.Fatal("the peer did not send its messages")
	}
	require.Len(t, peer.out, n)
	marker, err := c.NewReceiver(ctx, "marker", nil)
	require.NoError(t, err)
	m, err := marker.Receive(ctx)
	require.NoError(t, err)
	require.Equal(t, "after the others", m.Message.Body)

	taken := 0
	for peer.s.Credit() == 0 {
		require.Less(t, taken, n, "the client took every message without topping up its window")
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(taken), d.Message.Body)
		require.NoError(t, d.Accept(ctx))
		taken++
		for peer.s.SettledCount() < uint64(taken) {
			select {
			case <-peer.s.Settlements():
			case <-ctx.Done():
				t.Fatalf("the peer did not get the accept of message %d", taken-1)
			}
		}
	}
	require.Less(t, taken, n)
	require.NoError(t, r.Close(ctx))
	select {
	case <-peer.s.Done():
	case <-ctx.Done():
		t.Fatal("the link did not end at the peer")
	}

	var unreleased []int
	for i, d := range peer.out {
		state, finished, lost := d.Result()
		require.True(t, finished, "message %d", i)
		if i < taken {
			assert.IsType(t, &codec.Accepted{}, state, "message %d, taken and accepted", i)
			continue
		}
		if _, released := state.(*codec.Released); lost || !released {
			unreleased = append(unreleased, i)
		}
	}
	assert.Empty(t, unreleased, "messages the client held when it closed (%d-%d) but did not release before the detach", taken, n-1)
	t.Logf("%d messages taken, %d released", taken, n-taken-len(unreleased))
}

// Close ends every Receive waiting on the receiver, whatever its context:
// the one taking messages off the link and the ones waiting their turn.
func TestCloseEndsWaitingReceives(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "empty", nil)
	require.NoError(t, err)

	errs := make(chan error, 3)
	for _, rctx := range []context.Context{ctx, context.Background(), ctx} {
		go func() {
			_, err := r.Receive(rctx)
			errs <- err
		}()
	}
	require.NoError(t, r.Close(ctx))
	for range 3 {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, amq.ErrClosed)
		case <-ctx.Done():
			t.Fatal("a Receive did not return after Close")
		}
	}
}

// A Receive whose context ends takes nothing off the link: the message
// that arrives afterwards goes to the next Receive.
func TestReceiveContextEndLosesNothing(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "later", nil)
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = r.Receive(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NoError(t, r.Err(), "the receiver runs on")

	require.NoError(t, c.Send(ctx, amq.NewMessage("after").SetTo("later")))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "after", d.Message.Body)
}

// Goroutines sharing a receiver with a small window get every message
// exactly once: the window is topped up however the messages are taken.
func TestConcurrentReceivesShareTheWindow(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	const n = 300
	s, err := c.NewSender(ctx, "shared", nil)
	require.NoError(t, err)
	for i := range n {
		_, err := s.SendAsync(ctx, amq.NewMessage(fmt.Sprint(i)))
		require.NoError(t, err)
	}
	r, err := c.NewReceiver(ctx, "shared", &amq.ReceiverOptions{Credit: 3, ManualAccept: true})
	require.NoError(t, err)

	var (
		mu   sync.Mutex
		got  = map[any]int{}
		wg   sync.WaitGroup
		left = make(chan struct{}, n)
	)
	for range n {
		left <- struct{}{}
	}
	close(left)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range left {
				d, err := r.Receive(ctx)
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, d.Accept(ctx))
				mu.Lock()
				got[d.Message.Body]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, got, n)
	for body, times := range got {
		assert.Equal(t, 1, times, "message %v", body)
	}
	require.NoError(t, r.Close(ctx))
	assert.Zero(t, b.QueueDepth("shared"))
}

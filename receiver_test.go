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

package amq_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// ended returns a context that has already ended: a Receive with it
// returns a message only if one has arrived already, which is what a
// drain promises.
func ended(t *testing.T) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	t.Cleanup(cancel)
	return ctx
}

// The broker holds three messages; the receiver's window is ten. When
// Drain returns, the three have arrived and the broker holds nothing more.
func TestDrainReceivesWhatThePeerHas(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	for i := range 3 {
		require.NoError(t, c.Send(ctx, amq.NewMessage(fmt.Sprint("m", i)).SetTo("three")))
	}
	r, err := c.NewReceiver(ctx, "three", &amq.ReceiverOptions{Credit: 10})
	require.NoError(t, err)

	require.NoError(t, r.Drain(ctx))
	for i := range 3 {
		d, err := r.Receive(ended(t))
		require.NoError(t, err, "message %d had arrived when Drain returned", i)
		assert.Equal(t, fmt.Sprint("m", i), d.Message.Body)
	}
	_, err = r.Receive(ended(t))
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the broker had no fourth message")
	assert.NoError(t, r.Err())

	// The window works again: a message sent now arrives.
	require.NoError(t, c.Send(ctx, amq.NewMessage("later").SetTo("three")))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "later", d.Message.Body)
}

// With more messages than the window, a drain fetches one window's worth.
func TestDrainFetchesAWindow(t *testing.T) {
	const window, total = 10, 25
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "many", nil)
	require.NoError(t, err)
	for i := range total {
		require.NoError(t, s.Send(ctx, amq.NewMessage(i)))
	}
	r, err := c.NewReceiver(ctx, "many", &amq.ReceiverOptions{Credit: window})
	require.NoError(t, err)

	require.NoError(t, r.Drain(ctx))
	for i := range window {
		d, err := r.Receive(ended(t))
		require.NoError(t, err, "message %d had arrived when Drain returned", i)
		assert.EqualValues(t, i, d.Message.Body)
	}
	for i := window; i < total; i++ {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, i, d.Message.Body)
	}
}

// With nothing to send, the broker gives the credit back at once.
func TestDrainEmptyQueue(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "empty", nil)
	require.NoError(t, err)

	require.NoError(t, r.Drain(ctx))
	_, err = r.Receive(ended(t))
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, c.Send(ctx, amq.NewMessage("after").SetTo("empty")))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "after", d.Message.Body)
}

// A peer that does not answer the drain: Drain ends with ctx's error and
// the receiver carries on.
func TestDrainContextEnds(t *testing.T) {
	draining, proceed := make(chan struct{}), make(chan struct{})
	h := server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if !waitDraining(ctx, s) {
			return
		}
		close(draining)
		select {
		case <-proceed:
		case <-ctx.Done():
			return
		}
		_, _ = s.Send(ctx, &codec.Message{Value: "late", HasValue: true}, false)
		<-ctx.Done()
	}}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "silent", nil)
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = r.Drain(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NoError(t, r.Err(), "the receiver runs on")

	select {
	case <-draining:
	case <-ctx.Done():
		t.Fatal("the peer was never asked to drain")
	}
	close(proceed)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "late", d.Message.Body)
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

// When the connection drops during a drain, the receiver re-attaches with
// fresh credit and Drain drains the new link too.
func TestDrainAcrossAReconnect(t *testing.T) {
	var links atomic.Int32
	var srv *server.Server
	h := server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		first := links.Add(1) == 1
		if !waitDraining(ctx, s) {
			return
		}
		if first {
			srv.CloseConnections(server.CondConnectionForced, "restarting")
			<-ctx.Done()
			return
		}
		if _, err := s.Send(ctx, &codec.Message{Value: "fresh", HasValue: true}, false); err != nil {
			return
		}
		_ = s.Drained()
		<-ctx.Done()
	}}
	var err error
	srv, err = server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), &amq.ConnectOptions{Reconnect: amq.NewExponentialReconnect(10*time.Millisecond, 10*time.Millisecond, 0)})
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "restarting", nil)
	require.NoError(t, err)

	require.NoError(t, r.Drain(ctx))
	assert.EqualValues(t, 2, links.Load(), "drained on the re-attached link")
	d, err := r.Receive(ended(t))
	require.NoError(t, err)
	assert.Equal(t, "fresh", d.Message.Body)
}

// Drain refuses a receiver read through Deliveries, and after Close it
// returns ErrClosed.
func TestDrainRefused(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "pumped", nil)
	require.NoError(t, err)
	_ = r.Deliveries()
	assert.ErrorContains(t, r.Drain(ctx), "Deliveries")

	r2, err := c.NewReceiver(ctx, "closed", nil)
	require.NoError(t, err)
	require.NoError(t, r2.Close(ctx))
	assert.ErrorIs(t, r2.Drain(ctx), amq.ErrClosed)
}

// A peer that takes the link away in answer to the drain: Drain returns
// its error without asking the re-attached link again, and the receiver
// re-attaches and carries on.
func TestDrainPeerDetaches(t *testing.T) {
	var links atomic.Int32
	h := server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if links.Add(1) == 1 {
			if waitDraining(ctx, s) {
				_ = s.Detach(&codec.Error{Condition: codec.ErrCondDetachForced, Description: "cannot drain"})
			}
			<-ctx.Done()
			return
		}
		_, _ = s.Send(ctx, &codec.Message{Value: "again", HasValue: true}, false)
		<-ctx.Done()
	}}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "undrainable", nil)
	require.NoError(t, err)

	err = r.Drain(ctx)
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, string(codec.ErrCondDetachForced), ae.Condition)

	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "again", d.Message.Body)
	assert.EqualValues(t, 2, links.Load())
}

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// The engine in the client role, against the engine in the server role
// (package server): what the client API of the engine promises.

var connIDs atomic.Uint64

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func clientConfig() *engine.Config {
	return &engine.Config{
		ContainerID:  "engine-client",
		MaxFrameSize: 64 * 1024,
		ChannelMax:   255,
		IdleTimeout:  time.Minute,
		Handler:      server.HandlerFuncs{AttachFunc: refuse},
		Logger:       slog.New(slog.DiscardHandler),
	}
}

func refuse(context.Context, *server.Link) error {
	return &codec.Error{Condition: codec.ErrCondNotAllowed, Description: "the client takes no links"}
}

// dial opens an engine client connection to url (a bare AMQP connection:
// the server allows anonymous).
func dial(t *testing.T, srv *server.Server, cfg *engine.Config) *engine.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	c, err := engine.Dial(testCtx(t), nc, connIDs.Add(1), cfg, engine.OpenOptions{Hostname: "vhost"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = engine.CloseWait(context.Background(), c, nil) })
	return c
}

func listen(t *testing.T, h server.Handler) *server.Server {
	t.Helper()
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{AllowAnonymous: true, Handler: h})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestClientSendsAndGetsOutcomes(t *testing.T) {
	hosts := make(chan string, 1)
	srv := listen(t, server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		hosts <- r.Link().Conn().Hostname()
		for {
			d, err := r.Receive(ctx)
			if err != nil {
				return
			}
			m, err := d.Message()
			if err != nil {
				_ = d.Reject(&codec.Error{Condition: codec.ErrCondDecodeError})
				continue
			}
			if m.Value == "reject me" {
				_ = d.Reject(&codec.Error{Condition: "test:rejected", Description: "as asked"})
				continue
			}
			_ = d.Accept()
		}
	}})
	ctx := testCtx(t)
	c := dial(t, srv, clientConfig())
	s, err := engine.NewSession(ctx, c)
	require.NoError(t, err)
	snd, err := s.AttachSender(ctx, &engine.AttachOptions{Name: "s1", Source: &codec.Source{}, Target: &codec.Target{Address: "q"}})
	require.NoError(t, err)
	assert.Equal(t, "vhost", <-hosts)

	var ds []*engine.OutgoingDelivery
	for i := range 100 {
		d, err := snd.Send(ctx, &codec.Message{Value: fmt.Sprint(i), HasValue: true}, false)
		require.NoError(t, err)
		ds = append(ds, d)
	}
	for i, d := range ds {
		st, err := d.Wait(ctx)
		require.NoError(t, err, "delivery %d", i)
		assert.IsType(t, &codec.Accepted{}, st, "delivery %d", i)
	}
	d, err := snd.Send(ctx, &codec.Message{Value: "reject me", HasValue: true}, false)
	require.NoError(t, err)
	st, err := d.Wait(ctx)
	require.NoError(t, err)
	rej, ok := st.(*codec.Rejected)
	require.True(t, ok, "outcome %T", st)
	assert.Equal(t, codec.Symbol("test:rejected"), rej.Error.Condition)

	require.NoError(t, engine.CloseLink(ctx, snd.Link(), true, nil))
	closed, _ := snd.Link().DetachReason()
	assert.True(t, closed)
	require.NoError(t, s.End(ctx, nil))
}

func TestClientReceivesWithinItsCreditWindow(t *testing.T) {
	const n, window = 500, 20
	maxCredit := make(chan uint32, 1)
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		var most uint32
		var ds []*server.OutgoingDelivery
		for i := range n {
			if err := s.WaitCredit(ctx); err != nil {
				return
			}
			most = max(most, s.Credit())
			d, err := s.Send(ctx, &codec.Message{Value: int64(i), HasValue: true}, false)
			if err != nil {
				return
			}
			ds = append(ds, d)
		}
		maxCredit <- most
		for _, d := range ds {
			if st, err := d.Wait(ctx); err != nil || st == nil {
				return
			}
		}
		<-ctx.Done()
	}})
	ctx := testCtx(t)
	c := dial(t, srv, clientConfig())
	s, err := engine.NewSession(ctx, c)
	require.NoError(t, err)
	r, err := s.AttachReceiver(ctx, &engine.AttachOptions{Name: "r1", Source: &codec.Source{Address: "q"}, Target: &codec.Target{}, CreditWindow: window})
	require.NoError(t, err)
	for i := range n {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		m, err := d.Message()
		require.NoError(t, err)
		require.Equal(t, int64(i), m.Value)
		require.NoError(t, d.Accept())
	}
	assert.LessOrEqual(t, <-maxCredit, uint32(window), "the peer never held more credit than the window")
}

func TestClientAttachRefused(t *testing.T) {
	srv := listen(t, server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		return &codec.Error{Condition: codec.ErrCondNotFound, Description: "no such node " + l.Address()}
	}})
	ctx := testCtx(t)
	c := dial(t, srv, clientConfig())
	s, err := engine.NewSession(ctx, c)
	require.NoError(t, err)
	_, err = s.AttachSender(ctx, &engine.AttachOptions{Name: "s1", Source: &codec.Source{}, Target: &codec.Target{Address: "missing"}})
	require.ErrorIs(t, err, engine.ErrRefused)
	var ce *codec.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, codec.ErrCondNotFound, ce.Condition)
	assert.Contains(t, ce.Description, "missing")

	// The session carries on: the refusal was the link's alone.
	_, err = s.AttachReceiver(ctx, &engine.AttachOptions{Name: "r1", Source: &codec.Source{Address: "missing"}, Target: &codec.Target{}})
	require.ErrorIs(t, err, engine.ErrRefused)
}

func TestClientPeerDetachAndEnd(t *testing.T) {
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		_ = s.Detach(&codec.Error{Condition: codec.ErrCondDetachForced, Description: "go away"})
	}})
	ctx := testCtx(t)
	c := dial(t, srv, clientConfig())
	s, err := engine.NewSession(ctx, c)
	require.NoError(t, err)
	r, err := s.AttachReceiver(ctx, &engine.AttachOptions{Name: "r1", Source: &codec.Source{Address: "q"}, Target: &codec.Target{}, CreditWindow: 10})
	require.NoError(t, err)
	_, err = r.Receive(ctx)
	require.ErrorIs(t, err, engine.ErrLinkDetached)
	closed, e := r.Link().DetachReason()
	assert.False(t, closed)
	require.NotNil(t, e)
	assert.Equal(t, codec.ErrCondDetachForced, e.Condition)
	require.NoError(t, s.End(ctx, nil))
	select {
	case <-s.Ended():
	default:
		t.Fatal("End returned before the session ended")
	}
}

// TestClientOpenRefused: a peer that closes instead of opening gives its
// reason, condition and description.
func TestClientOpenRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 8)
		if _, err := nc.Read(buf); err != nil {
			return
		}
		b := []byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0}
		b, _ = codec.AppendFrame(b, codec.Frame{Type: codec.FrameAMQP, Body: &codec.Close{Error: &codec.Error{Condition: codec.ErrCondUnauthorizedAccess, Description: "who are you"}}})
		_, _ = nc.Write(b)
		_, _ = nc.Read(make([]byte, 1024))
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	_, err = engine.Dial(testCtx(t), nc, 1, clientConfig(), engine.OpenOptions{})
	var oe *engine.OpenError
	require.ErrorAs(t, err, &oe)
	var ce *codec.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, codec.ErrCondUnauthorizedAccess, ce.Condition)
	assert.Equal(t, "who are you", ce.Description)
}

// TestClientConnectionEnds: the peer's close ends waiting calls with the
// reason, and the connection reports it.
func TestClientConnectionEnds(t *testing.T) {
	srv := listen(t, server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) { <-ctx.Done() }})
	ctx := testCtx(t)
	c := dial(t, srv, clientConfig())
	s, err := engine.NewSession(ctx, c)
	require.NoError(t, err)
	r, err := s.AttachReceiver(ctx, &engine.AttachOptions{Name: "r1", Source: &codec.Source{Address: "q"}, Target: &codec.Target{}, CreditWindow: 10})
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Receive(ctx)
		errc <- err
	}()
	srv.CloseConnections(codec.ErrCondConnectionForced, "maintenance")
	select {
	case err := <-errc:
		require.ErrorIs(t, err, engine.ErrLinkDetached)
	case <-ctx.Done():
		t.Fatal("Receive did not return when the connection closed")
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the connection did not end")
	}
	var ce *codec.Error
	require.True(t, errors.As(c.Err(), &ce), "Err() = %v", c.Err())
	assert.Equal(t, codec.ErrCondConnectionForced, ce.Condition)
}

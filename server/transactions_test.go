package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// attachCoordinator attaches a link to srv's transaction coordinator
// (AMQP 1.0 §4.2) with the engine's client role.
func attachCoordinator(t *testing.T, srv *Server) error {
	t.Helper()
	ctx := testCtx(t)
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &engine.Config{
		ContainerID:  "txn-client",
		MaxFrameSize: 64 * 1024,
		ChannelMax:   255,
		IdleTimeout:  time.Minute,
		Handler:      HandlerFuncs{},
		Logger:       slog.New(slog.DiscardHandler),
	}
	c, err := engine.Dial(ctx, nc, 1, cfg, engine.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.CloseWait(context.Background(), c, nil) })
	s, err := engine.NewSession(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AttachSender(ctx, &engine.AttachOptions{
		Name:        "coordinator",
		Source:      &codec.Source{},
		Coordinator: &codec.Coordinator{Capabilities: []codec.Symbol{codec.CapLocalTransactions}},
	})
	return err
}

// TestTransactionsOption: without Options.Transactions a coordinator link
// is refused with amqp:not-implemented and the handler never sees it;
// with it, the handler's Attach decides.
func TestTransactionsOption(t *testing.T) {
	seen := make(chan *Link, 1)
	h := HandlerFuncs{AttachFunc: func(_ context.Context, l *Link) error {
		seen <- l
		return nil
	}}

	srv := startServer(t, &Options{AllowAnonymous: true, Handler: h})
	err := attachCoordinator(t, srv)
	var ce *codec.Error
	if !errors.Is(err, engine.ErrRefused) || !errors.As(err, &ce) || ce.Condition != codec.ErrCondNotImplemented {
		t.Fatalf("attach without Transactions: %v, want refused with amqp:not-implemented", err)
	}
	select {
	case <-seen:
		t.Fatal("the handler saw a coordinator link without Transactions")
	default:
	}

	srv = startServer(t, &Options{AllowAnonymous: true, Handler: h, Transactions: true})
	if err := attachCoordinator(t, srv); err != nil {
		t.Fatalf("attach with Transactions: %v", err)
	}
	l := <-seen
	if engine.LinkCoordinator(l) == nil || l.Target() != nil || l.Role() != RoleReceiver {
		t.Fatalf("handler saw coordinator %v, target %v, role %v; want a coordinator, no target, receiver",
			engine.LinkCoordinator(l), l.Target(), l.Role())
	}
}

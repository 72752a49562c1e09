package server

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	amqp "github.com/Azure/go-amqp"
)

// tearDown is a handler's end after its link ended: it gives the reader
// goroutine every chance to answer the peer first, as a slow teardown
// would, then counts itself done.
func tearDown(ctx context.Context, done *atomic.Int32) {
	<-ctx.Done()
	for range 100 {
		runtime.Gosched()
	}
	done.Add(1)
}

// TestPeerDetachWaitsForHandler: the answer to a peer's detach goes out
// once the link's Serve function has returned, so a client whose Close
// returned knows the server let go of the link. A broker relies on it: a
// client that closes a durable subscription and attaches the same name
// again must find the old one gone. The handlers here record, after their
// context ended, that they finished tearing down.
func TestPeerDetachWaitsForHandler(t *testing.T) {
	var senderDone, receiverDone atomic.Int32
	h := HandlerFuncs{
		ServeSenderFunc:   func(ctx context.Context, _ *Sender) { tearDown(ctx, &senderDone) },
		ServeReceiverFunc: func(ctx context.Context, _ *Receiver) { tearDown(ctx, &receiverDone) },
	}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	ctx := testCtx(t)
	s := newSession(t, dial(t, srv.URL(), nil))
	for i := range 20 {
		rcv, err := s.NewReceiver(ctx, "q", &amqp.ReceiverOptions{Name: "sub"})
		if err != nil {
			t.Fatal(err)
		}
		if err := rcv.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := senderDone.Load(); got != int32(i+1) {
			t.Fatalf("round %d: the detach was answered before ServeSender returned (%d of %d returned)", i, got, i+1)
		}
		snd, err := s.NewSender(ctx, "q", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := snd.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := receiverDone.Load(); got != int32(i+1) {
			t.Fatalf("round %d: the detach was answered before ServeReceiver returned (%d of %d returned)", i, got, i+1)
		}
	}
}

// TestPeerEndWaitsForSenders: ending a session is answered once the
// ServeSender of each of its links has returned too, for the same reason.
func TestPeerEndWaitsForSenders(t *testing.T) {
	var done atomic.Int32
	h := HandlerFuncs{ServeSenderFunc: func(ctx context.Context, _ *Sender) { tearDown(ctx, &done) }}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	for i := range 20 {
		s := newSession(t, c)
		if _, err := s.NewReceiver(ctx, "q", &amqp.ReceiverOptions{Name: "sub"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := done.Load(); got != int32(i+1) {
			t.Fatalf("round %d: the end was answered before ServeSender returned (%d of %d returned)", i, got, i+1)
		}
	}
}

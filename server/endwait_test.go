package server

import (
	"context"
	"sync/atomic"
	"testing"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/engine"
)

// TestPeerEndWaitsForReceivers: the answer to a peer's end comes after the
// ServeReceiver of the session's links returned, so that a client whose
// session end is answered knows every pre-settled message it sent was
// processed. The handler here starts consuming only once its link has
// ended with the session.
func TestPeerEndWaitsForReceivers(t *testing.T) {
	const n = 50 // within the default credit window: the handler reads nothing before the end
	var processed atomic.Int32
	var answeredEarly atomic.Bool
	h := HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *Receiver) {
		<-r.Done() // the peer's end has been read
		for {
			if _, err := r.Receive(context.Background()); err != nil {
				break
			}
			processed.Add(1)
		}
		// Our end must not have gone out yet: the session is still known.
		answeredEarly.Store(!engine.SessionOpen(r.Link()))
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	snd, err := s.NewSender(ctx, "q", &amqp.SenderOptions{SettlementMode: amqp.SenderSettleModeSettled.Ptr()})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := snd.Send(ctx, amqp.NewMessage([]byte("m")), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if answeredEarly.Load() {
		t.Fatal("the peer's end was answered while the handler was still processing")
	}
	if got := processed.Load(); got != n {
		t.Fatalf("session end answered after %d of %d messages were processed", got, n)
	}
}

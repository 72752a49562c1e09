//go:build integration

package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/faultproxy"
	"github.com/amqgo/amq/internal/testsupport"
)

// TestSendAbortMidMessage: a Send whose context ends after the first
// frames of a 32 MiB message went out (the proxy is paused, so the
// client's writes back up mid-message) returns the context's error and
// aborts the delivery (AMQP 1.0 §2.6.14). The broker drops the partial
// message — the next message sent on the link is the first one a receiver
// gets — and the link goes on.
func TestSendAbortMidMessage(t *testing.T) {
	const size = 32 << 20 // far beyond the socket buffers and the client's write backlog
	for _, name := range []string{"artemis", "embedded"} {
		t.Run(name, func(t *testing.T) {
			p := getPeer(t, name)
			ctx := testCtx(t, 2*time.Minute)
			queue := p.Queue(uniqueName(t))
			proxy := faultproxy.Start(t, strings.TrimPrefix(p.Addr, "amqp://"))
			w := testsupport.NewTransferWatch()
			c := amqDial(t, p, proxy.URL(), func(o *amq.ConnectOptions) {
				o.TraceFrames, o.TraceOutput = true, w
			})
			s := amqSender(t, c, queue, nil)

			proxy.Pause(true)
			sendCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- s.Send(sendCtx, amq.NewMessage(make([]byte, size))) }()
			select {
			case <-w.FirstFrame():
			case err := <-errc:
				proxy.Pause(false)
				t.Fatalf("the send ended before its first frame was written: %v", err)
			case <-ctx.Done():
				proxy.Pause(false)
				t.Fatal("the first frame was never written")
			}
			cancel()
			var err error
			select {
			case err = <-errc:
			case <-ctx.Done():
				proxy.Pause(false)
				t.Fatal("the send did not return once its context ended")
			}
			proxy.Pause(false)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("send: %v, want context.Canceled", err)
			}

			for _, body := range []string{"after the abort", "last"} {
				if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
					t.Fatalf("send %q on the link after the abort: %v", body, err)
				}
			}
			if n := w.Aborted(); n != 1 {
				t.Errorf("%d transfers with aborted=true written, want 1", n)
			}
			// The aborted message was sent before these two on the same
			// link: had the broker kept it, it would come first.
			r := amqReceiver(t, c, queue, &amq.ReceiverOptions{Credit: 1})
			for _, want := range []string{"after the abort", "last"} {
				d, err := r.Receive(ctx)
				if err != nil {
					t.Fatalf("receive %q: %v", want, err)
				}
				if b, ok := d.Message.Body.([]byte); ok && len(b) > 64 {
					t.Fatalf("the aborted message (%d bytes) was delivered", len(b))
				}
				if got := bodyString(t, d.Message); got != want {
					t.Fatalf("received %q, want %q", got, want)
				}
			}
		})
	}
}

package server

import (
	"testing"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// TestServerSendsHeartbeats: a peer announcing an idle-timeout gets empty
// frames without sending anything itself.
func TestServerSendsHeartbeats(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true, IdleTimeout: -1})
	r := rawDial(t, srv)
	if o := r.open(200); o.IdleTimeOut != 0 {
		t.Fatalf("server announced idle-timeout %d with IdleTimeout<0", o.IdleTimeOut)
	}
	for beats := 0; beats < 3; {
		f, err := codec.ReadFrame(r.br, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Body != nil {
			t.Fatalf("unexpected %T", f.Body)
		}
		beats++
	}
}

// TestSilentPeerClosed: nothing from the peer for IdleTimeout closes the
// connection with resource-limit-exceeded.
func TestSilentPeerClosed(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true, IdleTimeout: 150 * time.Millisecond})
	r := rawDial(t, srv)
	if o := r.open(0); o.IdleTimeOut != 75 {
		t.Fatalf("announced idle-timeout %d, want half of 150", o.IdleTimeOut)
	}
	e := r.expectClose()
	if e == nil || e.Condition != codec.ErrCondResourceLimitExceeded {
		t.Fatalf("close error %v, want resource-limit-exceeded", e)
	}
}

// TestClientHeartbeatsKeepAlive: go-amqp's heartbeats (at half the server's
// idle-timeout) keep an otherwise idle connection open.
func TestClientHeartbeatsKeepAlive(t *testing.T) {
	// Generous values: other processes may load the machine.
	srv := startServer(t, &Options{AllowAnonymous: true, IdleTimeout: time.Second})
	c := dial(t, srv.URL(), nil)
	_ = newSession(t, c)
	conns := srv.Conns()
	if len(conns) != 1 {
		t.Fatalf("%d connections", len(conns))
	}
	// Asserting an absence needs a span of time: 2.5 idle-timeouts.
	select {
	case <-conns[0].Done():
		t.Fatalf("connection closed despite heartbeats: %v", conns[0].Err())
	case <-time.After(2500 * time.Millisecond):
	}
	if _, err := c.NewSession(testCtx(t), nil); err != nil {
		t.Fatalf("connection unusable after idling: %v", err)
	}
}

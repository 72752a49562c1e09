package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// A connection holds at most MaxLinks attached links, over all its
// sessions: the next attach is refused (an attach without terminus, then
// a closing detach with amqp:resource-limit-exceeded); once a link is gone
// another may attach. A peer that ignores the refusals and attaches on
// until twice the limit are held loses the connection. Before the limit,
// one anonymous connection attached 51,200 links (102,410 goroutines).
func TestMaxLinksPerConnection(t *testing.T) {
	const max = 3
	srv := startServer(t, &Options{AllowAnonymous: true, MaxLinks: max})
	r := rawDial(t, srv)
	r.anonOpenBegin()
	r.send(1, &codec.Begin{NextOutgoingID: 0, IncomingWindow: 100, OutgoingWindow: 100}, nil) // a second session
	expect[*codec.Begin](r)
	attach := func(ch uint16, h uint32) *codec.Attach {
		t.Helper()
		r.send(ch, &codec.Attach{Name: fmt.Sprint("l", ch, h), Handle: h, Role: codec.RoleReceiver,
			Source: &codec.Source{Address: "q"}, Target: &codec.Target{}}, nil)
		return expect[*codec.Attach](r)
	}
	for i := range max {
		if a := attach(uint16(i%2), uint32(i)); a.Source == nil {
			t.Fatalf("link %d refused below the limit", i)
		}
	}
	if a := attach(1, 10); a.Source != nil {
		t.Fatal("the link beyond MaxLinks was attached")
	}
	d := expect[*codec.Detach](r)
	if !d.Closed || d.Error == nil || d.Error.Condition != codec.ErrCondResourceLimitExceeded {
		t.Fatalf("refusal detach %+v", d)
	}
	// Answer the refusal and detach one link: room for one more.
	r.send(1, &codec.Detach{Handle: 10, Closed: true}, nil)
	r.send(0, &codec.Detach{Handle: 0, Closed: true}, nil)
	expect[*codec.Detach](r)
	if a := attach(0, 20); a.Source == nil {
		t.Fatal("no room after a link detached")
	}

	// Refusals left unanswered still count, up to twice the limit.
	for h := uint32(30); h < 30+max; h++ {
		if a := attach(1, h); a.Source != nil {
			t.Fatalf("handle %d attached beyond the limit", h)
		}
		expect[*codec.Detach](r)
	}
	r.send(1, &codec.Attach{Name: "one too many", Handle: 40, Role: codec.RoleReceiver,
		Source: &codec.Source{Address: "q"}, Target: &codec.Target{}}, nil)
	if e := r.expectClose(); e == nil || e.Condition != codec.ErrCondResourceLimitExceeded {
		t.Fatalf("close error %v, want %s", e, codec.ErrCondResourceLimitExceeded)
	}
}

// The server announces DefaultMaxMessageSize on the links where it
// receives when Options leaves MaxMessageSize zero: a delivery that never
// ends is cut there rather than filling the memory.
func TestDefaultMaxMessageSizeAnnounced(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true})
	r := rawDial(t, srv)
	r.anonOpenBegin()
	r.send(0, &codec.Attach{Name: "s", Handle: 0, Role: codec.RoleSender,
		Source: &codec.Source{}, Target: &codec.Target{Address: "q"}, InitialDeliveryCount: u32(0)}, nil)
	a := expect[*codec.Attach](r)
	if a.MaxMessageSize != DefaultMaxMessageSize {
		t.Fatalf("max-message-size %d, want %d", a.MaxMessageSize, DefaultMaxMessageSize)
	}
}

// Sockets opened and left idle before their handshake cannot lock clients
// out: beyond MaxHandshakes, a new connection closes the oldest that is
// still in its handshake. (1,100 idle sockets once took every file
// descriptor of a broker for the 30 s of the handshake timeout.)
func TestMaxHandshakesEvictsTheOldest(t *testing.T) {
	const max = 3
	srv := startServer(t, &Options{AllowAnonymous: true, MaxHandshakes: max})
	idle := make([]net.Conn, max)
	for i := range idle {
		nc, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		idle[i] = nc
	}
	// Each accepted before the next: a byte written and answered proves it.
	for i, nc := range idle {
		if _, err := nc.Write(protoHeader(0)); err != nil {
			t.Fatal(err)
		}
		hdr := make([]byte, 8)
		if _, err := io.ReadFull(nc, hdr); err != nil {
			t.Fatalf("idle socket %d: %v", i, err)
		}
	}
	// A client gets in, and the oldest idle socket made room.
	c := dial(t, srv.URL(), nil)
	_ = c
	_ = idle[0].SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound, not a wait
	if _, err := idle[0].Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the oldest socket in its handshake was not closed: %v", err)
	}
	// The next in age is still held.
	if srv.NumConns() < 3 {
		t.Fatalf("%d connections, want the client and two idle sockets", srv.NumConns())
	}
}

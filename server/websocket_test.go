package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/coder/websocket"
)

func TestParseListenWebSocket(t *testing.T) {
	for _, tc := range []struct{ in, scheme, addr, path string }{
		{"amqpws://127.0.0.1:0", "amqpws", "127.0.0.1:0", ""},
		{"amqpws://127.0.0.1", "amqpws", "127.0.0.1:80", ""},
		{"amqpwss://[::1]", "amqpwss", "[::1]:443", ""},
		{"amqpws://h:9/", "amqpws", "h:9", ""},
		{"amqpwss://h:9/broker/amqp", "amqpwss", "h:9", "/broker/amqp"},
	} {
		scheme, _, addr, path, err := parseListen(tc.in)
		if err != nil || scheme != tc.scheme || addr != tc.addr || path != tc.path {
			t.Errorf("parseListen(%q) = %q %q %q, %v; want %q %q %q", tc.in, scheme, addr, path, err, tc.scheme, tc.addr, tc.path)
		}
	}
	for _, bad := range []string{"amqpws://u:p@h:1", "amqpws://h:1/x?y=1", "amqpws://h:1/#f", "amqp://h:1/path", "ws://h:1"} {
		if _, _, _, _, err := parseListen(bad); err == nil {
			t.Errorf("parseListen(%q) accepted", bad)
		}
	}
	if _, err := Listen("amqpwss://127.0.0.1:0", nil); err == nil || !strings.Contains(err.Error(), "TLSConfig") {
		t.Errorf("amqpwss without TLSConfig: %v", err)
	}
}

// wsDial opens a WebSocket to a server's amqpws URL, as a net.Conn.
func wsDial(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	u := strings.Replace(srv.URL(), "amqpws:", "http:", 1)
	wc, _, err := websocket.Dial(testCtx(t), u, &websocket.DialOptions{Subprotocols: []string{"amqp"}})
	if err != nil {
		t.Fatal(err)
	}
	if wc.Subprotocol() != "amqp" {
		t.Fatalf("subprotocol %q", wc.Subprotocol())
	}
	nc := websocket.NetConn(context.Background(), wc, websocket.MessageBinary)
	t.Cleanup(func() { nc.Close() })
	return nc
}

// Another client, Azure's go-amqp, over a WebSocket; and the limits of the
// accept loop apply to WebSocket connections as to TCP ones.
func TestWebSocketServerLimits(t *testing.T) {
	const max = 2
	srv, err := Listen("amqpws://127.0.0.1:0/amqp", &Options{AllowAnonymous: true, MaxHandshakes: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	idle := make([]net.Conn, max)
	for i := range idle {
		idle[i] = wsDial(t, srv)
		// Accepted: the header is answered, though it comes in two
		// WebSocket messages (each Write is one): the messages are one
		// stream of bytes.
		if _, err := idle[i].Write(protoHeader(0)[:3]); err != nil {
			t.Fatal(err)
		}
		if _, err := idle[i].Write(protoHeader(0)[3:]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(idle[i], make([]byte, 8)); err != nil {
			t.Fatalf("idle WebSocket %d: %v", i, err)
		}
	}
	c, err := amqp.NewConn(testCtx(t), wsDial(t, srv), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := c.NewSession(testCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(testCtx(t), "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(testCtx(t), amqp.NewMessage([]byte("hi")), nil); err != nil {
		t.Fatal(err)
	}
	// The oldest idle one made room for the client.
	_ = idle[0].SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound, not a wait
	if _, err := idle[0].Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the oldest WebSocket in its handshake was not closed: %v", err)
	}
	// The next in age is still held.
	if srv.NumConns() < 2 {
		t.Fatalf("%d connections, want the client and an idle WebSocket", srv.NumConns())
	}

	// A path other than the listener's is not found.
	resp, err := http.Get(strings.Replace(srv.URL(), "amqpws:", "http:", 1) + "x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d for another path", resp.StatusCode)
	}
}

// Sockets that never send their upgrade request are bounded as AMQP
// handshakes are: beyond MaxHandshakes the oldest is closed, so idle
// sockets cannot hold file descriptors until the header timeout and lock
// clients out.
func TestWebSocketIdleBeforeUpgradeBounded(t *testing.T) {
	const max = 2
	srv, err := Listen("amqpws://127.0.0.1:0", &Options{AllowAnonymous: true, MaxHandshakes: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	addr := strings.TrimPrefix(srv.URL(), "amqpws://")
	idle := make([]net.Conn, max+1)
	for i := range idle {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		idle[i] = c
	}
	// The third made the listener close the first.
	_ = idle[0].SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound, not a wait
	if _, err := idle[0].Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the oldest socket not yet upgraded: read %v, want EOF", err)
	}
	// A client gets through at once, evicting the next oldest.
	c, err := amqp.NewConn(testCtx(t), wsDial(t, srv), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	_ = idle[1].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle[1].Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the next oldest socket: read %v, want EOF", err)
	}
}

package wsnet

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// pair returns a Conn dialled to a test server and the server's end of
// the WebSocket, a plain coder/websocket connection playing the peer.
func pair(t *testing.T) (*Conn, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peers := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wc, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		peers <- wc
	}))
	t.Cleanup(srv.Close)
	wc, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http:", "ws:", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(wc, nil, nil)
	t.Cleanup(func() { _ = c.CloseNow() })
	select {
	case peer := <-peers:
		t.Cleanup(func() { _ = peer.CloseNow() })
		return c, peer
	case <-ctx.Done():
		t.Fatal("the server never accepted")
		return nil, nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

// A deadline that passes while a read waits ends the read with a time-out
// (the engine's idle time-out relies on it), and the connection with it.
func TestReadDeadlineInterruptsAWaitingRead(t *testing.T) {
	c, _ := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("Read = %v, want a time-out", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read outlived its deadline by 10 s")
	}
	_ = c.SetReadDeadline(time.Time{})
	if _, err := c.Read(make([]byte, 10)); err == nil {
		t.Fatal("a read after the interrupted one succeeded: the WebSocket should be closed")
	}
}

// A deadline already past fails the next read at once, without touching
// the WebSocket: moved away, reads work again, as on a TCP connection.
func TestPastReadDeadlineFailsWithoutClosing(t *testing.T) {
	c, peer := pair(t)
	_ = c.SetReadDeadline(time.Unix(1, 0))
	if _, err := c.Read(make([]byte, 10)); !isTimeout(err) {
		t.Fatalf("Read = %v, want a time-out", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := peer.Write(ctx, websocket.MessageBinary, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
}

// A timer that fires after its deadline was moved (its callback already
// running when the engine pushed the idle deadline back) must not end the
// read under way.
func TestLateTimerDoesNotFireAMovedDeadline(t *testing.T) {
	c, peer := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(time.Hour))
	if err := c.rdead.begin("read"); err != nil {
		t.Fatal(err)
	}
	c.rdead.pass() // the old timer, late
	if c.rdead.end() {
		t.Fatal("the late timer fired the moved deadline")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := peer.Write(ctx, websocket.MessageBinary, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 10)); err != nil {
		t.Fatalf("Read = %v: the WebSocket was closed", err)
	}
}

// A past write deadline fails writes with a time-out until it is moved.
func TestPastWriteDeadlineFailsWrites(t *testing.T) {
	c, peer := pair(t)
	_ = c.SetWriteDeadline(time.Unix(1, 0))
	if n, err := c.Write([]byte("x")); n != 0 || !isTimeout(err) {
		t.Fatalf("Write = %d, %v; want 0 and a time-out", n, err)
	}
	_ = c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := peer.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || string(b) != "hello" {
		t.Fatalf("the peer read %v %q, %v", typ, b, err)
	}
}

// A text message breaks the binding: the read fails and the peer is told
// why with a close status of its own.
func TestTextMessageIsRefused(t *testing.T) {
	c, peer := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peerErr := make(chan error, 1)
	go func() {
		if err := peer.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
			peerErr <- err
			return
		}
		_, _, err := peer.Read(ctx) // the close frame
		peerErr <- err
	}()
	if _, err := c.Read(make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "binary messages only") {
		t.Fatalf("Read = %v", err)
	}
	if got := websocket.CloseStatus(<-peerErr); got != websocket.StatusUnsupportedData {
		t.Fatalf("the peer saw close status %v, want %v", got, websocket.StatusUnsupportedData)
	}
}

// A normal closure by the peer reads as io.EOF, after the bytes before
// it; empty messages in between are skipped.
func TestNormalClosureReadsAsEOF(t *testing.T) {
	c, peer := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		_ = peer.Write(ctx, websocket.MessageBinary, nil)
		_ = peer.Write(ctx, websocket.MessageBinary, []byte("ab"))
		_ = peer.Write(ctx, websocket.MessageBinary, []byte("c"))
		_ = peer.Close(websocket.StatusNormalClosure, "")
	}()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "abc" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("Read after EOF = %v", err)
	}
}

// The addresses given to New are the Conn's; without them it says so.
func TestAddresses(t *testing.T) {
	c, _ := pair(t)
	if got := c.LocalAddr().String(); got != "websocket/unknown-addr" {
		t.Errorf("LocalAddr = %s", got)
	}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2}
	d := New(c.ws, local, remote)
	if d.LocalAddr() != net.Addr(local) || d.RemoteAddr() != net.Addr(remote) {
		t.Errorf("addresses %v %v", d.LocalAddr(), d.RemoteAddr())
	}
}

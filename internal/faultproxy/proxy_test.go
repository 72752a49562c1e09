package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ioTimeout bounds every blocking read or write in the tests.
const ioTimeout = 5 * time.Second

// silence is how long a read must stay silent to count as "no bytes".
const silence = 200 * time.Millisecond

// echoServer is a loopback TCP server that optionally writes a greeting on
// accept and then echoes everything back.
type echoServer struct {
	ln       net.Listener
	greeting string
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func newEchoServer(t testing.TB, greeting string) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &echoServer{ln: ln, greeting: greeting, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

func (s *echoServer) Addr() string { return s.ln.Addr().String() }

func (s *echoServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			if s.greeting != "" {
				if _, err := io.WriteString(c, s.greeting); err != nil {
					return
				}
			}
			_, _ = io.Copy(c, c)
		}()
	}
}

func (s *echoServer) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and expects it back.
func roundTrip(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
	_, err := io.WriteString(c, msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

// readN reads exactly n bytes within ioTimeout.
func readN(t testing.TB, c net.Conn, n int) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(ioTimeout)))
	got := make([]byte, n)
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	return string(got)
}

// requireSilent asserts that nothing arrives on c for silence.
func requireSilent(t testing.TB, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(silence)))
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n, "unexpected byte")
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

// requireClosed asserts that a read on c fails (EOF or reset) promptly,
// rather than timing out or returning data.
func requireClosed(t testing.TB, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(ioTimeout)))
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "connection was not closed: %v", err)
}

func waitConns(t testing.TB, p *Proxy, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return p.Conns() == n },
		ioTimeout, time.Millisecond, "want %d live conns, have %d", n, p.Conns())
}

func TestForwardBothWays(t *testing.T) {
	srv := newEchoServer(t, "hi:")
	p := Start(t, srv.Addr())

	assert.Equal(t, "amqp://"+p.Addr(), p.URL())
	host, _, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.Equal(t, srv.Addr(), p.Target())

	c := dial(t, p.Addr())
	assert.Equal(t, "hi:", readN(t, c, 3))
	roundTrip(t, c, "hello")
	waitConns(t, p, 1)
	assert.Equal(t, 1, p.Accepted())

	// A large payload in both directions at once, checked byte for byte.
	payload := make([]byte, 4<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	require.NoError(t, c.SetDeadline(time.Now().Add(4*ioTimeout)))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		werr <- err
	}()
	got := make([]byte, len(payload))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.NoError(t, <-werr)
	require.True(t, bytes.Equal(payload, got), "payload corrupted")

	// Closing the client closes the proxied connection.
	require.NoError(t, c.Close())
	waitConns(t, p, 0)
}

func TestServerCloseReachesClient(t *testing.T) {
	srv := newEchoServer(t, "x")
	p := Start(t, srv.Addr())
	c := dial(t, p.Addr())
	assert.Equal(t, "x", readN(t, c, 1))
	waitConns(t, p, 1)
	srv.Close()
	requireClosed(t, c) // the server's FIN is propagated
	// Like real TCP, the connection is half-open until the client closes too.
	require.NoError(t, c.Close())
	waitConns(t, p, 0)
}

func TestCutAll(t *testing.T) {
	srv := newEchoServer(t, "")
	p := Start(t, srv.Addr())

	c1 := dial(t, p.Addr())
	c2 := dial(t, p.Addr())
	roundTrip(t, c1, "one")
	roundTrip(t, c2, "two")
	waitConns(t, p, 2)

	assert.Equal(t, 2, p.CutAll())
	assert.Equal(t, 0, p.Conns())
	requireClosed(t, c1)
	requireClosed(t, c2)
	assert.Equal(t, 0, p.CutAll())

	c3 := dial(t, p.Addr())
	roundTrip(t, c3, "three")
	assert.Equal(t, 3, p.Accepted())
	waitConns(t, p, 1)
}

func TestBlackhole(t *testing.T) {
	srv := newEchoServer(t, "")
	p := Start(t, srv.Addr())

	old := dial(t, p.Addr())
	roundTrip(t, old, "before")
	waitConns(t, p, 1)

	p.Blackhole(true)

	// The existing connection stays open but nothing comes back.
	_, err := io.WriteString(old, "lost")
	require.NoError(t, err)
	requireSilent(t, old)

	// New connections are accepted, then silence.
	fresh := dial(t, p.Addr())
	_, err = io.WriteString(fresh, "also lost")
	require.NoError(t, err)
	requireSilent(t, fresh)
	waitConns(t, p, 2)
	assert.Equal(t, 2, p.Accepted())

	// Off: black-holed connections are cut, new ones forward again.
	p.Blackhole(false)
	requireClosed(t, old)
	requireClosed(t, fresh)
	waitConns(t, p, 0)

	c := dial(t, p.Addr())
	roundTrip(t, c, "after")
}

func TestBlackholeWithTrafficInFlight(t *testing.T) {
	// A client streaming into a server that never reads must not keep the
	// proxy blocked in Blackhole.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for c := range accepted {
			_ = c.Close()
		}
	})

	p := Start(t, ln.Addr().String())
	c := dial(t, p.Addr())
	stop := make(chan struct{})
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c.Write(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
		}
	}()
	waitConns(t, p, 1)

	done := make(chan struct{})
	go func() {
		p.Blackhole(true)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Fatal("Blackhole(true) blocked")
	}
	close(stop)
	<-wdone
	require.NoError(t, p.Close())
}

func TestRefuse(t *testing.T) {
	srv := newEchoServer(t, "")
	p := Start(t, srv.Addr())

	old := dial(t, p.Addr())
	roundTrip(t, old, "before")

	p.Refuse(true)
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
		if err != nil {
			continue // refused outright is fine too
		}
		_, _ = io.WriteString(c, "hello?")
		requireClosed(t, c)
		_ = c.Close()
	}
	require.Eventually(t, func() bool { return p.Accepted() == 4 }, ioTimeout, time.Millisecond)
	assert.Equal(t, 1, p.Conns())

	// Existing connections are unaffected.
	roundTrip(t, old, "still here")

	p.Refuse(false)
	c := dial(t, p.Addr())
	roundTrip(t, c, "back")
}

func TestDelay(t *testing.T) {
	srv := newEchoServer(t, "")
	p := Start(t, srv.Addr())
	const d = 50 * time.Millisecond
	p.Delay(d)

	c := dial(t, p.Addr())
	start := time.Now()
	roundTrip(t, c, "ping")
	// One chunk each way, so at least two delays.
	assert.GreaterOrEqual(t, time.Since(start), 2*d)

	// Many small writes: content and order preserved.
	var want bytes.Buffer
	require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
	werr := make(chan error, 1)
	go func() {
		for i := 0; i < 500; i++ {
			if _, err := c.Write([]byte{byte(i), byte(i >> 8), 0xAB}); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for i := 0; i < 500; i++ {
		want.Write([]byte{byte(i), byte(i >> 8), 0xAB})
	}
	got := make([]byte, want.Len())
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	require.NoError(t, <-werr)
	require.Equal(t, want.Bytes(), got)

	// Removing the delay keeps the connection working.
	p.Delay(0)
	roundTrip(t, c, "pong")
}

func TestSetTarget(t *testing.T) {
	a := newEchoServer(t, "A")
	b := newEchoServer(t, "B")
	p := Start(t, a.Addr())

	ca := dial(t, p.Addr())
	assert.Equal(t, "A", readN(t, ca, 1))

	p.SetTarget(b.Addr())
	assert.Equal(t, b.Addr(), p.Target())
	cb := dial(t, p.Addr())
	assert.Equal(t, "B", readN(t, cb, 1))

	// The existing connection keeps its backend.
	roundTrip(t, ca, "still A")
	roundTrip(t, cb, "now B")
}

func TestTargetDownResetsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	p := Start(t, addr)
	// The proxy resets the client when it cannot reach the target; on
	// loopback the reset may already fail the client's connect.
	c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	if err == nil {
		requireClosed(t, c)
		_ = c.Close()
	}
	waitConns(t, p, 0)
	assert.Equal(t, 1, p.Accepted())
}

func TestNewErrors(t *testing.T) {
	p, err := New("127.0.0.1:1")
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")
	_, err = net.DialTimeout("tcp", p.Addr(), ioTimeout)
	require.Error(t, err, "listener still open after Close")
}

func TestConcurrentUse(t *testing.T) {
	srv := newEchoServer(t, "")
	p := Start(t, srv.Addr())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
				if err != nil {
					continue
				}
				_ = c.SetDeadline(time.Now().Add(50 * time.Millisecond))
				_, _ = c.Write([]byte("x"))
				_, _ = c.Read(make([]byte, 1))
				_ = c.Close()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			p.CutAll()
			p.Blackhole(i%3 == 0)
			p.Refuse(i%5 == 0)
			p.Delay(time.Duration(i%2) * time.Millisecond)
			p.SetTarget(srv.Addr())
			_ = p.Conns()
			_ = p.Accepted()
		}
		p.Blackhole(false)
		p.Refuse(false)
		p.Delay(0)
	}()
	wg.Wait()
	c := dial(t, p.Addr())
	roundTrip(t, c, "ok")
}

func TestCloseLeaksNothing(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		srv := newEchoServer(t, "")
		defer srv.Close()
		p, err := New(srv.Addr())
		require.NoError(t, err)

		var clients []net.Conn
		defer func() {
			for _, c := range clients {
				_ = c.Close()
			}
		}()
		open := func() net.Conn {
			c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
			require.NoError(t, err)
			clients = append(clients, c)
			return c
		}
		roundTrip(t, open(), "plain")
		p.Delay(time.Hour) // data stuck in a delayed queue
		_, err = open().Write([]byte("delayed"))
		require.NoError(t, err)
		p.Delay(0)
		p.Blackhole(true)
		open() // held by the black hole
		waitConns(t, p, 3)

		done := make(chan error, 1)
		go func() { done <- p.Close() }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(ioTimeout):
			t.Fatal("Close did not return")
		}
		assert.Equal(t, 0, p.Conns())
		for _, c := range clients {
			requireClosed(t, c)
		}
	}()

	deadline := time.Now().Add(ioTimeout)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond) // bounded poll, not synchronisation
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("goroutines: %d after Close, baseline %d\n%s", n, base, buf)
	}
}

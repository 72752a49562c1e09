package faultproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// dialTimeout bounds how long the proxy waits to connect to the target.
	dialTimeout = 5 * time.Second
	// chunkSize is the largest chunk read from one side in a single call.
	chunkSize = 32 << 10
	// queueLen is how many chunks may be in flight per direction; it bounds
	// memory when Delay is set and provides back-pressure.
	queueLen = 64
	// acceptRetry is the pause after a transient Accept error.
	acceptRetry = 10 * time.Millisecond
)

// Proxy is a fault-injecting TCP proxy listening on 127.0.0.1. Create one
// with [New] or [Start]. All methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	delay    atomic.Int64 // time.Duration
	accepted atomic.Int64

	mu        sync.Mutex
	target    string
	refuse    bool
	blackhole bool
	closed    bool
	conns     map[*conn]struct{}
	// resume is non-nil while paused, and closed when the pause ends.
	resume chan struct{}
	// fromClient counts the bytes read from clients, for the tests.
	fromClient atomic.Int64
}

// New starts a proxy listening on 127.0.0.1 on an ephemeral port that
// forwards every accepted connection to target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		target: target,
		conns:  make(map[*conn]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Start is like [New] but fails the test immediately on error and registers
// [Proxy.Close] with t.Cleanup.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatalf("faultproxy: start proxy to %s: %v", target, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// Addr returns the proxy's listening address as host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns an AMQP URL for the proxy, "amqp://127.0.0.1:PORT".
func (p *Proxy) URL() string { return "amqp://" + p.Addr() }

// Target returns the address new connections are forwarded to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// SetTarget makes connections accepted from now on go to target (host:port).
// Existing connections keep their current backend.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// CutAll abruptly closes every live proxied connection on both sides, as a
// network failure would: sockets are closed with SO_LINGER 0, so peers see a
// reset (or EOF) at once. Connections still being dialled are cut too. New
// connections are accepted as usual afterwards. CutAll returns how many
// connections it cut.
func (p *Proxy) CutAll() int {
	n := 0
	for _, c := range p.snapshot() {
		if c.cut(true) {
			n++
		}
	}
	return n
}

// Blackhole turns the black hole on or off.
//
// While on, live connections stay open but every byte (and any FIN) read
// from either side is discarded instead of forwarded; once Blackhole(true)
// returns, no further byte reaches either peer. New connections are
// accepted and held open without dialling the target, and everything the
// client sends is discarded. Only an idle timeout or heartbeat detects this.
//
// Turning it off cuts (resets, as [Proxy.CutAll]) every connection that was
// black-holed — they never resume forwarding — and connections accepted
// afterwards are forwarded normally.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	conns := p.snapshotLocked()
	p.mu.Unlock()
	for _, c := range conns {
		if on {
			c.startBlackhole()
		} else if c.blackholed.Load() {
			c.cut(true)
		}
	}
}

// Refuse turns refusing of new connections on or off. While on, the
// listener stays bound but every new connection is accepted and immediately
// reset (SO_LINGER 0) without contacting the target — the closest loopback
// model of "broker down, host up", which the client sees as a reset or EOF
// before any byte arrives. Refused connections are counted by
// [Proxy.Accepted] but never by [Proxy.Conns]. Existing connections are
// unaffected.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Pause stops or resumes reading from the client side of every connection,
// new ones included.
//
// While on, the proxy reads nothing more from clients: what a client
// writes stays in the kernel's socket buffers, and once those are full
// its writes block, as they would against a peer that stops reading (TCP
// back-pressure). Bytes the proxy had read before the call are still
// forwarded, and traffic from the target to the client flows on. Once
// Pause(true) returns, no byte the client writes afterwards is read until
// Pause(false), which resumes forwarding with nothing lost and the order
// kept. It lets a test stall a client mid-write without a timer.
func (p *Proxy) Pause(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == (p.resume != nil) {
		return
	}
	if !on {
		close(p.resume)
		p.resume = nil
		return
	}
	p.resume = make(chan struct{})
	// Wake reads already waiting on a client: they return a timeout,
	// which the reader takes as the signal to wait for the resume.
	now := time.Now()
	for c := range p.conns {
		_ = c.client.SetReadDeadline(now)
	}
}

// paused returns the channel closed when the pause ends, or nil when not
// paused.
func (p *Proxy) paused() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resume
}

// Delay sets the latency added to every chunk forwarded in either
// direction; 0 removes it. The delay applies to chunks the proxy reads
// after the call. Chunks are pipelined, so this is added latency rather
// than a throughput limit, and byte order is preserved.
func (p *Proxy) Delay(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.delay.Store(int64(d))
}

// Conns returns the number of live proxied connections, including ones
// still dialling the target and black-holed ones.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Accepted returns the total number of connections accepted since the proxy
// started, including refused and black-holed ones. Tests use it to count
// (re)connect attempts.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// Close stops listening, cuts every connection and waits until all
// goroutines started by the proxy have returned. It is idempotent; later
// calls return nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()

	err := p.ln.Close()
	p.cancel()
	p.CutAll()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (p *Proxy) snapshot() []*conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapshotLocked()
}

func (p *Proxy) snapshotLocked() []*conn {
	out := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

func (p *Proxy) remove(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			// Transient failure (e.g. out of file descriptors): retry
			// after a short pause, unless the proxy is closing.
			t := time.NewTimer(acceptRetry)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		p.accepted.Add(1)

		p.mu.Lock()
		if p.closed || p.refuse {
			p.mu.Unlock()
			abort(nc)
			continue
		}
		c := &conn{p: p, client: nc, done: make(chan struct{})}
		c.blackholed.Store(p.blackhole)
		target := p.target
		p.conns[c] = struct{}{}
		p.mu.Unlock()

		p.wg.Add(1)
		go c.run(target)
	}
}

// abort closes nc with SO_LINGER 0 so that the peer sees a reset.
func abort(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

// conn is one proxied connection: the accepted client side and, once
// dialled, the server side.
type conn struct {
	p          *Proxy
	client     net.Conn
	done       chan struct{} // closed by cut
	blackholed atomic.Bool
	halfDone   atomic.Int32 // directions that finished with EOF

	// wmu[i] is held while writing in direction i (0: client→server,
	// 1: server→client), so startBlackhole can wait out in-flight writes.
	wmu [2]sync.Mutex

	mu     sync.Mutex
	server net.Conn
	closed bool
}

// run dials the target and starts the pumps. It holds a wg slot, so the
// pumps' wg.Add calls cannot race with Close's wg.Wait.
func (c *conn) run(target string) {
	defer c.p.wg.Done()

	if c.blackholed.Load() {
		// Accepted during a black hole: never contact the target, just
		// swallow whatever the client sends until it or we hang up.
		c.discard(c.client)
		return
	}

	ctx, cancel := context.WithTimeout(c.p.ctx, dialTimeout)
	d := net.Dialer{}
	sc, err := d.DialContext(ctx, "tcp", target)
	cancel()
	if err != nil {
		c.cut(true)
		return
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		abort(sc)
		return
	}
	c.server = sc
	c.mu.Unlock()

	up := make(chan chunk, queueLen)
	down := make(chan chunk, queueLen)
	c.p.wg.Add(4)
	go c.read(c.client, up, true)
	go c.write(sc, up, 0)
	go c.read(sc, down, false)
	go c.write(c.client, down, 1)
}

// chunk is a piece of data read from one side, due for delivery at due.
type chunk struct {
	data []byte
	due  time.Time
}

// read copies chunks from src into q until src fails. EOF closes q so the
// writer can flush and propagate the half-close; any other error cuts the
// connection. On the client side (fromClient) it stops while the proxy is
// paused.
func (c *conn) read(src net.Conn, q chan<- chunk, fromClient bool) {
	defer c.p.wg.Done()
	buf := make([]byte, chunkSize)
	for {
		if fromClient {
			if resume := c.p.paused(); resume != nil {
				select {
				case <-resume:
				case <-c.done:
					return
				}
				_ = src.SetReadDeadline(time.Time{}) // see below
				continue
			}
		}
		n, err := src.Read(buf)
		if fromClient {
			c.p.fromClient.Add(int64(n))
		}
		if n > 0 {
			ck := chunk{data: append([]byte(nil), buf[:n]...)}
			if d := time.Duration(c.p.delay.Load()); d > 0 {
				ck.due = time.Now().Add(d)
			}
			select {
			case q <- ck:
			case <-c.done:
				return
			}
		}
		if err != nil {
			if fromClient && errors.Is(err, os.ErrDeadlineExceeded) {
				// Pause cut the read short. Clearing the deadline cannot
				// lose a later Pause's: that one sets the pause before
				// the deadline, and the loop looks at the pause after
				// clearing.
				_ = src.SetReadDeadline(time.Time{})
				continue
			}
			if errors.Is(err, io.EOF) {
				close(q)
			} else {
				c.cut(true)
			}
			return
		}
	}
}

// write delivers chunks from q to dst in order, honouring each chunk's due
// time and the black hole.
func (c *conn) write(dst net.Conn, q <-chan chunk, dir int) {
	defer c.p.wg.Done()
	for {
		var ck chunk
		var ok bool
		select {
		case ck, ok = <-q:
		case <-c.done:
			return
		}
		if !ok {
			c.finishDirection(dst)
			return
		}
		if wait := time.Until(ck.due); !ck.due.IsZero() && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.done:
				t.Stop()
				return
			}
		}
		c.wmu[dir].Lock()
		if c.blackholed.Load() {
			c.wmu[dir].Unlock()
			continue // dropped
		}
		_, err := dst.Write(ck.data)
		c.wmu[dir].Unlock()
		if err != nil {
			if c.blackholed.Load() {
				// The write was interrupted by startBlackhole.
				continue
			}
			c.cut(true)
			return
		}
	}
}

// finishDirection propagates a half-close to dst (unless black-holed) and
// closes the connection once both directions have ended.
func (c *conn) finishDirection(dst net.Conn) {
	if !c.blackholed.Load() {
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	if c.halfDone.Add(1) == 2 {
		c.cut(false)
	}
}

// discard reads and drops everything from src until it fails.
func (c *conn) discard(src net.Conn) {
	buf := make([]byte, chunkSize)
	for {
		if _, err := src.Read(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Pause woke the read: a black hole swallows on.
				_ = src.SetReadDeadline(time.Time{})
				continue
			}
			c.cut(!errors.Is(err, io.EOF))
			return
		}
	}
}

// startBlackhole stops all forwarding on c. When it returns no write is in
// progress and none will start.
func (c *conn) startBlackhole() {
	c.blackholed.Store(true)
	c.mu.Lock()
	sides := []net.Conn{c.client, c.server}
	c.mu.Unlock()
	// Interrupt writes blocked on a peer that is not reading. Writers
	// treat the resulting timeout as "dropped" because the flag is set.
	now := time.Now()
	for _, s := range sides {
		if s != nil {
			_ = s.SetWriteDeadline(now)
		}
	}
	for i := range c.wmu {
		c.wmu[i].Lock()
		c.wmu[i].Unlock() //nolint:staticcheck // barrier: wait for in-flight write
	}
}

// cut closes both sides of c (with a reset if hard) and unregisters it. It
// reports whether this call did the closing.
func (c *conn) cut(hard bool) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	close(c.done)
	server := c.server
	c.mu.Unlock()

	for _, s := range []net.Conn{c.client, server} {
		if s == nil {
			continue
		}
		if hard {
			abort(s)
		} else {
			_ = s.Close()
		}
	}
	c.p.remove(c)
	return true
}

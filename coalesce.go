package amq

import (
	"net"
	"sync"
	"time"
)

// coalescingConn batches writes: Write copies the bytes into a buffer and
// returns, and a flusher goroutine writes whatever has accumulated with one
// system call. go-amqp writes every frame with its own Write; under load
// the frames written while one system call is in progress go out together
// in the next, which is what makes pipelined sending cheap. An idle
// connection pays nothing: the flusher writes as soon as data arrives.
//
// A Write that comes after a pause (writeThroughGap) goes straight to the
// socket on the caller's goroutine instead: that is the one-message-at-a-
// time pattern (a blocking Send waiting for each outcome), where there is
// nothing to coalesce and the hand-off to the flusher would only add a
// goroutine wake-up to every message.
//
// The price of coalescing is that a write error surfaces on a later Write
// (or Close) rather than on the one that caused it; go-amqp treats both
// the same way, by failing the connection.
type coalescingConn struct {
	net.Conn

	mu      sync.Mutex
	cond    *sync.Cond // signals: data buffered, buffer drained, closing
	buf     []byte     // bytes not yet handed to the flusher
	spare   []byte
	err     error // the first write error; every later Write returns it
	busy    bool  // a Write to the socket is in progress (flusher or write-through)
	last    time.Time
	closing bool
	done    chan struct{}
}

// maxCoalesce bounds the buffered bytes; a Write past it waits for the
// flusher, so a slow network slows the writer instead of growing memory.
const maxCoalesce = 1 << 20

// writeThroughGap is the pause after which a Write goes straight to the
// socket. Pipelined sends write frames a few microseconds apart; a
// blocking send loop waits a round trip (tens of microseconds at least)
// between them.
const writeThroughGap = 20 * time.Microsecond

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, done: make(chan struct{})}
	cc.cond = sync.NewCond(&cc.mu)
	go cc.flush()
	return cc
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.closing && len(c.buf) > 0 && len(c.buf)+len(p) > maxCoalesce {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.closing {
		return 0, net.ErrClosed
	}
	now := time.Now()
	idle := now.Sub(c.last) > writeThroughGap
	c.last = now
	if idle && !c.busy && len(c.buf) == 0 {
		c.busy = true
		c.mu.Unlock()
		n, err := c.Conn.Write(p)
		c.mu.Lock()
		c.busy = false
		if err != nil && c.err == nil {
			c.err = err
		}
		c.cond.Broadcast()
		return n, err
	}
	c.buf = append(c.buf, p...)
	c.cond.Broadcast()
	return len(p), nil
}

// flush is the flusher goroutine.
func (c *coalescingConn) flush() {
	defer close(c.done)
	c.mu.Lock()
	for {
		for (len(c.buf) == 0 && !c.closing) || c.busy {
			c.cond.Wait()
		}
		if len(c.buf) == 0 || c.err != nil {
			// Closing with nothing left to write (or nothing writable).
			c.mu.Unlock()
			return
		}
		out := c.buf
		c.buf, c.spare = c.spare[:0], nil
		c.busy = true
		c.mu.Unlock()

		_, err := c.Conn.Write(out)

		c.mu.Lock()
		c.busy = false
		if err != nil && c.err == nil {
			c.err = err
		}
		c.spare = out[:0]
		c.cond.Broadcast()
	}
}

// closeFlushTimeout bounds how long Close waits for buffered bytes to be
// written to a peer that does not read them.
var closeFlushTimeout = 5 * time.Second

// Close writes what is buffered (unless the connection already failed,
// or the peer does not take it within closeFlushTimeout), then closes the
// connection.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	c.closing = true
	c.cond.Broadcast()
	c.mu.Unlock()
	t := time.NewTimer(closeFlushTimeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.Conn.Close()
	case <-t.C:
		err := c.Conn.Close() // unblocks the flusher's Write
		<-c.done
		return err
	}
}

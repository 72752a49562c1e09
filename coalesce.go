package amq

import (
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// coalescingConn batches writes: Write copies the bytes into a buffer and
// returns, and a flusher goroutine writes whatever has accumulated with one
// system call. go-amqp writes every frame with its own Write; under load
// the frames written while one system call is in progress go out together
// in the next, which is what makes pipelined sending cheap. Before it
// writes, the flusher yields the processor while the buffer grows (see
// gather), so that a burst of frames goes out in one system call rather
// than the first frame alone. An idle connection pays nothing: with no
// other goroutine ready to run, the flusher writes as soon as data
// arrives.
//
// A Write that comes after a pause (writeThroughGap) goes straight to the
// socket on the caller's goroutine instead: that is the one-message-at-a-
// time pattern (a blocking Send waiting for each outcome), where there is
// nothing to coalesce and the hand-off to the flusher would only add a
// goroutine wake-up to every message.
//
// A receiver's settled disposition (the accept of a delivery, mostly) is
// lazy: the sender waits for nothing on it, so it waits in the buffer, up
// to lazyDelay, for the next frame that cannot wait, and consecutive ones
// for consecutive deliveries with the same outcome are merged into one
// disposition of the range (AMQP 1.0 section 2.7.6). A consumer accepting
// each message then costs its peer one frame and one read per batch
// instead of one per message. See lazy.go.
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

	eager     bool          // buf holds a frame that is not lazy: flush it now
	due       bool          // lazyDelay has passed since buf's first lazy frame
	armed     bool          // the lazy timer runs, for the frames in buf
	timer     *time.Timer   // sets due
	tail      lazyTail      // the lazy frame at the end of buf, to merge into
	lazyDelay time.Duration // defaultLazyDelay; tests change it

	// go-amqp sets a write deadline before every frame it writes (30
	// seconds ahead by default). The socket's is moved only when a write
	// to it is about to happen and the asked-for one is a second past it,
	// or at once when the new one is earlier: one timer update per flush
	// at most, instead of one per frame.
	deadline time.Time // the last write deadline asked for
	applied  time.Time // the socket's write deadline
}

// deadlineSlack is how much earlier than asked the socket's write deadline
// may be.
const deadlineSlack = time.Second

// SetWriteDeadline records t; see coalescingConn.deadline.
func (c *coalescingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if !t.IsZero() && (c.applied.IsZero() || t.Before(c.applied)) {
		// Earlier: it must hold for a write that may be in progress.
		c.applied = t
		return c.Conn.SetWriteDeadline(t)
	}
	return nil
}

// SetDeadline sets the read deadline on the socket and records the write
// deadline.
func (c *coalescingConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// applyDeadlineLocked moves the socket's write deadline before a write to
// it, if it lags the asked-for one by more than deadlineSlack (or the
// asked-for one is none).
func (c *coalescingConn) applyDeadlineLocked() {
	d := c.deadline
	if d.Equal(c.applied) || (!d.IsZero() && d.Sub(c.applied) < deadlineSlack) {
		return
	}
	if c.Conn.SetWriteDeadline(d) == nil {
		c.applied = d
	}
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
	cc := &coalescingConn{Conn: c, done: make(chan struct{}), lazyDelay: defaultLazyDelay}
	cc.cond = sync.NewCond(&cc.mu)
	cc.timer = time.AfterFunc(time.Hour, cc.lazyDue)
	cc.timer.Stop()
	go cc.flush()
	return cc
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	lazy, isLazy := codec.ParseSettledDisposition(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.closing && len(c.buf) > 0 && len(c.buf)+len(p) > maxCoalesce {
		c.eager = true // lazy frames too: make room now
		c.cond.Broadcast()
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.closing {
		return 0, net.ErrClosed
	}
	if isLazy {
		c.addLazyLocked(p, lazy)
		return len(p), nil
	}
	c.tail.clear()
	now := time.Now()
	idle := now.Sub(c.last) > writeThroughGap
	c.last = now
	if idle && !c.busy && !c.eager {
		return c.writeThroughLocked(p)
	}
	c.buf = append(c.buf, p...)
	c.eager = true
	c.cond.Broadcast()
	return len(p), nil
}

// writeThroughLocked writes p to the socket on the caller's goroutine,
// after the lazy frames waiting in buf.
func (c *coalescingConn) writeThroughLocked(p []byte) (int, error) {
	out := p
	if len(c.buf) > 0 {
		out = append(c.takeLocked(), p...)
	}
	err := c.writeLocked(out, len(out) > len(p))
	// Wake the flusher only if it can now act: waking it after every
	// write-through would cost a blocking send a goroutine wake-up per
	// message. (A Write waiting for room has set eager.)
	if c.closing || err != nil || (len(c.buf) > 0 && (c.eager || c.due)) {
		c.cond.Broadcast()
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeLocked writes out to the socket with mu released and busy set,
// records the first write error, and keeps out as the next spare buffer
// when it is one of ours (reuse).
func (c *coalescingConn) writeLocked(out []byte, reuse bool) error {
	c.busy = true
	c.applyDeadlineLocked()
	c.mu.Unlock()
	_, err := c.Conn.Write(out)
	c.mu.Lock()
	c.busy = false
	if reuse {
		c.spare = out[:0]
	}
	if err != nil && c.err == nil {
		c.err = err
	}
	return err
}

// takeLocked hands buf over for writing; spare becomes the new buf.
func (c *coalescingConn) takeLocked() []byte {
	out := c.buf
	c.buf, c.spare = c.spare[:0], nil
	c.eager, c.due, c.armed = false, false, false
	c.tail.clear()
	return out
}

// flush is the flusher goroutine.
func (c *coalescingConn) flush() {
	defer close(c.done)
	c.mu.Lock()
	for {
		for ((len(c.buf) == 0 || !(c.eager || c.due)) && !c.closing) || c.busy {
			c.cond.Wait()
		}
		if len(c.buf) == 0 || c.err != nil {
			// Closing with nothing left to write (or nothing writable).
			c.mu.Unlock()
			return
		}
		c.gather()
		if c.err != nil {
			c.mu.Unlock()
			return
		}
		if c.busy || len(c.buf) == 0 {
			// A write-through ran while gather yielded (the flusher had
			// woken for lazy frames only, so a Write after a pause went
			// straight to the socket, taking them along): it may still be
			// writing, and two writes at once could reorder frames.
			continue
		}
		c.writeLocked(c.takeLocked(), true)
		c.cond.Broadcast()
	}
}

// gather lets the goroutines that are ready to run write their frames
// before the flusher takes the buffer: go-amqp hands each frame from the
// link's goroutine to the session's to the connection's, and waking the
// flusher puts it first in line on the processor, ahead of the frames
// that are one hop away. Yielding while the buffer keeps growing turns a
// system call per frame into one per burst (amqbench -window 1000 on the
// embedded broker: about two writes per message before, one per five
// messages after); with nothing else ready to run, Gosched returns at
// once and the flush is not delayed. grpc-go's transport writer yields
// the same way before flushing a small batch.
func (c *coalescingConn) gather() {
	for range maxGatherYields {
		n := len(c.buf)
		if n >= gatherEnough || c.closing {
			return
		}
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
		if len(c.buf) == n {
			return
		}
	}
}

// maxGatherYields bounds the yields before a flush, and gatherEnough the
// bytes worth waiting for: past it one write is already large.
const (
	maxGatherYields = 8
	gatherEnough    = 64 << 10
)

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
	c.timer.Stop()
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

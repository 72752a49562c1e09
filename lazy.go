package amq

import (
	"bytes"
	"math"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// defaultLazyDelay bounds how long a receiver's settled disposition waits in the
// coalescing buffer for company (see coalescingConn). It is short next to
// anything a peer does with an accept (remove the message from a queue)
// and long next to the gap between two messages of a busy consumer, so a
// consumer's accepts leave in batches instead of one system call, and one
// frame for the peer to read, each.
const defaultLazyDelay = time.Millisecond

// lazyTail is the lazy frame at the end of the buffer, kept parsed so the
// next one can be merged into it.
type lazyTail struct {
	ok    bool
	off   int // where the frame starts in buf
	d     codec.SettledDisposition
	state []byte // d.State, copied: the frame in buf is rewritten
}

func (t *lazyTail) clear() { t.ok = false }

// addLazyLocked buffers the settled disposition frame p (parsed as d),
// merged into the one before it when that settles the deliveries just
// before d's with the same outcome, and starts the lazy timer.
func (c *coalescingConn) addLazyLocked(p []byte, d codec.SettledDisposition) {
	t := &c.tail
	if t.ok && t.d.Channel == d.Channel && t.d.Last != math.MaxUint32 && t.d.Last+1 == d.First &&
		bytes.Equal(t.state, d.State) {
		t.d.Last = d.Last
		c.buf = codec.AppendSettledDisposition(c.buf[:t.off], t.d)
	} else {
		t.ok, t.off, t.d = true, len(c.buf), d
		t.state = append(t.state[:0], d.State...)
		t.d.State = t.state
		c.buf = append(c.buf, p...)
	}
	if !c.armed {
		c.armed = true
		c.timer.Reset(c.lazyDelay)
	}
}

// lazyDue is the lazy timer's callback: what waits in buf may go.
func (c *coalescingConn) lazyDue() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed {
		c.due = true
		c.cond.Broadcast()
	}
}

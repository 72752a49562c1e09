package typefix

import "github.com/amqgo/amq/internal/codec"

// go-amqp v1.7 takes only closing detaches. A peer that detaches a link
// without closing it (closed=false: the terminus lives on, the link may be
// attached again) gets a closing detach with amqp:not-implemented back,
// and go-amqp then waits forever for an answer the peer has already sent:
// sends and receives on the link hang until their context ends. The Conn
// shows go-amqp a closing detach instead, carrying the peer's error or, if
// it gave none, amqp:link:detach-forced, so go-amqp ends the link with an
// error that says the link may be attached again. go-amqp's answer, a
// closing detach, goes to the peer as a non-closing one (AMQP 1.0 §2.6.6:
// a closing answer to a non-closing detach would destroy a terminus the
// peer keeps, a durable subscription's for one). A non-closing detach
// answering go-amqp's own closing detach (RabbitMQ 3.10 answers so) is
// shown as closing, which is what go-amqp waits for.

// detachedDescription is the description of the error a non-closing detach
// without one is given.
const detachedDescription = "the peer detached the link without closing it"

// linkKey names one end of a link: the channel and handle its sender gave
// it. The two ends are matched by link name, which is unique between two
// containers, so neither side's channel numbers need translating.
type linkKey struct {
	ch     uint16
	handle uint32
}

// links tracks what the rewriting of detaches needs; guarded by Conn.mu.
type links struct {
	goHandles   map[linkKey]string // go-amqp's attach: its channel and handle → link name
	peerHandles map[linkKey]string // the peer's attach: its channel and handle → link name
	goDetached  map[string]bool    // go-amqp detached first; the peer's answer is due
	// The peer detached first; go-amqp's answer is due. true: the peer's
	// detach was non-closing, so the answer must not close either.
	peerDetached map[string]bool
}

func (l *links) init() {
	l.goHandles = map[linkKey]string{}
	l.peerHandles = map[linkKey]string{}
	l.goDetached = map[string]bool{}
	l.peerDetached = map[string]bool{}
}

// attach records the name and handle of an attach (dir: who sent it; ch:
// the channel it came on).
func (c *Conn) attach(dir int, ch uint16, body []byte) {
	perf, _, err := codec.DecodeFrameBody(codec.FrameAMQP, body)
	a, ok := perf.(*codec.Attach)
	if err != nil || !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if dir == dirOut {
		c.links.goHandles[linkKey{ch, a.Handle}] = a.Name
	} else {
		c.links.peerHandles[linkKey{ch, a.Handle}] = a.Name
	}
}

// detach returns the frame that replaces a detach (dir: who sent it; ch:
// the channel it came on), or nil to pass it as it is.
func (c *Conn) detach(dir int, ch uint16, body []byte) []byte {
	perf, _, err := codec.DecodeFrameBody(codec.FrameAMQP, body)
	d, ok := perf.(*codec.Detach)
	if err != nil || !ok {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &c.links
	if dir == dirOut {
		key := linkKey{ch, d.Handle}
		name, known := l.goHandles[key]
		if !known {
			return nil
		}
		delete(l.goHandles, key)
		keepOpen, answer := l.peerDetached[name]
		if !answer {
			l.goDetached[name] = true
			return nil
		}
		delete(l.peerDetached, name)
		if !keepOpen || !d.Closed {
			return nil
		}
		d.Closed, d.Error = false, nil
		return appendFrame(ch, d)
	}
	key := linkKey{ch, d.Handle}
	name, known := l.peerHandles[key]
	if !known {
		return nil
	}
	delete(l.peerHandles, key)
	answer := l.goDetached[name]
	if answer {
		delete(l.goDetached, name) // both detaches are done
	} else {
		l.peerDetached[name] = !d.Closed
	}
	if d.Closed {
		return nil
	}
	if !answer && d.Error == nil {
		d.Error = &codec.Error{Condition: codec.ErrCondDetachForced, Description: detachedDescription}
	}
	d.Closed = true
	return appendFrame(ch, d)
}

// endLinks forgets the links of a session that ends (dir: who ended it;
// ch: the channel the end came on) or, for a close, of every session.
func (c *Conn) endLinks(dir int, code uint64, ch uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &c.links
	if code == descClose {
		l.init()
		return
	}
	m := l.goHandles
	if dir == dirIn {
		m = l.peerHandles
	}
	for key, name := range m {
		if key.ch == ch {
			delete(m, key)
			delete(l.goDetached, name)
			delete(l.peerDetached, name)
		}
	}
}

func appendFrame(ch uint16, d *codec.Detach) []byte {
	b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Channel: ch, Body: d})
	if err != nil {
		return nil
	}
	return b
}

package typefix

import (
	"encoding/binary"
	"errors"
	"math"
	"net"
	"os"
	"sync"

	"github.com/amqgo/amq/internal/codec"
)

// Options tunes a Conn. The zero value (or nil) is the default.
type Options struct {
	// MaxHoldBytes bounds, per direction, the bytes held back while a
	// multi-frame delivery is assembled, and the largest frame buffered
	// whole. A delivery beyond it, or a larger frame, passes through
	// unchanged. 0: 16 MiB.
	MaxHoldBytes int
	// MaxHoldFrames bounds, per direction, the frames held back while a
	// multi-frame delivery is assembled. 0: 2000, below the 2500 transfers
	// after which go-amqp v1.7 renews its fixed session incoming-window of
	// 5000, so a peer is never left waiting for window on held frames.
	MaxHoldFrames int
}

const (
	defaultMaxHoldBytes  = 16 << 20
	defaultMaxHoldFrames = 2000
	// HeadroomFactor is the ratio between the max-frame-size go-amqp
	// announces and the one the Conn announces to the peer instead (never
	// below 512). The package documentation proves a rewritten incoming
	// delivery fits in as many frames of go-amqp's size.
	HeadroomFactor = 8
	minRead        = 32 << 10
)

// Performative descriptors (§2.7).
const (
	descOpen     = 0x10
	descBegin    = 0x11
	descAttach   = 0x12
	descFlow     = 0x13
	descTransfer = 0x14
	descDetach   = 0x16
	descEnd      = 0x17
	descClose    = 0x18
)

const (
	dirIn  = 0 // peer → go-amqp
	dirOut = 1 // go-amqp → peer
)

// Conn is a net.Conn placed under go-amqp that rewrites char and decimal
// values into placeholders on the way in and placeholders into char and
// decimal values on the way out (see the package documentation). Read and
// Write may be called concurrently, as go-amqp does.
type Conn struct {
	net.Conn
	maxHoldBytes  int
	maxHoldFrames int

	rmu sync.Mutex
	in  pipe

	wmu sync.Mutex
	out pipe

	mu       sync.Mutex // guards the fields below; a leaf lock
	goMax    uint32     // go-amqp's max-frame-size, 0 before its open
	peerMax  uint32     // the peer's max-frame-size, 0 before its open
	sessions map[uint16]*window
	peerChan map[uint16]uint16 // peer's channel → go-amqp's channel
	links    links             // for detaches go-amqp cannot take (detach.go)
}

// Wrap returns c wrapped with the default Options. See WrapOptions.
func Wrap(c net.Conn) *Conn { return WrapOptions(c, nil) }

// WrapOptions returns c wrapped: give the result to go-amqp (amqp.NewConn)
// after any SASL exchange, or before it: protocol headers and SASL frames
// pass through untouched. opts may be nil.
func WrapOptions(c net.Conn, opts *Options) *Conn {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxHoldBytes <= 0 {
		o.MaxHoldBytes = defaultMaxHoldBytes
	}
	if o.MaxHoldFrames <= 0 {
		o.MaxHoldFrames = defaultMaxHoldFrames
	}
	w := &Conn{Conn: c, maxHoldBytes: o.MaxHoldBytes, maxHoldFrames: o.MaxHoldFrames,
		sessions: map[uint16]*window{}, peerChan: map[uint16]uint16{}}
	w.in.dir, w.out.dir = dirIn, dirOut
	w.links.init()
	return w
}

// Read reads what go-amqp is to see: the peer's bytes, with the transfers
// carrying char or decimal values rewritten.
func (c *Conn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	p := &c.in
	for {
		if p.emitOff < len(p.emit) {
			n := copy(b, p.emit[p.emitOff:])
			p.emitOff += n
			if p.emitOff == len(p.emit) {
				p.emit, p.emitOff = p.emit[:0], 0
			}
			return n, nil
		}
		if p.err != nil {
			return 0, p.err
		}
		if p.rend > p.rstart {
			p.src = p.rbuf[p.rstart:p.rend]
			p.rstart += p.feed(c)
			p.flushRange()
			if len(p.emit) > 0 {
				continue
			}
		}
		p.grow()
		n, err := c.Conn.Read(p.rbuf[p.rend:])
		p.rend += n
		if err != nil {
			if ne, ok := err.(net.Error); (ok && ne.Timeout()) || errors.Is(err, os.ErrDeadlineExceeded) {
				if n > 0 {
					continue
				}
				return 0, err
			}
			// The stream has ended: hand over everything as it is.
			p.src = p.rbuf[p.rstart:p.rend]
			p.rstart += p.feed(c)
			p.flushRange()
			p.flushHeld(c)
			p.emit = append(p.emit, p.rbuf[p.rstart:p.rend]...)
			p.rstart = p.rend
			p.err = err
		}
	}
}

// Write writes what go-amqp sends, with placeholders turned into char and
// decimal values. It returns len(b) once b is written or held back (a part
// of a multi-frame delivery, or of a frame).
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p := &c.out
	if len(p.partial) == 0 {
		p.src = b
	} else {
		p.partial = append(p.partial, b...)
		p.src = p.partial
	}
	n := p.feed(c)
	if len(p.queue) > 0 && c.anyBlocked() {
		p.flushHeld(c)
	}
	src := p.src
	err := c.writeOut()
	if rest := src[n:]; len(p.partial) == 0 {
		p.partial = append(p.partial, rest...)
	} else {
		p.partial = p.partial[:copy(p.partial, rest)]
	}
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// writeOut writes what feed produced; wmu is held.
func (c *Conn) writeOut() error {
	p := &c.out
	var err error
	if len(p.emit) == 0 && p.re > p.rs {
		_, err = c.Conn.Write(p.src[p.rs:p.re]) // nothing rewritten: no copy
	} else {
		p.flushRange()
		if len(p.emit) > 0 {
			_, err = c.Conn.Write(p.emit)
		}
	}
	p.emit, p.rs, p.re, p.src = p.emit[:0], 0, 0, nil
	return err
}

// flushOut hands go-amqp's held frames to the peer as they are: go-amqp
// has run out of session window and waits for the peer, which waits for
// them.
func (c *Conn) flushOut() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.out.flushHeld(c)
	_ = c.writeOut()
}

// pipe is the state of one direction.
type pipe struct {
	dir int

	// Read side: received bytes rbuf[rstart:rend], not yet processed.
	rbuf         []byte
	rstart, rend int
	err          error
	emitOff      int

	// Write side: an incomplete frame from an earlier Write.
	partial []byte

	// src is the input of the current feed; src[rs:re] is a run of frames
	// passed unchanged and not yet copied to emit.
	src    []byte
	rs, re int
	emit   []byte

	stream  int  // bytes of a too-large frame still to pass through
	passAll bool // framing lost: everything passes through

	queue      []*held // frames held back, in order
	heldBytes  int
	heldFrames int
	deliveries map[uint64]*delivery // incomplete multi-frame deliveries
}

type held struct {
	b    []byte
	poff int       // payload offset, for transfers
	d    *delivery // the delivery it belongs to, if any
	hook bool      // an incoming begin or flow: track the window when emitted
}

type delivery struct {
	frames []*held
	done   bool // complete (or given up): its frames may go
	skip   bool // not to be rewritten (aborted, other message format)
	ch     uint16
}

func (p *pipe) grow() {
	if p.rstart == p.rend {
		p.rstart, p.rend = 0, 0
		if len(p.rbuf) > 1<<20 {
			p.rbuf = nil
		}
	}
	if len(p.rbuf)-p.rend >= minRead {
		return
	}
	need := p.rend - p.rstart + minRead
	if need <= len(p.rbuf) {
		copy(p.rbuf, p.rbuf[p.rstart:p.rend])
	} else {
		nb := make([]byte, max(need, 2*len(p.rbuf), 64<<10))
		copy(nb, p.rbuf[p.rstart:p.rend])
		p.rbuf = nb
	}
	p.rend -= p.rstart
	p.rstart = 0
}

// flushRange copies the pending run of unchanged frames to emit.
func (p *pipe) flushRange() {
	if p.re > p.rs {
		p.emit = append(p.emit, p.src[p.rs:p.re]...)
	}
	p.rs, p.re = 0, 0
}

// pass sends src[off:end] on unchanged, after whatever is held.
func (p *pipe) pass(c *Conn, off, end int, hook bool) {
	if len(p.queue) > 0 {
		p.hold(c, append([]byte(nil), p.src[off:end]...), 0, nil, hook)
		return
	}
	if hook {
		c.peerSessionFrame(p.src[off:end])
	}
	if p.re != off {
		p.flushRange()
		p.rs = off
	}
	p.re = end
}

// put sends the (rewritten) frame b on, after whatever is held.
func (p *pipe) put(c *Conn, b []byte) {
	if len(p.queue) > 0 {
		p.hold(c, b, 0, nil, false)
		return
	}
	p.flushRange()
	p.emit = append(p.emit, b...)
}

func (p *pipe) hold(c *Conn, b []byte, poff int, d *delivery, hook bool) *held {
	h := &held{b: b, poff: poff, d: d, hook: hook}
	p.queue = append(p.queue, h)
	p.heldBytes += len(b)
	p.heldFrames++
	return h
}

// drain emits the held frames at the front of the queue that may go.
func (p *pipe) drain(c *Conn) {
	i := 0
	for ; i < len(p.queue); i++ {
		h := p.queue[i]
		if h.d != nil && !h.d.done {
			break
		}
		if i == 0 {
			p.flushRange()
		}
		if h.hook {
			c.peerSessionFrame(h.b)
		}
		p.emit = append(p.emit, h.b...)
		p.heldBytes -= len(h.b)
		p.heldFrames--
		p.queue[i] = nil
	}
	p.queue = p.queue[i:]
	if len(p.queue) == 0 {
		p.queue = nil
	}
}

// flushHeld gives up every incomplete delivery: all held frames go as they are.
func (p *pipe) flushHeld(c *Conn) {
	for k, d := range p.deliveries {
		d.done, d.skip = true, true
		delete(p.deliveries, k)
	}
	for _, h := range p.queue {
		if h.d != nil {
			h.d.done = true
		}
	}
	p.drain(c)
}

// feed processes the complete frames at the front of p.src and returns the
// number of bytes consumed; an incomplete frame is left for later.
func (p *pipe) feed(c *Conn) int {
	src := p.src
	off := 0
	for off < len(src) {
		b := src[off:]
		switch {
		case p.stream > 0:
			n := min(len(b), p.stream)
			p.pass(c, off, off+n, false)
			p.stream -= n
			off += n
			continue
		case p.passAll:
			p.pass(c, off, len(src), false)
			return len(src)
		case len(b) >= 4 && string(b[:4]) == "AMQP":
			// A protocol header (§2.2), before the frames and after SASL.
			if len(b) < 8 {
				return off
			}
			p.pass(c, off, off+8, false)
			off += 8
			continue
		case len(b) < 8:
			return off
		}
		size := binary.BigEndian.Uint32(b)
		doff := int(b[4]) * 4
		if size < 8 || doff < 8 || uint64(doff) > uint64(size) {
			// Not a frame: the stream can no longer be followed.
			p.flushHeld(c)
			p.passAll = true
			continue
		}
		if uint64(size) > uint64(c.maxHoldBytes) {
			p.flushHeld(c)
			p.stream = int(min(uint64(size), math.MaxInt32))
			continue
		}
		if len(b) < int(size) {
			return off
		}
		p.frame(c, off, off+int(size))
		off += int(size)
	}
	return off
}

// frame processes the complete frame src[off:end].
func (p *pipe) frame(c *Conn, off, end int) {
	fb := p.src[off:end]
	body := fb[int(fb[4])*4:]
	ch := binary.BigEndian.Uint16(fb[6:])
	code, ok := performative(body)
	if fb[5] != codec.FrameAMQP || !ok {
		p.pass(c, off, end, false)
		return
	}
	switch code {
	case descTransfer:
		p.transfer(c, off, end, ch, body)
		return
	case descOpen:
		if nb := c.open(p.dir, ch, body); nb != nil {
			p.put(c, nb)
			return
		}
	case descBegin, descFlow:
		if p.dir == dirOut {
			c.goSessionFrame(code, ch, body)
		} else {
			p.pass(c, off, end, true)
			return
		}
	case descAttach:
		c.attach(p.dir, ch, body)
	case descDetach:
		p.abandon(c, code, ch, body)
		if nb := c.detach(p.dir, ch, body); nb != nil {
			p.put(c, nb)
			return
		}
	case descEnd, descClose:
		if p.dir == dirOut {
			c.goSessionEnd(code, ch)
		}
		c.endLinks(p.dir, code, ch)
		p.abandon(c, code, ch, body)
	}
	p.pass(c, off, end, false)
}

// abandon gives up the incomplete deliveries a detach, end or close from
// their sender ends: their frames go as they are.
func (p *pipe) abandon(c *Conn, code uint64, ch uint16, body []byte) {
	var fb16 [16]int
	if len(p.deliveries) == 0 {
		return
	}
	handle, hasHandle := uint32(0), false
	if code == descDetach {
		if f, _, ok := listFields(body, &fb16); ok && len(f) > 0 {
			handle, hasHandle = readUint(body, f[0])
		}
	}
	for k, d := range p.deliveries {
		if code == descClose || d.ch == ch && (code == descEnd || !hasHandle || uint32(k) == handle) {
			d.done, d.skip = true, true
			delete(p.deliveries, k)
		}
	}
	p.drain(c)
}

func (p *pipe) transfer(c *Conn, off, end int, ch uint16, body []byte) {
	var fb16 [16]int
	fb := p.src[off:end]
	f, poff, ok := listFields(body, &fb16)
	if !ok || len(f) == 0 {
		p.pass(c, off, end, false)
		return
	}
	if p.dir == dirOut {
		c.countTransfer(ch)
	}
	handle, _ := readUint(body, f[0])
	var format uint32
	if len(f) > 3 {
		format, _ = readUint(body, f[3])
	}
	more := len(f) > 5 && readBool(body, f[5])
	aborted := len(f) > 9 && readBool(body, f[9])
	poff += len(fb) - len(body)
	key := uint64(ch)<<32 | uint64(handle)
	d := p.deliveries[key]
	if d == nil && (!more || aborted) {
		// A delivery in one frame.
		if !aborted && format == 0 {
			if nb, ok := p.rewrite(c, [][]byte{fb}, []int{poff}); ok {
				p.put(c, nb[0])
				return
			}
		}
		p.pass(c, off, end, false)
		return
	}
	if d == nil {
		d = &delivery{ch: ch, skip: format != 0}
		if p.deliveries == nil {
			p.deliveries = map[uint64]*delivery{}
		}
		p.deliveries[key] = d
	}
	d.frames = append(d.frames, p.hold(c, append([]byte(nil), fb...), poff, d, false))
	if !more || aborted {
		delete(p.deliveries, key)
		d.done = true
		if !aborted && !d.skip {
			p.finish(c, d)
		}
		p.drain(c)
		return
	}
	if p.heldBytes > c.maxHoldBytes || p.heldFrames >= c.maxHoldFrames ||
		p.dir == dirOut && c.goBlocked(ch) {
		p.flushHeld(c)
	}
}

// finish rewrites a complete multi-frame delivery in place.
func (p *pipe) finish(c *Conn, d *delivery) {
	frames := make([][]byte, len(d.frames))
	poffs := make([]int, len(d.frames))
	for i, h := range d.frames {
		frames[i], poffs[i] = h.b, h.poff
	}
	nb, ok := p.rewrite(c, frames, poffs)
	if !ok {
		return
	}
	for i, h := range d.frames {
		p.heldBytes += len(nb[i]) - len(h.b)
		h.b = nb[i]
	}
}

// rewrite rewrites the payload of a delivery carried by frames (payloads
// at poffs) and splits it again over as many frames, each no larger than
// the receiver's max-frame-size, keeping every frame's header and
// performative. ok is false when nothing is to be changed or the result
// does not fit.
func (p *pipe) rewrite(c *Conn, frames [][]byte, poffs []int) ([][]byte, bool) {
	var payload []byte
	if len(frames) == 1 {
		payload = frames[0][poffs[0]:]
	} else {
		for i, f := range frames {
			payload = append(payload, f[poffs[i]:]...)
		}
	}
	np, ok := rewritePayload(payload, p.dir == dirOut, nil)
	if !ok {
		return nil, false
	}
	limit := c.frameLimit(p.dir)
	out := make([][]byte, len(frames))
	rem := len(np)
	for i, f := range frames {
		capacity := int64(limit) - int64(poffs[i])
		after := len(frames) - 1 - i
		take := min(int64(rem-min(after, rem)), capacity)
		if after == 0 {
			take = int64(rem)
		}
		if take < 0 || take > capacity {
			return nil, false
		}
		nf := make([]byte, 0, poffs[i]+int(take))
		nf = append(append(nf, f[:poffs[i]]...), np[:take]...)
		binary.BigEndian.PutUint32(nf, uint32(len(nf)))
		out[i] = nf
		np, rem = np[take:], rem-int(take)
	}
	return out, true
}

// frameLimit is the max-frame-size of the receiver in direction dir.
func (c *Conn) frameLimit(dir int) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.goMax
	if dir == dirOut {
		m = c.peerMax
	}
	if m == 0 {
		return codec.MinMaxFrameSize
	}
	return m
}

// open records the max-frame-size of an open and, for go-amqp's, returns
// the frame announcing 1/HeadroomFactor of it instead (nil: pass as is).
func (c *Conn) open(dir int, ch uint16, body []byte) []byte {
	perf, _, err := codec.DecodeFrameBody(codec.FrameAMQP, body)
	o, ok := perf.(*codec.Open)
	if err != nil || !ok {
		return nil
	}
	m := o.MaxFrameSize
	if m == 0 {
		m = math.MaxUint32
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if dir == dirIn {
		c.peerMax = m
		return nil
	}
	c.goMax = m
	o.MaxFrameSize = max(m/HeadroomFactor, codec.MinMaxFrameSize)
	nb, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Channel: ch, Body: o})
	if err != nil {
		return nil
	}
	return nb
}

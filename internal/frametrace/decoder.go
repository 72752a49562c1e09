package frametrace

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/amqgo/amq/internal/codec"
)

const (
	// headerSize is the size of a protocol header (§2.2) and of a frame
	// header (§2.3.1) alike, which lets a direction read 8 bytes before
	// deciding which of the two it is looking at.
	headerSize = 8
	// maxBuffered bounds what a direction holds of one frame. A larger
	// frame is traced from its first maxBuffered bytes (the performative
	// and the start of the payload, which is all a line shows) and the
	// rest is counted off without being kept.
	maxBuffered = 256 << 10
	// keepBuffer is the largest buffer kept between frames; a bigger one,
	// grown for a big frame, is released.
	keepBuffer = 64 << 10
	// hexShown is how many bytes an undecodable stream shows in hex.
	hexShown = 64
)

// layer is the protocol layer a direction is in, set by protocol headers.
type layer uint8

const (
	layerNone layer = iota // no protocol header yet
	layerSASL
	layerAMQP
)

// direction decodes the bytes flowing one way through a connection.
type direction struct {
	t     *tracer
	arrow string     // "->" written, "<-" read
	other *direction // the opposite direction

	// limit is the max-frame-size the receiver of this direction
	// announced in its open (seen by other), 0 while unknown. A frame
	// above it is a framing error on the wire, and a sign that the
	// tracer lost the frame boundaries.
	limit atomic.Uint32

	mu      sync.Mutex
	layer   layer
	buf     []byte // the current header or frame, or the first maxBuffered bytes of it
	want    int    // bytes of the current frame to buffer; 0 while reading a header
	size    uint32 // size of the current frame
	skip    uint64 // bytes of an oversized frame still to pass over
	stopped bool
}

// observe decodes p, the next bytes of this direction. It never panics:
// whatever goes wrong stops the tracing of this direction, not the
// connection.
func (d *direction) observe(p []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer func() {
		if recover() != nil {
			d.stop()
		}
	}()
	d.feed(p)
}

func (d *direction) stop() {
	d.stopped = true
	d.buf = nil
}

func (d *direction) feed(p []byte) {
	for len(p) > 0 && !d.stopped {
		if d.skip > 0 {
			n := min(d.skip, uint64(len(p)))
			d.skip -= n
			p = p[n:]
			continue
		}
		want := d.want
		if want == 0 {
			want = headerSize
		}
		n := min(want-len(d.buf), len(p))
		d.buf = append(d.buf, p[:n]...)
		p = p[n:]
		if len(d.buf) < want {
			return
		}
		if d.want == 0 {
			d.lead()
		}
		if d.want != 0 && len(d.buf) == d.want {
			d.frame()
			d.next()
		}
	}
}

// next readies the direction for the next header or frame.
func (d *direction) next() {
	d.want = 0
	if cap(d.buf) > keepBuffer {
		d.buf = nil
	} else {
		d.buf = d.buf[:0]
	}
}

// lead handles the first 8 bytes of a unit: a protocol header, processed at
// once, or a frame header, which sets how much of the frame to buffer.
func (d *direction) lead() {
	h := d.buf
	if d.layer != layerAMQP && string(h[:4]) == "AMQP" {
		d.protoHeader([8]byte(h))
		if !d.stopped {
			d.next()
		}
		return
	}
	if d.layer == layerNone {
		d.fail("no AMQP protocol header")
		return
	}
	size := binary.BigEndian.Uint32(h[0:4])
	doff := uint32(h[4]) * 4
	switch {
	case size < headerSize:
		d.fail(fmt.Sprintf("frame size %d is below 8", size))
	case doff < headerSize:
		d.fail(fmt.Sprintf("data offset %d is below 2", h[4]))
	case doff > size:
		d.fail(fmt.Sprintf("data offset %d is beyond frame size %d", h[4], size))
	case h[5] != codec.FrameAMQP && h[5] != codec.FrameSASL:
		d.fail(fmt.Sprintf("unknown frame type %d", h[5]))
	case d.limit.Load() != 0 && size > d.limit.Load():
		d.fail(fmt.Sprintf("frame size %d exceeds max-frame-size %d", size, d.limit.Load()))
	default:
		d.size = size
		d.want = int(min(size, maxBuffered))
	}
}

func (d *direction) protoHeader(h [8]byte) {
	switch h {
	case codec.ProtoSASL:
		d.layer = layerSASL
		d.t.emit(d.arrow + " SASL")
	case codec.ProtoAMQP:
		d.layer = layerAMQP
		d.t.emit(d.arrow + " AMQP")
	case codec.ProtoTLS:
		// What follows is TLS records: nothing to decode.
		d.t.emit(d.arrow + " TLS")
		d.stop()
	default:
		d.fail(fmt.Sprintf("unsupported protocol header %q", h[:]))
	}
}

// fail prints the buffered bytes once, in hex, and stops decoding this
// direction. Bytes of the SASL layer are not shown: they may hold
// credentials.
func (d *direction) fail(reason string) {
	line := d.arrow + " (undecodable: " + reason + "; tracing of this direction stopped)"
	switch {
	case d.layer == layerSASL:
		line += " " + strconv.Itoa(len(d.buf)) + " bytes not shown"
	case len(d.buf) > hexShown:
		line += " " + hex.EncodeToString(d.buf[:hexShown]) + "..."
	default:
		line += " " + hex.EncodeToString(d.buf)
	}
	d.t.emit(line)
	d.stop()
}

// frame traces the frame in d.buf: all of it, or its first maxBuffered
// bytes if d.size is larger, in which case the rest is skipped.
func (d *direction) frame() {
	h := d.buf
	typ := h[5]
	channel := binary.BigEndian.Uint16(h[6:8])
	doff := int(h[4]) * 4
	body := h[doff:]
	bodySize := uint64(d.size) - uint64(doff)
	complete := uint64(len(body)) == bodySize
	if !complete {
		d.skip = bodySize - uint64(len(body))
	}

	// Raw bytes of the SASL layer are never shown: they may be credentials.
	secret := typ == codec.FrameSASL || d.layer == layerSASL
	var p printer
	if typ == codec.FrameSASL {
		p.s("SASL:FRAME:")
	} else {
		p.s("AMQP:FRAME:")
	}
	p.s(strconv.Itoa(int(channel)))
	p.s(" " + d.arrow + " ")
	if bodySize == 0 {
		p.s("(EMPTY FRAME)")
		d.t.emit(p.line())
		return
	}
	v, n, err := codec.Unmarshal(body)
	desc, ok := v.(codec.Described)
	switch {
	case err != nil && !complete:
		p.s(fmt.Sprintf("(frame of %d bytes whose performative exceeds the %d traced)", d.size, maxBuffered))
	case err != nil:
		p.s("(undecodable frame body: " + err.Error() + ")")
		p.rawBody(secret, body)
	case !ok:
		p.s("(frame body is not a described performative)")
		p.rawBody(secret, body)
	default:
		p.described(desc)
		if code, _ := descriptorCode(desc.Descriptor); code == codec.DescTransfer || n < len(body) {
			p.payload(secret, bodySize-uint64(n), body[n:])
		}
		d.noteOpen(desc)
	}
	d.t.emit(p.line())
}

// noteOpen records the max-frame-size of an open (§2.7.1): it bounds the
// frames of the other direction.
func (d *direction) noteOpen(desc codec.Described) {
	if code, _ := descriptorCode(desc.Descriptor); code != codec.DescOpen {
		return
	}
	limit := uint32(0) // absent: 4294967295, no limit worth checking
	if l, ok := desc.Value.(codec.List); ok && len(l) > 2 {
		if m, ok := l[2].(uint32); ok {
			limit = max(m, codec.MinMaxFrameSize)
		}
	}
	d.other.limit.Store(limit)
}

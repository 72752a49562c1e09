package codec

import "encoding/binary"

// The fast paths decode the two performatives that come once per message
// (transfer and disposition) straight from the bytes, without building
// the generic List of boxed values first: that is most of the garbage a
// server makes per message. They accept only the encodings peers use for
// these fields; on anything else (another encoding, an error, a field
// they do not handle) they report false and the generic decoder, which
// gives the same result or the proper error, runs instead.

// fastReader reads the fields of one list-based performative.
type fastReader struct {
	b   []byte // the list's elements, exactly
	off int
	n   int // fields left
	ok  bool
}

// fastFields checks body for descriptor code (as smallulong) followed by a
// list8 or list32 and returns a reader of its fields and the offset after
// the list.
func fastFields(body []byte, code byte) (fastReader, int) {
	if len(body) < 4 || body[0] != 0x00 || TypeCode(body[1]) != TypeSmallUlong || body[2] != code {
		return fastReader{}, 0
	}
	p := body[3:]
	var size, count, hdr int
	switch TypeCode(p[0]) {
	case TypeList8:
		if len(p) < 3 {
			return fastReader{}, 0
		}
		size, count, hdr = int(p[1]), int(p[2]), 3
		if size < 1 {
			return fastReader{}, 0
		}
	case TypeList32:
		if len(p) < 9 {
			return fastReader{}, 0
		}
		s, c := binary.BigEndian.Uint32(p[1:]), binary.BigEndian.Uint32(p[5:])
		if s < 4 || uint64(s) > uint64(len(p)-5) {
			return fastReader{}, 0
		}
		size, count, hdr = int(s), int(c), 9
	default:
		return fastReader{}, 0
	}
	// size counts the bytes after the size field, count field included.
	end := 2 + size
	if hdr == 9 {
		end = 5 + size
	}
	if end > len(p) || count > end-hdr {
		return fastReader{}, 0
	}
	return fastReader{b: p[hdr:end], n: count, ok: true}, 3 + end
}

// next returns the constructor of the next field, or TypeNull once the
// fields are used up (trailing fields left out are absent).
func (r *fastReader) next() TypeCode {
	if !r.ok || r.n == 0 {
		return TypeNull
	}
	if r.off >= len(r.b) {
		r.ok = false
		return TypeNull
	}
	r.n--
	c := TypeCode(r.b[r.off])
	r.off++
	return c
}

func (r *fastReader) bytes(n int) []byte {
	if !r.ok || n < 0 || len(r.b)-r.off < n {
		r.ok = false
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

// uint reads a uint field; present is false for null.
func (r *fastReader) uint() (v uint32, present bool) {
	switch r.next() {
	case TypeNull:
		return 0, false
	case TypeUint0:
		return 0, true
	case TypeSmallUint:
		if p := r.bytes(1); p != nil {
			return uint32(p[0]), true
		}
	case TypeUint:
		if p := r.bytes(4); p != nil {
			return binary.BigEndian.Uint32(p), true
		}
	default:
		r.ok = false
	}
	return 0, false
}

func (r *fastReader) uintp() *uint32 {
	v, ok := r.uint()
	if !ok {
		return nil
	}
	return &v
}

func (r *fastReader) boolean() bool {
	switch r.next() {
	case TypeNull, TypeFalse:
		return false
	case TypeTrue:
		return true
	case TypeBool:
		if p := r.bytes(1); p != nil {
			switch p[0] {
			case 0:
				return false
			case 1:
				return true
			}
		}
	}
	r.ok = false
	return false
}

// binaryInto reads a binary field, copied as the generic decoder does:
// into dst when it fits in dst's capacity (the result's capacity capped at
// its length, so that an append to it cannot write past it), into a new
// slice otherwise. nil for null.
func (r *fastReader) binaryInto(dst []byte) []byte {
	var n int
	switch r.next() {
	case TypeNull:
		return nil
	case TypeVbin8:
		p := r.bytes(1)
		if p == nil {
			return nil
		}
		n = int(p[0])
	case TypeVbin32:
		p := r.bytes(4)
		if p == nil {
			return nil
		}
		n = int(binary.BigEndian.Uint32(p))
	default:
		r.ok = false
		return nil
	}
	p := r.bytes(n)
	if p == nil {
		return nil
	}
	if len(p) <= cap(dst) {
		return append(dst[:0:len(p)], p...)
	}
	return append(make([]byte, 0, len(p)), p...)
}

// state reads a delivery state that is null or accepted, the only one the
// fast path handles.
func (r *fastReader) state() DeliveryState {
	switch r.next() {
	case TypeNull:
		return nil
	case 0x00:
		p := r.bytes(3)
		if p == nil || TypeCode(p[0]) != TypeSmallUlong || uint64(p[1]) != DescAccepted {
			break
		}
		switch TypeCode(p[2]) {
		case TypeList0:
			return &Accepted{}
		case TypeList8:
			if q := r.bytes(2); q != nil && q[0] == 1 && q[1] == 0 {
				return &Accepted{}
			}
		}
	}
	r.ok = false
	return nil
}

// done reports whether every field was read without a surprise and the
// list held nothing more.
func (r *fastReader) done() bool { return r.ok && r.n == 0 && r.off == len(r.b) }

// transferBox holds a decoded transfer with the values its pointer fields
// point to and room for a short delivery tag: one allocation for what
// would otherwise be four, on every message received. It holds a decoded
// disposition too, for the same reason on every outcome a sender gets.
type transferBox struct {
	t          Transfer
	id, format uint32
	tag        [16]byte

	d    Disposition
	last uint32
}

// fastTransfer decodes a transfer body into box, or into a new one when
// box is nil; ok false means: use the generic decoder.
func fastTransfer(body []byte, box *transferBox) (t *Transfer, payload []byte, ok bool) {
	r, end := fastFields(body, byte(DescTransfer))
	if !r.ok || r.n == 0 {
		return nil, nil, false
	}
	if box == nil {
		box = &transferBox{}
	} else {
		*box = transferBox{}
	}
	t = &box.t
	var handle bool
	if t.Handle, handle = r.uint(); !handle {
		return nil, nil, false
	}
	if id, ok := r.uint(); ok {
		box.id = id
		t.DeliveryID = &box.id
	}
	t.DeliveryTag = r.binaryInto(box.tag[:0])
	if format, ok := r.uint(); ok {
		box.format = format
		t.MessageFormat = &box.format
	}
	t.Settled = r.boolean()
	t.More = r.boolean()
	if r.next() != TypeNull { // rcv-settle-mode
		return nil, nil, false
	}
	t.State = r.state()
	t.Resume = r.boolean()
	t.Aborted = r.boolean()
	t.Batchable = r.boolean()
	if !r.done() {
		return nil, nil, false
	}
	return t, body[end:], true
}

// fastDisposition decodes a disposition body into box, or into a new one
// when box is nil; ok false means: use the generic decoder.
func fastDisposition(body []byte, box *transferBox) (d *Disposition, ok bool) {
	r, end := fastFields(body, byte(DescDisposition))
	if !r.ok || r.n < 2 || end != len(body) {
		return nil, false
	}
	if box == nil {
		box = &transferBox{}
	}
	box.d, box.last = Disposition{}, 0
	d = &box.d
	switch r.next() {
	case TypeTrue:
		d.Role = RoleReceiver
	case TypeFalse:
		d.Role = RoleSender
	default:
		return nil, false
	}
	var first bool
	if d.First, first = r.uint(); !first {
		return nil, false
	}
	if last, ok := r.uint(); ok {
		box.last = last
		d.Last = &box.last
	}
	d.Settled = r.boolean()
	d.State = r.state()
	d.Batchable = r.boolean()
	if !r.done() {
		return nil, false
	}
	return d, true
}

package typefix

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// errMalformed stops a walk over bytes that are not a valid AMQP encoding;
// the caller then passes the bytes on untouched.
var errMalformed = errors.New("typefix: malformed AMQP encoding")

const maxDepth = 100

// AMQP format codes used by the walker (§1.6).
const (
	cDescribed  = 0x00
	cNull       = 0x40
	cList0      = 0x45
	cUint       = 0x70
	cSmallUint  = 0x52
	cUint0      = 0x43
	cUlong      = 0x80
	cSmallUlong = 0x53
	cUlong0     = 0x44
	cChar       = 0x73
	cDec32      = 0x74
	cDec64      = 0x84
	cDec128     = 0x94
	cStr8       = 0xa1
	cStr32      = 0xb1
	cSym8       = 0xa3
	cSym32      = 0xb3
	cList8      = 0xc0
	cList32     = 0xd0
	cMap8       = 0xc1
	cMap32      = 0xd1
	cArray8     = 0xe0
	cArray32    = 0xf0
)

// width classes of format codes.
const (
	wInvalid  = -1
	wVar8     = -2 // 1-byte length + data
	wVar32    = -3 // 4-byte length + data
	wCompound = -4 // list, map, array
)

// widths[c] is the number of data bytes after constructor c for fixed-width
// types (0 for null, true, uint0, ...), or one of the w* classes.
var widths = func() (t [256]int8) {
	for i := range t {
		t[i] = wInvalid
	}
	for _, c := range []byte{0x40, 0x41, 0x42, 0x43, 0x44, 0x45} {
		t[c] = 0
	}
	for _, c := range []byte{0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56} {
		t[c] = 1
	}
	t[0x60], t[0x61] = 2, 2
	for _, c := range []byte{0x70, 0x71, 0x72, 0x73, 0x74} {
		t[c] = 4
	}
	for _, c := range []byte{0x80, 0x81, 0x82, 0x83, 0x84} {
		t[c] = 8
	}
	t[0x94], t[0x98] = 16, 16
	t[0xa0], t[0xa1], t[0xa3] = wVar8, wVar8, wVar8
	t[0xb0], t[0xb1], t[0xb3] = wVar32, wVar32, wVar32
	for _, c := range []byte{cList8, cList32, cMap8, cMap32, cArray8, cArray32} {
		t[c] = wCompound
	}
	return t
}()

func realKind(c byte) kind {
	switch c {
	case cChar:
		return kindChar
	case cDec32:
		return kindDec32
	case cDec64:
		return kindDec64
	case cDec128:
		return kindDec128
	}
	return kindNone
}

// rewriter walks AMQP-encoded values. Incoming (toReal false) it replaces
// what go-amqp cannot decode, or decodes into another type, with
// placeholders: char and decimal values and arrays of them, symbols in
// value positions, arrays of elements go-amqp has no decoder for, values
// described by AMQP's own descriptors; outgoing (toReal true) it replaces
// placeholders with the real encodings. With emit false it only counts
// what it would replace (hits) and allocates nothing.
type rewriter struct {
	toReal bool
	emit   bool
	out    []byte
	hits   int
	depth  int
	// syms: a symbol here is a value that go-amqp would hand out as a
	// string, so it gets a placeholder. Not in the header and properties
	// sections (go-amqp decodes those fields itself: content-type is a
	// symbol) and not as a map key (annotation keys are symbols).
	syms bool
}

// rewritePayload rewrites a message payload (a sequence of encoded
// sections). It returns ok false when there is nothing to rewrite or src is
// not a valid encoding; then src is to be passed on as it is. The result is
// appended to buf[:0].
func rewritePayload(src []byte, toReal bool, buf []byte) (out []byte, ok bool) {
	w := rewriter{toReal: toReal}
	if w.all(src) != nil || w.hits == 0 {
		return nil, false
	}
	w = rewriter{toReal: toReal, emit: true, out: buf[:0]}
	if w.all(src) != nil {
		return nil, false
	}
	return w.out, true
}

// needsRewrite reports whether rewritePayload would change src.
func needsRewrite(src []byte, toReal bool) bool {
	w := rewriter{toReal: toReal}
	return w.all(src) == nil && w.hits > 0
}

func (w *rewriter) all(src []byte) error {
	for off := 0; off < len(src); {
		n, err := w.section(src, off)
		if err != nil {
			return err
		}
		off = n
	}
	return nil
}

// Descriptor codes of the message sections (§3.2) whose fields go-amqp
// decodes itself.
const (
	sectionHeader     = 0x70
	sectionProperties = 0x73
)

// section processes one section of a message: a value described by one of
// AMQP's own descriptors, which go-amqp decodes, so the descriptor is kept.
func (w *rewriter) section(src []byte, off int) (int, error) {
	if off >= len(src) || src[off] != cDescribed {
		w.syms = !w.toReal
		return w.value(src, off)
	}
	d, err := skipValue(src, off+1, 0)
	if err != nil {
		return 0, err
	}
	code := uint64(1 << 63) // not a section
	switch src[off+1] {
	case cSmallUlong:
		code = uint64(src[off+2])
	case cUlong:
		code = binary.BigEndian.Uint64(src[off+2:])
	}
	w.syms = !w.toReal && code != sectionHeader && code != sectionProperties
	w.copy(src[off:d])
	return w.value(src, d)
}

func (w *rewriter) copy(b []byte) {
	if w.emit {
		w.out = append(w.out, b...)
	}
}

func (w *rewriter) enter() error {
	w.depth++
	if w.depth > maxDepth {
		return errMalformed
	}
	return nil
}

// value processes the value encoded at src[off:] and returns where it ends.
func (w *rewriter) value(src []byte, off int) (int, error) {
	if off >= len(src) {
		return 0, errMalformed
	}
	c := src[off]
	switch c {
	case cDescribed:
		return w.described(src, off)
	case cChar, cDec32, cDec64, cDec128:
		end := off + 1 + int(widths[c])
		if end > len(src) {
			return 0, errMalformed
		}
		if w.toReal {
			w.copy(src[off:end])
			return end, nil
		}
		w.hits++
		if w.emit {
			w.out = appendPlaceholder(w.out, realKind(c), src[off+1:end])
		}
		return end, nil
	case cSym8, cSym32:
		if !w.syms {
			break
		}
		end, err := skipPrimitive(src, off)
		if err != nil {
			return 0, err
		}
		w.hits++
		if w.emit {
			w.out = append(w.out, cDescribed, cSym8, byte(len(DescriptorSymbol)))
			w.out = append(append(w.out, DescriptorSymbol...), src[off:end]...)
		}
		return end, nil
	case cList8, cMap8, cList32, cMap32:
		return w.compound(src, off)
	case cArray8, cArray32:
		return w.array(src, off)
	}
	end, err := skipPrimitive(src, off)
	if err != nil {
		return 0, err
	}
	w.copy(src[off:end])
	return end, nil
}

// skipPrimitive returns the end of the primitive (not compound) value at off.
func skipPrimitive(src []byte, off int) (int, error) {
	wd := widths[src[off]]
	var end int
	switch wd {
	case wVar8:
		if off+2 > len(src) {
			return 0, errMalformed
		}
		end = off + 2 + int(src[off+1])
	case wVar32:
		if off+5 > len(src) {
			return 0, errMalformed
		}
		n := uint64(binary.BigEndian.Uint32(src[off+1:]))
		if n > uint64(len(src)) {
			return 0, errMalformed
		}
		end = off + 5 + int(n)
	case wInvalid, wCompound:
		return 0, errMalformed
	default:
		end = off + 1 + int(wd)
	}
	if end > len(src) {
		return 0, errMalformed
	}
	return end, nil
}

// skipValue returns the end of any value at off, described and compound ones
// included, without looking inside compounds.
func skipValue(src []byte, off, depth int) (int, error) {
	if off >= len(src) || depth > maxDepth {
		return 0, errMalformed
	}
	c := src[off]
	if c == cDescribed {
		d, err := skipValue(src, off+1, depth+1)
		if err != nil {
			return 0, err
		}
		return skipValue(src, d, depth+1)
	}
	if widths[c] != wCompound {
		return skipPrimitive(src, off)
	}
	_, _, end, err := compoundHeader(src, off+1, c == cList32 || c == cMap32 || c == cArray32)
	return end, err
}

// compoundHeader reads the size and count of a list, map or array body at
// src[p:] (after the constructor): it returns the count, where the content
// starts and where the body ends.
func compoundHeader(src []byte, p int, wide bool) (count, content, end int, err error) {
	if wide {
		if p+8 > len(src) {
			return 0, 0, 0, errMalformed
		}
		size := uint64(binary.BigEndian.Uint32(src[p:]))
		if size < 4 || size > uint64(len(src)-p-4) {
			return 0, 0, 0, errMalformed
		}
		count = int(binary.BigEndian.Uint32(src[p+4:]))
		return count, p + 8, p + 4 + int(size), nil
	}
	if p+2 > len(src) {
		return 0, 0, 0, errMalformed
	}
	size := int(src[p])
	if size < 1 || size > len(src)-p-1 {
		return 0, 0, 0, errMalformed
	}
	return int(src[p+1]), p + 2, p + 1 + size, nil
}

func (w *rewriter) described(src []byte, off int) (int, error) {
	if err := w.enter(); err != nil {
		return 0, err
	}
	defer func() { w.depth-- }()
	if w.toReal {
		if k, v := placeholderAt(src, off+1); k != kindNone {
			if end, ok := w.realValue(k, src, v); ok {
				w.hits++
				return end, nil
			}
		}
	}
	d, err := skipValue(src, off+1, w.depth)
	if err != nil {
		return 0, err
	}
	if !w.toReal && amqpDescriptor(src[off+1:d]) {
		// go-amqp decodes a value described by one of AMQP's own
		// descriptors as its own type, or fails ("not implemented").
		return w.raw(src, off)
	}
	w.copy(src[off:d])
	return w.value(src, d)
}

// amqpDescriptor reports whether the encoded descriptor d is one of AMQP's
// own (domain 0, ids below 256: performatives, delivery states, sections...).
func amqpDescriptor(d []byte) bool {
	switch d[0] {
	case cSmallUlong:
		return true
	case cUlong:
		return len(d) == 9 && binary.BigEndian.Uint64(d[1:]) <= 0xff
	}
	return false
}

// raw replaces the value at src[off:] with a raw placeholder.
func (w *rewriter) raw(src []byte, off int) (int, error) {
	end, err := skipValue(src, off, w.depth)
	if err != nil {
		return 0, err
	}
	w.hits++
	if w.emit {
		w.out = appendPlaceholder(w.out, kindRaw, src[off:end])
	}
	return end, nil
}

// placeholderAt returns the kind of the placeholder descriptor at src[p:]
// (a sym8 or sym32 naming one of the Descriptor constants) and where the
// described value starts.
func placeholderAt(src []byte, p int) (kind, int) {
	if p >= len(src) {
		return kindNone, 0
	}
	var n, start int
	switch src[p] {
	case cSym8:
		if p+2 > len(src) {
			return kindNone, 0
		}
		n, start = int(src[p+1]), p+2
	case cSym32:
		if p+5 > len(src) {
			return kindNone, 0
		}
		n, start = int(binary.BigEndian.Uint32(src[p+1:])), p+5
	default:
		return kindNone, 0
	}
	if n < len(DescriptorSymbol) || n > 32 || start+n > len(src) {
		return kindNone, 0
	}
	return kindOf(string(src[start : start+n])), start + n
}

// realValue appends the real encoding for the value of a placeholder of
// kind k at src[v:]. ok is false if that value is not well formed for k.
func (w *rewriter) realValue(k kind, src []byte, v int) (end int, ok bool) {
	if v >= len(src) {
		return 0, false
	}
	c := src[v]
	switch k {
	case kindSymbol:
		if c != cSym8 && c != cSym32 && c != cStr8 && c != cStr32 {
			return 0, false
		}
		end, err := skipPrimitive(src, v)
		if err != nil {
			return 0, false
		}
		if w.emit {
			w.out = append(append(w.out, c|0x02), src[v+1:end]...) // str → sym
		}
		return end, true
	case kindRaw:
		return w.realRaw(src, v)
	case kindChar, kindDec32:
		var u uint32
		switch c {
		case cUint:
			if v+5 > len(src) {
				return 0, false
			}
			u, end = binary.BigEndian.Uint32(src[v+1:]), v+5
		case cSmallUint:
			if v+2 > len(src) {
				return 0, false
			}
			u, end = uint32(src[v+1]), v+2
		case cUint0:
			end = v + 1
		default:
			return 0, false
		}
		if w.emit {
			w.out = binary.BigEndian.AppendUint32(append(w.out, k.code()), u)
		}
		return end, true
	case kindDec64:
		var u uint64
		switch c {
		case cUlong:
			if v+9 > len(src) {
				return 0, false
			}
			u, end = binary.BigEndian.Uint64(src[v+1:]), v+9
		case cSmallUlong:
			if v+2 > len(src) {
				return 0, false
			}
			u, end = uint64(src[v+1]), v+2
		case cUlong0:
			end = v + 1
		default:
			return 0, false
		}
		if w.emit {
			w.out = binary.BigEndian.AppendUint64(append(w.out, k.code()), u)
		}
		return end, true
	}
	// decimal128 and the arrays: a string of hex digits.
	digits, end, ok := hexString(src, v)
	if !ok {
		return 0, false
	}
	wd := k.elemWidth()
	if len(digits)%(2*wd) != 0 || (k == kindDec128 && len(digits) != 32) || !isHex(digits) {
		return 0, false
	}
	if !w.emit {
		return end, true
	}
	n := len(digits) / 2
	if k == kindDec128 {
		w.out = append(w.out, k.code())
	} else {
		count, body := n/wd, n+1 // body: element constructor + elements
		if count <= 255 && body+1 <= 255 {
			w.out = append(w.out, cArray8, byte(body+1), byte(count), k.code())
		} else {
			w.out = append(w.out, cArray32)
			w.out = binary.BigEndian.AppendUint32(w.out, uint32(body+4))
			w.out = binary.BigEndian.AppendUint32(w.out, uint32(count))
			w.out = append(w.out, k.code())
		}
	}
	at := len(w.out)
	w.out = append(w.out, make([]byte, n)...)
	_, _ = hex.Decode(w.out[at:], digits)
	return end, true
}

// realRaw appends the value encoded in the hex digits of the string at
// src[v:], the value of a raw placeholder.
func (w *rewriter) realRaw(src []byte, v int) (end int, ok bool) {
	digits, end, ok := hexString(src, v)
	if !ok || len(digits) == 0 || len(digits)%2 != 0 {
		return 0, false
	}
	if !w.emit {
		// Counting only: the encoding is checked once, when emitting (a
		// malformed one then goes out as the placeholder it is).
		return end, true
	}
	at := len(w.out)
	w.out = append(w.out, make([]byte, len(digits)/2)...)
	_, _ = hex.Decode(w.out[at:], digits)
	if n, err := skipValue(w.out[at:], 0, 0); err != nil || n != len(w.out)-at {
		w.out = w.out[:at]
		return 0, false
	}
	return end, true
}

// hexString returns the text of the string at src[v:] if it is all hex
// digits, and where the string ends.
func hexString(src []byte, v int) (digits []byte, end int, ok bool) {
	c := src[v]
	if c != cStr8 && c != cStr32 {
		return nil, 0, false
	}
	end, err := skipPrimitive(src, v)
	if err != nil {
		return nil, 0, false
	}
	digits = src[v+2 : end]
	if c == cStr32 {
		digits = src[v+5 : end]
	}
	return digits, end, isHex(digits)
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// appendPlaceholder appends the placeholder for the real value of kind k
// whose data bytes (after the constructor) are data. For arrays, data is
// the elements.
func appendPlaceholder(b []byte, k kind, data []byte) []byte {
	name := kindNames[k]
	b = append(append(b, cDescribed, cSym8, byte(len(name))), name...)
	switch k {
	case kindChar, kindDec32:
		return append(append(b, cUint), data...)
	case kindDec64:
		return append(append(b, cUlong), data...)
	}
	n := 2 * len(data)
	if n <= 255 {
		b = append(b, cStr8, byte(n))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, cStr32), uint32(n))
	}
	at := len(b)
	b = append(b, make([]byte, n)...)
	hex.Encode(b[at:], data)
	return b
}

// compound processes a list or map.
func (w *rewriter) compound(src []byte, off int) (int, error) {
	c := src[off]
	start := len(w.out)
	if w.emit {
		w.out = append(w.out, c)
	}
	end, widened, err := w.body(src, off+1, c >= cList32, false, c == cMap8 || c == cMap32)
	if err != nil {
		return 0, err
	}
	if widened {
		w.out[start] = c + 0x10 // list8 → list32, map8 → map32
	}
	return end, nil
}

// body processes the body (size, count, elements) of a list or map at
// src[p:], in its 32-bit form if wide. When emitting, it writes the body in
// the same form unless force32, or unless an 8-bit body no longer fits in
// 8 bits (widened: the caller fixes the constructor). A body whose elements
// need no rewriting is copied as it is.
func (w *rewriter) body(src []byte, p int, wide, force32, isMap bool) (end int, widened bool, err error) {
	count, content, end, err := compoundHeader(src, p, wide)
	if err != nil {
		return 0, false, err
	}
	if err := w.enter(); err != nil {
		return 0, false, err
	}
	defer func() { w.depth-- }()
	if count > end-content {
		return 0, false, errMalformed
	}
	start, hits := len(w.out), w.hits
	out32 := wide || force32
	hdr := 2 // header size in the output
	if out32 {
		hdr = 8
	}
	if w.emit {
		w.out = append(w.out, make([]byte, hdr)...)
	}
	sub := src[:end]
	q := content
	syms := w.syms
	for i := range count {
		w.syms = syms && !(isMap && i%2 == 0)
		if q, err = w.value(sub, q); err != nil {
			return 0, false, err
		}
	}
	w.syms = syms
	if q != end {
		return 0, false, errMalformed
	}
	if !w.emit {
		return end, false, nil
	}
	if w.hits == hits && (!force32 || wide) {
		w.out = append(w.out[:start], src[p:end]...)
		return end, false, nil
	}
	n := len(w.out) - start - hdr // content length
	if !out32 && (n+1 > 255 || count > 255) {
		w.out = append(w.out, 0, 0, 0, 0, 0, 0)
		copy(w.out[start+8:], w.out[start+2:start+2+n])
		out32, widened = true, true
	}
	if out32 {
		binary.BigEndian.PutUint32(w.out[start:], uint32(n+4))
		binary.BigEndian.PutUint32(w.out[start+4:], uint32(count))
	} else {
		w.out[start], w.out[start+1] = byte(n+1), byte(count)
	}
	return end, widened, nil
}

// array processes an array. Arrays of char or decimal become placeholders
// (incoming), and so do the arrays go-amqp v1.7 has no decoder for (lists,
// arrays, described elements, nulls: a raw placeholder); the maps in
// arrays of maps are walked. Other arrays hold nothing to rewrite.
func (w *rewriter) array(src []byte, off int) (int, error) {
	wide := src[off] == cArray32
	count, content, end, err := compoundHeader(src, off+1, wide)
	if err != nil {
		return 0, err
	}
	if content >= end {
		return 0, errMalformed
	}
	ctor := src[content]
	switch ctor {
	case cNull, cList0, cList8, cList32, cArray8, cArray32, cDescribed:
		// go-amqp v1.7 has no decoder for these arrays ("array decoding
		// not implemented").
		if w.toReal {
			break
		}
		return w.raw(src, off)
	case cChar, cDec32, cDec64, cDec128:
		if w.toReal {
			break
		}
		data := src[content+1 : end]
		if len(data) != count*int(widths[ctor]) {
			return 0, errMalformed
		}
		k := realKind(ctor) + (kindCharArray - kindChar)
		w.hits++
		if w.emit {
			w.out = appendPlaceholder(w.out, k, data)
		}
		return end, nil
	case cMap8, cMap32:
		if err := w.enter(); err != nil {
			return 0, err
		}
		defer func() { w.depth-- }()
		start, hits := len(w.out), w.hits
		if w.emit {
			w.out = append(w.out, cArray32, 0, 0, 0, 0, 0, 0, 0, 0, cMap32)
		}
		sub := src[:end]
		q := content + 1
		for range count {
			if q >= end {
				return 0, errMalformed
			}
			if q, _, err = w.body(sub, q, ctor == cMap32, true, true); err != nil {
				return 0, err
			}
		}
		if q != end {
			return 0, errMalformed
		}
		if w.emit {
			if w.hits == hits {
				w.out = append(w.out[:start], src[off:end]...)
			} else {
				binary.BigEndian.PutUint32(w.out[start+1:], uint32(len(w.out)-start-5))
				binary.BigEndian.PutUint32(w.out[start+5:], uint32(count))
			}
		}
		return end, nil
	}
	w.copy(src[off:end])
	return end, nil
}

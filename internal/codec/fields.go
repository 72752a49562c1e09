package codec

import (
	"fmt"
	"time"
)

// fieldWriter encodes a composite type: descriptor, then a list of fields
// in which trailing absent fields are left out.
type fieldWriter struct {
	b       []byte
	start   int // where the descriptor begins, to undo on error
	c       compound
	n       int // fields written
	present int // fields up to and including the last present one
	end     int // len(b) after the last present field
	err     error
}

func newFieldWriter(b []byte, code uint64) fieldWriter {
	start := len(b)
	b = appendUlong(append(b, byte(TypeDescribed)), code)
	b, c := beginCompound(b)
	return fieldWriter{b: b, start: start, c: c, end: len(b)}
}

func (w *fieldWriter) done() ([]byte, error) {
	if w.err != nil {
		return w.b[:w.start], w.err
	}
	if w.present == 0 {
		return append(w.b[:w.c.start], byte(TypeList0)), nil
	}
	w.c.count = w.present
	return w.c.finish(w.b, w.end, TypeList8, TypeList32, false), nil
}

func (w *fieldWriter) mark() {
	w.n++
	w.present = w.n
	w.end = len(w.b)
}

func (w *fieldWriter) null() {
	w.b = append(w.b, byte(TypeNull))
	w.n++
}

func (w *fieldWriter) uint(v uint32, present bool) {
	if !present {
		w.null()
		return
	}
	w.b = appendUint(w.b, v)
	w.mark()
}

func (w *fieldWriter) uintp(v *uint32) {
	if v == nil {
		w.null()
		return
	}
	w.uint(*v, true)
}

func (w *fieldWriter) ulong(v uint64, present bool) {
	if !present {
		w.null()
		return
	}
	w.b = appendUlong(w.b, v)
	w.mark()
}

func (w *fieldWriter) ushortp(v *uint16) {
	if v == nil {
		w.null()
		return
	}
	w.value(*v)
}

func (w *fieldWriter) ubytep(v *uint8) {
	if v == nil {
		w.null()
		return
	}
	w.value(*v)
}

func (w *fieldWriter) boolean(v, present bool) {
	if !present {
		w.null()
		return
	}
	w.value(v)
}

func (w *fieldWriter) str(v string, present bool) {
	if !present {
		w.null()
		return
	}
	w.b = appendVar(w.b, TypeStr8, TypeStr32, v)
	w.mark()
}

func (w *fieldWriter) strp(v *string) {
	if v == nil {
		w.null()
		return
	}
	w.str(*v, true)
}

func (w *fieldWriter) sym(v Symbol, present bool) {
	if !present {
		w.null()
		return
	}
	w.b = appendVar(w.b, TypeSym8, TypeSym32, v)
	w.mark()
}

func (w *fieldWriter) symp(v *Symbol) {
	if v == nil {
		w.null()
		return
	}
	w.sym(*v, true)
}

func (w *fieldWriter) bin(v []byte) {
	if v == nil {
		w.null()
		return
	}
	w.b = appendVar(w.b, TypeVbin8, TypeVbin32, v)
	w.mark()
}

// syms writes a multiple symbol field (§1.3) as an array.
func (w *fieldWriter) syms(v []Symbol) {
	if v == nil {
		w.null()
		return
	}
	w.value(v)
}

func (w *fieldWriter) mapv(v Map) {
	if v == nil {
		w.null()
		return
	}
	w.value(v)
}

func (w *fieldWriter) timep(v *time.Time) {
	if v == nil {
		w.null()
		return
	}
	w.value(*v)
}

// value writes any value; nil (including a nil pointer) is absent.
func (w *fieldWriter) value(v any) {
	if v == nil || isNilPointer(v) {
		w.null()
		return
	}
	if w.err != nil {
		w.n++
		return
	}
	w.b, w.err = appendValue(w.b, v, 1)
	w.mark()
}

// fieldReader gives typed access to the fields of a decoded composite.
// The first type error is kept in err; later calls return zero values.
type fieldReader struct {
	name string
	l    List
	err  error
}

// readFields checks that d is a list-based composite and returns its fields.
func readFields(name string, d Described) *fieldReader {
	r := &fieldReader{name: name}
	switch v := d.Value.(type) {
	case List:
		r.l = v
	case nil:
	default:
		r.err = &DecodeError{Offset: -1, Reason: fmt.Sprintf("%s: body is %T, want list", name, d.Value)}
	}
	return r
}

func (r *fieldReader) get(i int) any {
	if r.err != nil || i >= len(r.l) {
		return nil
	}
	return r.l[i]
}

func (r *fieldReader) fail(i int, format string, args ...any) {
	if r.err == nil {
		r.err = &DecodeError{Offset: -1, Reason: fmt.Sprintf("%s field %d: ", r.name, i) + fmt.Sprintf(format, args...)}
	}
}

// need records an error if mandatory field i is absent.
func (r *fieldReader) need(i int) {
	if r.err == nil && r.get(i) == nil {
		r.fail(i, "mandatory field is absent")
	}
}

func field[T any](r *fieldReader, i int, want string) (T, bool) {
	var zero T
	v := r.get(i)
	if v == nil {
		return zero, false
	}
	t, ok := v.(T)
	if !ok {
		r.fail(i, "want %s, got %T", want, v)
		return zero, false
	}
	return t, true
}

func fieldp[T any](r *fieldReader, i int, want string) *T {
	v, ok := field[T](r, i, want)
	if !ok {
		return nil
	}
	return &v
}

func (r *fieldReader) uint(i int) uint32      { v, _ := field[uint32](r, i, "uint"); return v }
func (r *fieldReader) uintp(i int) *uint32    { return fieldp[uint32](r, i, "uint") }
func (r *fieldReader) ulong(i int) uint64     { v, _ := field[uint64](r, i, "ulong"); return v }
func (r *fieldReader) ushortp(i int) *uint16  { return fieldp[uint16](r, i, "ushort") }
func (r *fieldReader) ubytep(i int) *uint8    { return fieldp[uint8](r, i, "ubyte") }
func (r *fieldReader) boolean(i int) bool     { v, _ := field[bool](r, i, "boolean"); return v }
func (r *fieldReader) str(i int) string       { v, _ := field[string](r, i, "string"); return v }
func (r *fieldReader) strp(i int) *string     { return fieldp[string](r, i, "string") }
func (r *fieldReader) sym(i int) Symbol       { v, _ := field[Symbol](r, i, "symbol"); return v }
func (r *fieldReader) symp(i int) *Symbol     { return fieldp[Symbol](r, i, "symbol") }
func (r *fieldReader) timep(i int) *time.Time { return fieldp[time.Time](r, i, "timestamp") }
func (r *fieldReader) mapv(i int) Map         { v, _ := field[Map](r, i, "map"); return v }
func (r *fieldReader) bin(i int) []byte       { v, _ := field[[]byte](r, i, "binary"); return v }
func (r *fieldReader) value(i int) any        { return r.get(i) }
func (r *fieldReader) described(i int) (Described, bool) {
	return field[Described](r, i, "described value")
}

// syms reads a multiple symbol field: a single symbol or an array of them.
func (r *fieldReader) syms(i int) []Symbol {
	switch v := r.get(i).(type) {
	case nil:
		return nil
	case Symbol:
		return []Symbol{v}
	case []Symbol:
		return v
	case Array:
		if len(v.Values) == 0 && v.Descriptor == nil {
			return []Symbol{}
		}
		r.fail(i, "want symbol array, got array of 0x%02x", byte(v.Elem))
	default:
		r.fail(i, "want symbol or symbol array, got %T", v)
	}
	return nil
}

// errorField reads an optional error field.
func (r *fieldReader) errorField(i int) *Error {
	d, ok := r.described(i)
	if !ok {
		return nil
	}
	e, err := errorFromDescribed(d)
	if err != nil && r.err == nil {
		r.err = err
	}
	return e
}

// descriptorCode returns the numeric code of a descriptor, translating the
// symbolic descriptors of the spec (e.g. "amqp:open:list").
func descriptorCode(desc any) (uint64, bool) {
	switch d := desc.(type) {
	case uint64:
		return d, true
	case Symbol:
		c, ok := symbolicDescriptors[d]
		return c, ok
	}
	return 0, false
}

var symbolicDescriptors = map[Symbol]uint64{
	"amqp:open:list": 0x10, "amqp:begin:list": 0x11, "amqp:attach:list": 0x12,
	"amqp:flow:list": 0x13, "amqp:transfer:list": 0x14, "amqp:disposition:list": 0x15,
	"amqp:detach:list": 0x16, "amqp:end:list": 0x17, "amqp:close:list": 0x18,
	"amqp:error:list":    0x1d,
	"amqp:received:list": 0x23, "amqp:accepted:list": 0x24, "amqp:rejected:list": 0x25,
	"amqp:released:list": 0x26, "amqp:modified:list": 0x27,
	"amqp:source:list": 0x28, "amqp:target:list": 0x29,
	"amqp:delete-on-close:list": 0x2b, "amqp:delete-on-no-links:list": 0x2c,
	"amqp:delete-on-no-messages:list": 0x2d, "amqp:delete-on-no-links-or-messages:list": 0x2e,
	"amqp:coordinator:list": 0x30, "amqp:declare:list": 0x31, "amqp:discharge:list": 0x32,
	"amqp:declared:list": 0x33, "amqp:transactional-state:list": 0x34,
	"amqp:sasl-mechanisms:list": 0x40, "amqp:sasl-init:list": 0x41, "amqp:sasl-challenge:list": 0x42,
	"amqp:sasl-response:list": 0x43, "amqp:sasl-outcome:list": 0x44,
	"amqp:header:list": 0x70, "amqp:delivery-annotations:map": 0x71,
	"amqp:message-annotations:map": 0x72, "amqp:properties:list": 0x73,
	"amqp:application-properties:map": 0x74, "amqp:data:binary": 0x75,
	"amqp:amqp-sequence:list": 0x76, "amqp:amqp-value:*": 0x77, "amqp:footer:map": 0x78,
}

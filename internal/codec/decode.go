package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Unmarshal decodes the first AMQP value in data and returns it with the
// number of bytes it took. Every encoding is accepted; see the package
// documentation for the Go types returned. Described values are returned as
// Described. Errors are *DecodeError.
func Unmarshal(data []byte) (v any, n int, err error) {
	d := newDecoder(data)
	v, err = d.value()
	return v, d.off, err
}

// decoder reads AMQP values from b starting at off. b may be a window
// (b[:end]) of the input while a list, map or array is decoded, so that
// no element reads past its container.
type decoder struct {
	b     []byte
	off   int
	depth int
	// free is how many more zero-width array elements (null, true,
	// uint0, list0, ...) may be decoded. They cost no input, so without a
	// budget for the whole input a few nested arrays could claim billions.
	free int
}

func newDecoder(b []byte) decoder {
	return decoder{b: b, free: 4*len(b) + 1024}
}

func (d *decoder) errorf(format string, args ...any) error {
	return &DecodeError{Offset: d.off, Reason: fmt.Sprintf(format, args...)}
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) next(n int) ([]byte, error) {
	if n < 0 || d.remaining() < n {
		return nil, d.errorf("need %d bytes, have %d", n, d.remaining())
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *decoder) byte1() (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.errorf("unexpected end of data")
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

func (d *decoder) value() (any, error) {
	c, err := d.byte1()
	if err != nil {
		return nil, err
	}
	if TypeCode(c) == TypeDescribed {
		return d.described()
	}
	return d.body(TypeCode(c))
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return d.errorf("nested deeper than %d levels", maxDepth)
	}
	return nil
}

func (d *decoder) described() (Described, error) {
	if err := d.enter(); err != nil {
		return Described{}, err
	}
	defer func() { d.depth-- }()
	desc, err := d.descriptor()
	if err != nil {
		return Described{}, err
	}
	v, err := d.value()
	if err != nil {
		return Described{}, err
	}
	return Described{Descriptor: desc, Value: v}, nil
}

func (d *decoder) descriptor() (any, error) {
	at := d.off
	desc, err := d.value()
	if err != nil {
		return nil, err
	}
	switch desc.(type) {
	case uint64, Symbol:
		return desc, nil
	}
	d.off = at
	return nil, d.errorf("descriptor must be ulong or symbol, got %T", desc)
}

// body decodes one value whose constructor c was already read.
func (d *decoder) body(c TypeCode) (any, error) {
	switch c {
	case TypeNull:
		return nil, nil
	case TypeTrue:
		return true, nil
	case TypeFalse:
		return false, nil
	case TypeUint0:
		return uint32(0), nil
	case TypeUlong0:
		return uint64(0), nil
	case TypeList0:
		return List{}, nil
	}
	if w := fixedWidth(c); w > 0 {
		p, err := d.next(w)
		if err != nil {
			return nil, err
		}
		return fixedValue(c, p, d)
	}
	switch c {
	case TypeVbin8, TypeStr8, TypeSym8, TypeVbin32, TypeStr32, TypeSym32:
		n, err := d.length(c >= 0xb0)
		if err != nil {
			return nil, err
		}
		p, err := d.next(n)
		if err != nil {
			return nil, err
		}
		switch family(c) {
		case TypeVbin8:
			return append(make([]byte, 0, len(p)), p...), nil
		case TypeStr8:
			return string(p), nil
		default:
			return Symbol(p), nil
		}
	case TypeList8, TypeList32, TypeMap8, TypeMap32, TypeArray8, TypeArray32:
		return d.compound(c)
	}
	d.off--
	return nil, d.errorf("unknown format code 0x%02x", byte(c))
}

func (d *decoder) length(wide bool) (int, error) {
	if !wide {
		c, err := d.byte1()
		return int(c), err
	}
	p, err := d.next(4)
	if err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(n) > uint64(d.remaining()) {
		return 0, d.errorf("length %d exceeds the %d bytes left", n, d.remaining())
	}
	return int(n), nil
}

// fixedWidth is the size of the data after constructor c for fixed-width
// types with data, 0 otherwise.
func fixedWidth(c TypeCode) int {
	switch c {
	case TypeBool, TypeUbyte, TypeByte, TypeSmallUint, TypeSmallUlong, TypeSmallInt, TypeSmallLong:
		return 1
	case TypeUshort, TypeShort:
		return 2
	case TypeUint, TypeInt, TypeFloat, TypeChar, TypeDecimal32:
		return 4
	case TypeUlong, TypeLong, TypeDouble, TypeTimestamp, TypeDecimal64:
		return 8
	case TypeUUID, TypeDecimal128:
		return 16
	}
	return 0
}

func fixedValue(c TypeCode, p []byte, d *decoder) (any, error) {
	switch c {
	case TypeBool:
		switch p[0] {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		d.off--
		return nil, d.errorf("boolean byte 0x%02x is neither 0 nor 1", p[0])
	case TypeUbyte:
		return p[0], nil
	case TypeByte:
		return int8(p[0]), nil
	case TypeSmallUint:
		return uint32(p[0]), nil
	case TypeSmallUlong:
		return uint64(p[0]), nil
	case TypeSmallInt:
		return int32(int8(p[0])), nil
	case TypeSmallLong:
		return int64(int8(p[0])), nil
	case TypeUshort:
		return binary.BigEndian.Uint16(p), nil
	case TypeShort:
		return int16(binary.BigEndian.Uint16(p)), nil
	case TypeUint:
		return binary.BigEndian.Uint32(p), nil
	case TypeInt:
		return int32(binary.BigEndian.Uint32(p)), nil
	case TypeFloat:
		return math.Float32frombits(binary.BigEndian.Uint32(p)), nil
	case TypeChar:
		return Char(binary.BigEndian.Uint32(p)), nil
	case TypeDecimal32:
		return Decimal32(p), nil
	case TypeUlong:
		return binary.BigEndian.Uint64(p), nil
	case TypeLong:
		return int64(binary.BigEndian.Uint64(p)), nil
	case TypeDouble:
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	case TypeTimestamp:
		return time.UnixMilli(int64(binary.BigEndian.Uint64(p))).UTC(), nil
	case TypeDecimal64:
		return Decimal64(p), nil
	case TypeUUID:
		return UUID(p), nil
	case TypeDecimal128:
		return Decimal128(p), nil
	}
	return nil, d.errorf("unknown format code 0x%02x", byte(c))
}

// compound decodes the size and count of a list, map or array, then its
// elements inside a window of exactly size bytes.
func (d *decoder) compound(c TypeCode) (any, error) {
	wide := c == TypeList32 || c == TypeMap32 || c == TypeArray32
	start := d.off - 1
	size, err := d.length(wide)
	if err != nil {
		return nil, err
	}
	if size > d.remaining() {
		return nil, d.errorf("size %d exceeds the %d bytes left", size, d.remaining())
	}
	end := d.off + size
	outer := d.b
	d.b = d.b[:end]
	defer func() { d.b = outer }()
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	count, err := d.length(wide)
	if err != nil {
		return nil, d.errorf("compound 0x%02x at %d: size %d too small for its count", byte(c), start, size)
	}
	var v any
	switch family(c) {
	case TypeList32:
		v, err = d.list(count)
	case TypeMap32:
		v, err = d.mapBody(count)
	default:
		v, err = d.array(count)
	}
	if err != nil {
		return nil, err
	}
	if d.off != end {
		return nil, d.errorf("compound 0x%02x at %d: %d bytes left after its %d elements", byte(c), start, end-d.off, count)
	}
	return v, nil
}

func (d *decoder) list(count int) (List, error) {
	// Every element takes at least its constructor byte.
	if count > d.remaining() {
		return nil, d.errorf("list count %d exceeds the %d bytes left", count, d.remaining())
	}
	l := make(List, count)
	for i := range l {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		l[i] = v
	}
	return l, nil
}

func (d *decoder) mapBody(count int) (Map, error) {
	if count%2 != 0 {
		return nil, d.errorf("map has an odd element count %d", count)
	}
	if count > d.remaining() {
		return nil, d.errorf("map count %d exceeds the %d bytes left", count, d.remaining())
	}
	m := make(Map, count/2)
	for i := range m {
		k, err := d.value()
		if err != nil {
			return nil, err
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[i] = MapEntry{Key: k, Value: v}
	}
	return m, nil
}

func (d *decoder) array(count int) (any, error) {
	c, err := d.byte1()
	if err != nil {
		return nil, err
	}
	var desc any
	if TypeCode(c) == TypeDescribed {
		if desc, err = d.descriptor(); err != nil {
			return nil, err
		}
		if c, err = d.byte1(); err != nil {
			return nil, err
		}
		if TypeCode(c) == TypeDescribed {
			return nil, d.errorf("array element constructor described twice")
		}
	}
	ctor := TypeCode(c)
	min := minWidth(ctor)
	if min < 0 {
		d.off--
		return nil, d.errorf("unknown array element format code 0x%02x", c)
	}
	if min > 0 && count > d.remaining()/min {
		return nil, d.errorf("array count %d exceeds the %d bytes left", count, d.remaining())
	}
	if min == 0 {
		if count > d.free {
			return nil, d.errorf("array of %d zero-width elements exceeds what the input size allows", count)
		}
		d.free -= count
	}
	if desc == nil {
		switch family(ctor) {
		case TypeBool:
			return arrayOf[bool](d, ctor, count)
		case TypeByte:
			return arrayOf[int8](d, ctor, count)
		case TypeShort:
			return arrayOf[int16](d, ctor, count)
		case TypeInt:
			return arrayOf[int32](d, ctor, count)
		case TypeLong:
			return arrayOf[int64](d, ctor, count)
		case TypeUshort:
			return arrayOf[uint16](d, ctor, count)
		case TypeUint:
			return arrayOf[uint32](d, ctor, count)
		case TypeUlong:
			return arrayOf[uint64](d, ctor, count)
		case TypeFloat:
			return arrayOf[float32](d, ctor, count)
		case TypeDouble:
			return arrayOf[float64](d, ctor, count)
		case TypeChar:
			return arrayOf[Char](d, ctor, count)
		case TypeTimestamp:
			return arrayOf[time.Time](d, ctor, count)
		case TypeUUID:
			return arrayOf[UUID](d, ctor, count)
		case TypeVbin8:
			return arrayOf[[]byte](d, ctor, count)
		case TypeStr8:
			return arrayOf[string](d, ctor, count)
		case TypeSym8:
			return arrayOf[Symbol](d, ctor, count)
		}
	}
	vals, err := arrayOf[any](d, ctor, count)
	if err != nil {
		return nil, err
	}
	return Array{Descriptor: desc, Elem: ctor, Values: vals}, nil
}

func arrayOf[T any](d *decoder, ctor TypeCode, count int) ([]T, error) {
	out := make([]T, count)
	for i := range out {
		v, err := d.body(ctor)
		if err != nil {
			return nil, err
		}
		out[i], _ = v.(T)
	}
	return out, nil
}

// minWidth is the least number of bytes an array element with constructor
// c takes, or -1 if c is not a constructor.
func minWidth(c TypeCode) int {
	switch c {
	case TypeNull, TypeTrue, TypeFalse, TypeUint0, TypeUlong0, TypeList0:
		return 0
	case TypeVbin8, TypeStr8, TypeSym8:
		return 1
	case TypeVbin32, TypeStr32, TypeSym32:
		return 4
	case TypeList8, TypeMap8, TypeArray8:
		return 2
	case TypeList32, TypeMap32, TypeArray32:
		return 8
	}
	if w := fixedWidth(c); w > 0 {
		return w
	}
	return -1
}

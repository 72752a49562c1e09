package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"sort"
	"time"
)

// marshaler is implemented by the composite types of this package
// (performatives, terminus, delivery states, Error, message sections).
type marshaler interface {
	appendAMQP(dst []byte) ([]byte, error)
}

// Marshal returns the AMQP encoding of v. See the package documentation for
// the Go types accepted; the performatives, Source, Target, Coordinator,
// delivery states and *Error are accepted too.
func Marshal(v any) ([]byte, error) {
	return Append(nil, v)
}

// Append appends the AMQP encoding of v to dst. On error dst is returned
// unchanged in length (its spare capacity may have been written).
func Append(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

const maxDepth = 100

func errDepth() error { return fmt.Errorf("amqp codec: value nested deeper than %d levels", maxDepth) }

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errDepth()
	}
	switch v := v.(type) {
	case nil:
		return append(b, byte(TypeNull)), nil
	case bool:
		if v {
			return append(b, byte(TypeTrue)), nil
		}
		return append(b, byte(TypeFalse)), nil
	case uint8:
		return append(b, byte(TypeUbyte), v), nil
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, byte(TypeUshort)), v), nil
	case uint32:
		return appendUint(b, v), nil
	case uint64:
		return appendUlong(b, v), nil
	case uint:
		return appendUlong(b, uint64(v)), nil
	case int8:
		return append(b, byte(TypeByte), byte(v)), nil
	case int16:
		return binary.BigEndian.AppendUint16(append(b, byte(TypeShort)), uint16(v)), nil
	case int32:
		return appendInt(b, v), nil
	case int64:
		return appendLong(b, v), nil
	case int:
		return appendLong(b, int64(v)), nil
	case float32:
		return binary.BigEndian.AppendUint32(append(b, byte(TypeFloat)), math.Float32bits(v)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, byte(TypeDouble)), math.Float64bits(v)), nil
	case Decimal32:
		return append(append(b, byte(TypeDecimal32)), v[:]...), nil
	case Decimal64:
		return append(append(b, byte(TypeDecimal64)), v[:]...), nil
	case Decimal128:
		return append(append(b, byte(TypeDecimal128)), v[:]...), nil
	case Char:
		return binary.BigEndian.AppendUint32(append(b, byte(TypeChar)), uint32(v)), nil
	case time.Time:
		return binary.BigEndian.AppendUint64(append(b, byte(TypeTimestamp)), uint64(v.UnixMilli())), nil
	case UUID:
		return append(append(b, byte(TypeUUID)), v[:]...), nil
	case []byte:
		return appendVar(b, TypeVbin8, TypeVbin32, v), nil
	case string:
		return appendVar(b, TypeStr8, TypeStr32, v), nil
	case Symbol:
		return appendVar(b, TypeSym8, TypeSym32, v), nil
	case Described:
		return appendDescribed(b, v.Descriptor, v.Value, depth)
	case *Described:
		if v == nil {
			return append(b, byte(TypeNull)), nil
		}
		return appendDescribed(b, v.Descriptor, v.Value, depth)
	case List:
		return appendList(b, v, depth)
	case []any:
		return appendList(b, v, depth)
	case Map:
		return appendMap(b, v, depth)
	case map[string]any:
		return appendMap(b, sortedMap(v), depth)
	case map[Symbol]any:
		return appendMap(b, sortedMap(v), depth)
	case Array:
		return appendArray(b, v, depth)
	case *Array:
		if v == nil {
			return append(b, byte(TypeNull)), nil
		}
		return appendArray(b, *v, depth)
	case Error:
		return appendError(b, &v)
	case *Error:
		if v == nil {
			return append(b, byte(TypeNull)), nil
		}
		return appendError(b, v)
	case marshaler:
		if isNilPointer(v) {
			return append(b, byte(TypeNull)), nil
		}
		return v.appendAMQP(b)
	}
	if b2, ok, err := appendTypedArray(b, v); ok {
		return b2, err
	}
	return b, fmt.Errorf("amqp codec: cannot encode Go type %T", v)
}

func sortedMap[K ~string](m map[K]any) Map {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make(Map, len(keys))
	for i, k := range keys {
		out[i] = MapEntry{Key: k, Value: m[k]}
	}
	return out
}

func appendUint(b []byte, v uint32) []byte {
	switch {
	case v == 0:
		return append(b, byte(TypeUint0))
	case v < 256:
		return append(b, byte(TypeSmallUint), byte(v))
	}
	return binary.BigEndian.AppendUint32(append(b, byte(TypeUint)), v)
}

func appendUlong(b []byte, v uint64) []byte {
	switch {
	case v == 0:
		return append(b, byte(TypeUlong0))
	case v < 256:
		return append(b, byte(TypeSmallUlong), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, byte(TypeUlong)), v)
}

func appendInt(b []byte, v int32) []byte {
	if v >= math.MinInt8 && v <= math.MaxInt8 {
		return append(b, byte(TypeSmallInt), byte(v))
	}
	return binary.BigEndian.AppendUint32(append(b, byte(TypeInt)), uint32(v))
}

func appendLong(b []byte, v int64) []byte {
	if v >= math.MinInt8 && v <= math.MaxInt8 {
		return append(b, byte(TypeSmallLong), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, byte(TypeLong)), uint64(v))
}

func appendVar[T ~string | ~[]byte](b []byte, c8, c32 TypeCode, v T) []byte {
	if len(v) < 256 {
		b = append(b, byte(c8), byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, byte(c32)), uint32(len(v)))
	}
	return append(b, v...)
}

func appendDescribed(b []byte, desc, val any, depth int) ([]byte, error) {
	switch d := desc.(type) {
	case uint64:
		b = appendUlong(append(b, 0), d)
	case Symbol:
		b = appendVar(append(b, 0), TypeSym8, TypeSym32, d)
	default:
		return b, fmt.Errorf("amqp codec: descriptor must be uint64 or Symbol, not %T", desc)
	}
	return appendValue(b, val, depth+1)
}

// compound writes list/map bodies: it reserves a 32-bit header, lets the
// caller append the elements, then shrinks to the 8-bit form when it fits.
type compound struct {
	start int // index of the constructor byte
	count int
}

const compoundHeader = 9 // constructor + size32 + count32

func beginCompound(b []byte) ([]byte, compound) {
	c := compound{start: len(b)}
	return append(b, make([]byte, compoundHeader)...), c
}

// finish writes the header. end is where the encoded elements stop (the
// elements from there on are dropped: that is how trailing absent fields
// of composite types are trimmed).
func (c compound) finish(b []byte, end int, code8, code32 TypeCode, force32 bool) []byte {
	b = b[:end]
	body := end - (c.start + compoundHeader)
	if !force32 && body+1 <= math.MaxUint8 && c.count <= math.MaxUint8 {
		b[c.start] = byte(code8)
		b[c.start+1] = byte(body + 1)
		b[c.start+2] = byte(c.count)
		copy(b[c.start+3:], b[c.start+compoundHeader:end])
		return b[:end-6]
	}
	b[c.start] = byte(code32)
	binary.BigEndian.PutUint32(b[c.start+1:], uint32(body+4))
	binary.BigEndian.PutUint32(b[c.start+5:], uint32(c.count))
	return b
}

func appendList(b []byte, l []any, depth int) ([]byte, error) {
	if len(l) == 0 {
		return append(b, byte(TypeList0)), nil
	}
	b, c := beginCompound(b)
	var err error
	for _, v := range l {
		if b, err = appendValue(b, v, depth+1); err != nil {
			return b, err
		}
	}
	c.count = len(l)
	return c.finish(b, len(b), TypeList8, TypeList32, false), nil
}

func appendMap(b []byte, m Map, depth int) ([]byte, error) {
	b, c := beginCompound(b)
	var err error
	for _, e := range m {
		if b, err = appendValue(b, e.Key, depth+1); err != nil {
			return b, err
		}
		if b, err = appendValue(b, e.Value, depth+1); err != nil {
			return b, err
		}
	}
	c.count = 2 * len(m)
	return c.finish(b, len(b), TypeMap8, TypeMap32, false), nil
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

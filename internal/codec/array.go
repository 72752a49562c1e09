package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// appendTypedArray encodes the typed slices listed in the package
// documentation as AMQP arrays. ok is false when v is not one of them.
func appendTypedArray(b []byte, v any) (out []byte, ok bool, err error) {
	switch v := v.(type) {
	case []bool:
		return fixedArray(b, TypeBool, v, func(b []byte, x bool) []byte {
			if x {
				return append(b, 1)
			}
			return append(b, 0)
		}), true, nil
	case []int8:
		return fixedArray(b, TypeByte, v, func(b []byte, x int8) []byte { return append(b, byte(x)) }), true, nil
	case []int16:
		return fixedArray(b, TypeShort, v, func(b []byte, x int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(x)) }), true, nil
	case []int32:
		return fixedArray(b, TypeInt, v, func(b []byte, x int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(x)) }), true, nil
	case []int64:
		return fixedArray(b, TypeLong, v, func(b []byte, x int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(x)) }), true, nil
	case []uint16:
		return fixedArray(b, TypeUshort, v, binary.BigEndian.AppendUint16), true, nil
	case []uint32:
		return fixedArray(b, TypeUint, v, binary.BigEndian.AppendUint32), true, nil
	case []uint64:
		return fixedArray(b, TypeUlong, v, binary.BigEndian.AppendUint64), true, nil
	case []float32:
		return fixedArray(b, TypeFloat, v, func(b []byte, x float32) []byte { return binary.BigEndian.AppendUint32(b, math.Float32bits(x)) }), true, nil
	case []float64:
		return fixedArray(b, TypeDouble, v, func(b []byte, x float64) []byte { return binary.BigEndian.AppendUint64(b, math.Float64bits(x)) }), true, nil
	case []Char:
		return fixedArray(b, TypeChar, v, func(b []byte, x Char) []byte { return binary.BigEndian.AppendUint32(b, uint32(x)) }), true, nil
	case []time.Time:
		return fixedArray(b, TypeTimestamp, v, func(b []byte, x time.Time) []byte { return binary.BigEndian.AppendUint64(b, uint64(x.UnixMilli())) }), true, nil
	case []UUID:
		return fixedArray(b, TypeUUID, v, func(b []byte, x UUID) []byte { return append(b, x[:]...) }), true, nil
	case [][]byte:
		return varArray(b, TypeVbin8, TypeVbin32, v), true, nil
	case []string:
		return varArray(b, TypeStr8, TypeStr32, v), true, nil
	case []Symbol:
		return varArray(b, TypeSym8, TypeSym32, v), true, nil
	}
	return b, false, nil
}

func fixedArray[T any](b []byte, code TypeCode, v []T, put func([]byte, T) []byte) []byte {
	b, c := beginCompound(b)
	b = append(b, byte(code))
	for _, x := range v {
		b = put(b, x)
	}
	c.count = len(v)
	return c.finish(b, len(b), TypeArray8, TypeArray32, false)
}

func varArray[T ~string | ~[]byte](b []byte, c8, c32 TypeCode, v []T) []byte {
	wide := false
	for _, x := range v {
		if len(x) > math.MaxUint8 {
			wide = true
			break
		}
	}
	b, c := beginCompound(b)
	if wide {
		b = append(b, byte(c32))
	} else {
		b = append(b, byte(c8))
	}
	for _, x := range v {
		if wide {
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		} else {
			b = append(b, byte(len(x)))
		}
		b = append(b, x...)
	}
	c.count = len(v)
	return c.finish(b, len(b), TypeArray8, TypeArray32, false)
}

// family maps every constructor of a type to one canonical constructor.
func family(c TypeCode) TypeCode {
	switch c {
	case TypeTrue, TypeFalse:
		return TypeBool
	case TypeSmallUint, TypeUint0:
		return TypeUint
	case TypeSmallUlong, TypeUlong0:
		return TypeUlong
	case TypeSmallInt:
		return TypeInt
	case TypeSmallLong:
		return TypeLong
	case TypeVbin32:
		return TypeVbin8
	case TypeStr32:
		return TypeStr8
	case TypeSym32:
		return TypeSym8
	case TypeList0, TypeList8:
		return TypeList32
	case TypeMap8:
		return TypeMap32
	case TypeArray8:
		return TypeArray32
	}
	return c
}

// familyOf returns the canonical constructor for a Go value.
func familyOf(v any) (TypeCode, bool) {
	switch v.(type) {
	case nil:
		return TypeNull, true
	case bool:
		return TypeBool, true
	case uint8:
		return TypeUbyte, true
	case uint16:
		return TypeUshort, true
	case uint32:
		return TypeUint, true
	case uint64, uint:
		return TypeUlong, true
	case int8:
		return TypeByte, true
	case int16:
		return TypeShort, true
	case int32:
		return TypeInt, true
	case int64, int:
		return TypeLong, true
	case float32:
		return TypeFloat, true
	case float64:
		return TypeDouble, true
	case Decimal32:
		return TypeDecimal32, true
	case Decimal64:
		return TypeDecimal64, true
	case Decimal128:
		return TypeDecimal128, true
	case Char:
		return TypeChar, true
	case time.Time:
		return TypeTimestamp, true
	case UUID:
		return TypeUUID, true
	case []byte:
		return TypeVbin8, true
	case string:
		return TypeStr8, true
	case Symbol:
		return TypeSym8, true
	case List, []any:
		return TypeList32, true
	case Map, map[string]any, map[Symbol]any:
		return TypeMap32, true
	case Array, *Array, []bool, []int8, []int16, []int32, []int64, []uint16, []uint32, []uint64,
		[]float32, []float64, []Char, []time.Time, []UUID, [][]byte, []string, []Symbol:
		return TypeArray32, true
	}
	return 0, false
}

func appendArray(b []byte, a Array, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errDepth()
	}
	fam := family(a.Elem)
	if a.Elem == 0 {
		fam = TypeNull
		if len(a.Values) > 0 {
			f, ok := familyOf(a.Values[0])
			if !ok {
				return b, fmt.Errorf("amqp codec: cannot encode %T as an array element", a.Values[0])
			}
			fam = f
		}
	}
	// Variable-width elements use the 8-bit form when all of them fit.
	// Compound elements (list, map, array) always use the 32-bit form.
	ctor := fam
	switch fam {
	case TypeVbin8, TypeStr8, TypeSym8:
		for _, v := range a.Values {
			n := -1
			switch x := v.(type) {
			case []byte:
				n = len(x)
			case string:
				n = len(x)
			case Symbol:
				n = len(x)
			}
			if n > math.MaxUint8 {
				ctor = fam + 0x10 // vbin32, str32, sym32
				break
			}
		}
	}
	start := len(b)
	b, c := beginCompound(b)
	var err error
	if a.Descriptor != nil {
		if b, err = appendDescribed(b, a.Descriptor, nil, depth); err != nil {
			return b[:start], err
		}
		b = b[:len(b)-1] // drop the null value appendDescribed wrote
	}
	b = append(b, byte(ctor))
	for _, v := range a.Values {
		if b, err = appendElement(b, ctor, v, depth+1); err != nil {
			return b[:start], err
		}
	}
	c.count = len(a.Values)
	return c.finish(b, len(b), TypeArray8, TypeArray32, false), nil
}

// appendElement appends the encoding of v without its constructor, which
// the array carries once for all elements.
func appendElement(b []byte, ctor TypeCode, v any, depth int) ([]byte, error) {
	if fam, ok := familyOf(v); !ok || fam != family(ctor) {
		return b, fmt.Errorf("amqp codec: array element %T does not match element type 0x%02x", v, byte(ctor))
	}
	switch ctor {
	case TypeNull:
		return b, nil
	case TypeBool:
		if v.(bool) {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case TypeUint:
		return binary.BigEndian.AppendUint32(b, v.(uint32)), nil
	case TypeUlong:
		if u, ok := v.(uint); ok {
			return binary.BigEndian.AppendUint64(b, uint64(u)), nil
		}
		return binary.BigEndian.AppendUint64(b, v.(uint64)), nil
	case TypeInt:
		return binary.BigEndian.AppendUint32(b, uint32(v.(int32))), nil
	case TypeLong:
		if i, ok := v.(int); ok {
			return binary.BigEndian.AppendUint64(b, uint64(i)), nil
		}
		return binary.BigEndian.AppendUint64(b, uint64(v.(int64))), nil
	case TypeVbin8:
		x := v.([]byte)
		return append(append(b, byte(len(x))), x...), nil
	case TypeStr8, TypeSym8:
		x := fmt.Sprint(v)
		return append(append(b, byte(len(x))), x...), nil
	case TypeVbin32:
		x := v.([]byte)
		return append(binary.BigEndian.AppendUint32(b, uint32(len(x))), x...), nil
	case TypeStr32, TypeSym32:
		x := fmt.Sprint(v)
		return append(binary.BigEndian.AppendUint32(b, uint32(len(x))), x...), nil
	case TypeList32, TypeMap32, TypeArray32:
		pos := len(b)
		b, err := appendValue(b, v, depth)
		if err != nil {
			return b, err
		}
		return widen(b, pos), nil
	}
	// Fixed-width scalars: encode with the constructor, then drop it.
	pos := len(b)
	b, err := appendValue(b, v, depth)
	if err != nil {
		return b, err
	}
	copy(b[pos:], b[pos+1:])
	return b[:len(b)-1], nil
}

// widen rewrites the list, map or array encoded at b[pos:] into the body
// of its 32-bit form (size32, count32, content) without constructor.
func widen(b []byte, pos int) []byte {
	switch TypeCode(b[pos]) {
	case TypeList0:
		b = b[:pos]
		return append(b, 0, 0, 0, 4, 0, 0, 0, 0)
	case TypeList8, TypeMap8, TypeArray8:
		size, count := uint32(b[pos+1])+3, uint32(b[pos+2])
		contentLen := len(b) - (pos + 3)
		b = append(b, 0, 0, 0, 0, 0)
		copy(b[pos+8:], b[pos+3:pos+3+contentLen])
		binary.BigEndian.PutUint32(b[pos:], size)
		binary.BigEndian.PutUint32(b[pos+4:], count)
		return b
	default: // already 32-bit: drop the constructor
		copy(b[pos:], b[pos+1:])
		return b[:len(b)-1]
	}
}

package typefix

import (
	"encoding/binary"
	"encoding/hex"
	"maps"
	"reflect"
	"sync"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/codec"
)

// Descriptors of the placeholders (AMQP symbols). A described value with one
// of these descriptors stands for the AMQP value named in its comment; the
// "amq:" namespace is reserved for them. See the package documentation for
// the value each one carries.
const (
	// DescriptorChar: a char; the value is the code point as a uint.
	DescriptorChar = "amq:char:v1"
	// DescriptorDecimal32: a decimal32; the value is a uint holding its
	// 4 bytes (big-endian).
	DescriptorDecimal32 = "amq:decimal32:v1"
	// DescriptorDecimal64: a decimal64; the value is a ulong holding its
	// 8 bytes (big-endian).
	DescriptorDecimal64 = "amq:decimal64:v1"
	// DescriptorDecimal128: a decimal128; the value is a string of 32
	// lower-case hex digits, its 16 bytes in order.
	DescriptorDecimal128 = "amq:decimal128:v1"
	// DescriptorCharArray: an array of char; the value is a string of hex
	// digits, 8 per element (the elements' 4-byte big-endian code points).
	DescriptorCharArray = "amq:char-array:v1"
	// DescriptorDecimal32Array: an array of decimal32; the value is a string
	// of hex digits, 8 per element.
	DescriptorDecimal32Array = "amq:decimal32-array:v1"
	// DescriptorDecimal64Array: an array of decimal64; the value is a string
	// of hex digits, 16 per element.
	DescriptorDecimal64Array = "amq:decimal64-array:v1"
	// DescriptorDecimal128Array: an array of decimal128; the value is a
	// string of hex digits, 32 per element.
	DescriptorDecimal128Array = "amq:decimal128-array:v1"
	// DescriptorSymbol: a symbol in a value position, which go-amqp would
	// decode as a plain string; the value is the symbol itself. The name
	// is short because it is added to every symbol (see the headroom
	// proof in the package documentation).
	DescriptorSymbol = "amq:sym"
	// DescriptorRaw: any value go-amqp cannot decode or encode (arrays of
	// lists, maps of arrays, described elements or nulls; values described
	// by AMQP's own descriptors); the value is a string of hex digits, the
	// value's AMQP encoding.
	DescriptorRaw = "amq:raw:v1"
)

// kind identifies one of the eight placeholders.
type kind uint8

const (
	kindNone kind = iota
	kindChar
	kindDec32
	kindDec64
	kindDec128
	kindCharArray
	kindDec32Array
	kindDec64Array
	kindDec128Array
	kindSymbol
	kindRaw
)

var kindNames = [...]string{
	kindChar:        DescriptorChar,
	kindDec32:       DescriptorDecimal32,
	kindDec64:       DescriptorDecimal64,
	kindDec128:      DescriptorDecimal128,
	kindCharArray:   DescriptorCharArray,
	kindDec32Array:  DescriptorDecimal32Array,
	kindDec64Array:  DescriptorDecimal64Array,
	kindDec128Array: DescriptorDecimal128Array,
	kindSymbol:      DescriptorSymbol,
	kindRaw:         DescriptorRaw,
}

func kindOf(name string) kind {
	if len(name) < len(DescriptorSymbol) || name[:4] != "amq:" {
		return kindNone
	}
	for k := kindChar; k <= kindRaw; k++ {
		if kindNames[k] == name {
			return k
		}
	}
	return kindNone
}

// elemWidth is the width in bytes of one element of the AMQP type a kind
// stands for (char and decimal32: 4, decimal64: 8, decimal128: 16).
func (k kind) elemWidth() int {
	switch k {
	case kindChar, kindDec32, kindCharArray, kindDec32Array:
		return 4
	case kindDec64, kindDec64Array:
		return 8
	}
	return 16
}

// code is the AMQP format code of the type a kind stands for.
func (k kind) code() byte {
	switch k {
	case kindChar, kindCharArray:
		return byte(codec.TypeChar)
	case kindDec32, kindDec32Array:
		return byte(codec.TypeDecimal32)
	case kindDec64, kindDec64Array:
		return byte(codec.TypeDecimal64)
	}
	return byte(codec.TypeDecimal128)
}

// goAMQP holds what Placeholder needs to build values go-amqp can encode.
// go-amqp v1.7 exports no type for described values: its DescribedType lives
// in an internal package and its encoder only accepts types of its own.
// NewLinkFilter is the one exported function that builds one (a
// *encoding.DescribedType with a symbol descriptor when code is 0); it
// stores it in a map of go-amqp's internal Filter type, which reflection
// can create. The values built here are ordinary go-amqp values: go-amqp
// encodes them as 0x00, sym8 descriptor, value.
var goAMQP struct {
	once       sync.Once
	filterType reflect.Type
}

// newDescribed returns go-amqp's described value with the given descriptor
// (a string or amqp.Symbol for a symbol, a uint64) and value.
func newDescribed(descriptor any, value any) any {
	goAMQP.once.Do(func() {
		goAMQP.filterType = reflect.TypeOf(amqp.NewLinkFilter("", 0, nil)).In(0)
	})
	if s, ok := descriptor.(string); ok {
		descriptor = amqp.Symbol(s)
	}
	f := amqp.NewLinkFilter("", 0, value)
	m := reflect.MakeMapWithSize(goAMQP.filterType, 1)
	reflect.ValueOf(f).Call([]reflect.Value{m})
	it := m.MapRange()
	if !it.Next() {
		return nil
	}
	d := it.Value() // a *encoding.DescribedType
	d.Elem().FieldByName("Descriptor").Set(reflect.ValueOf(&descriptor).Elem())
	return d.Interface()
}

// Placeholder returns the value to give go-amqp in place of v so that the
// connection wrapper sends v's real AMQP encoding. v is a codec.Char,
// codec.Decimal32, codec.Decimal64, codec.Decimal128, a []codec.Char, a
// slice of one of the decimal types, or a codec.Array without descriptor
// whose elements are all chars or all one decimal type (as codec.Unmarshal
// returns decimal arrays). ok is false for any other v, which is returned
// unchanged. The result is a go-amqp described value; it is valid anywhere
// go-amqp encodes an arbitrary value (body, application-properties values,
// annotations, footer, map keys, inside lists and maps).
func Placeholder(v any) (p any, ok bool) {
	switch x := v.(type) {
	case codec.Char:
		return newDescribed(DescriptorChar, uint32(x)), true
	case codec.Decimal32:
		return newDescribed(DescriptorDecimal32, binary.BigEndian.Uint32(x[:])), true
	case codec.Decimal64:
		return newDescribed(DescriptorDecimal64, binary.BigEndian.Uint64(x[:])), true
	case codec.Decimal128:
		return newDescribed(DescriptorDecimal128, hex.EncodeToString(x[:])), true
	case []codec.Char:
		b := make([]byte, 0, 4*len(x))
		for _, c := range x {
			b = binary.BigEndian.AppendUint32(b, uint32(c))
		}
		return newDescribed(DescriptorCharArray, hex.EncodeToString(b)), true
	case []codec.Decimal32:
		return arrayPlaceholder(DescriptorDecimal32Array, x)
	case []codec.Decimal64:
		return arrayPlaceholder(DescriptorDecimal64Array, x)
	case []codec.Decimal128:
		return arrayPlaceholder(DescriptorDecimal128Array, x)
	case codec.Array:
		if t, ok := asTypedSlice(x); ok {
			return Placeholder(t)
		}
	}
	return v, false
}

// asTypedSlice returns an undescribed codec.Array of chars or of one decimal
// type (as codec.Unmarshal returns decimal arrays) as the typed slice amq
// uses for it. The element type is a.Elem, or that of the first value when
// a.Elem is zero.
func asTypedSlice(a codec.Array) (any, bool) {
	if a.Descriptor != nil {
		return nil, false
	}
	elem := a.Elem
	if elem == 0 && len(a.Values) > 0 {
		switch a.Values[0].(type) {
		case codec.Char:
			elem = codec.TypeChar
		case codec.Decimal32:
			elem = codec.TypeDecimal32
		case codec.Decimal64:
			elem = codec.TypeDecimal64
		case codec.Decimal128:
			elem = codec.TypeDecimal128
		}
	}
	switch elem {
	case codec.TypeChar:
		return typedSlice[codec.Char](a.Values)
	case codec.TypeDecimal32:
		return typedSlice[codec.Decimal32](a.Values)
	case codec.TypeDecimal64:
		return typedSlice[codec.Decimal64](a.Values)
	case codec.TypeDecimal128:
		return typedSlice[codec.Decimal128](a.Values)
	}
	return nil, false
}

// typedSlice returns vals as a []T, or false if one of them is not a T.
func typedSlice[T any](vals []any) (any, bool) {
	s := make([]T, len(vals))
	for i, e := range vals {
		t, ok := e.(T)
		if !ok {
			return nil, false
		}
		s[i] = t
	}
	return s, true
}

func arrayPlaceholder[T codec.Decimal32 | codec.Decimal64 | codec.Decimal128](name string, x []T) (any, bool) {
	var b []byte
	for i := range x {
		b = append(b, bytesOf(&x[i])...)
	}
	return newDescribed(name, hex.EncodeToString(b)), true
}

func bytesOf[T codec.Decimal32 | codec.Decimal64 | codec.Decimal128](x *T) []byte {
	switch v := any(x).(type) {
	case *codec.Decimal32:
		return v[:]
	case *codec.Decimal64:
		return v[:]
	case *codec.Decimal128:
		return v[:]
	}
	return nil
}

// CharPlaceholder is Placeholder(codec.Char(r)).
func CharPlaceholder(r rune) any {
	p, _ := Placeholder(codec.Char(r))
	return p
}

// Restore turns a value decoded by go-amqp into amq's type map. Every
// described value (go-amqp's internal DescribedType, by value or pointer)
// whose descriptor is one of the Descriptor constants and whose value is
// well formed becomes the original value: a codec.Char, codec.Decimal32,
// codec.Decimal64, codec.Decimal128, a []codec.Char, []codec.Decimal32,
// []codec.Decimal64 or []codec.Decimal128, an amqp.Symbol, or (raw) what
// fromCodec makes of the encoded value. Every other described value
// becomes a Described, and go-amqp's ArrayUByte an Array of uint8.
// Restore looks inside []any, map[any]any (and amqp.Annotations),
// map[string]any, []map[any]any and the values of other described values.
// A container that holds a placeholder is copied, never modified: v itself
// is left as it was. Values without placeholders are returned as they are.
func Restore(v any) any {
	r, _ := restore(v, 0)
	return r
}

const maxRestoreDepth = 100

func restore(v any, depth int) (any, bool) {
	if v == nil || depth > maxRestoreDepth {
		return v, false
	}
	switch x := v.(type) {
	case bool, string, []byte, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
		float32, float64, int, uint, amqp.Symbol, amqp.UUID, time.Time:
		return v, false // the common scalars, without reflection
	case []any:
		var out []any
		for i, e := range x {
			r, ch := restore(e, depth+1)
			if ch && out == nil {
				out = append(make([]any, 0, len(x)), x[:i]...)
			}
			if out != nil {
				out = append(out, r)
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			if r, ch := restore(e, depth+1); ch {
				if out == nil {
					out = maps.Clone(x)
				}
				out[k] = r
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case map[any]any:
		return restoreMap(x, depth)
	case amqp.Annotations:
		if r, ch := restoreMap(x, depth); ch {
			return amqp.Annotations(r.(map[any]any)), true
		}
		return v, false
	case []map[any]any:
		var out []map[any]any
		for i, e := range x {
			r, ch := restoreMap(e, depth+1)
			if ch && out == nil {
				out = append(make([]map[any]any, 0, len(x)), x[:i]...)
			}
			if out != nil {
				out = append(out, r.(map[any]any))
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	}
	return restoreDescribed(v, depth)
}

func restoreMap(x map[any]any, depth int) (any, bool) {
	changed := false
	for k, e := range x {
		_, kc := restore(k, depth+1)
		_, ec := restore(e, depth+1)
		if kc || ec {
			changed = true
			break
		}
	}
	if !changed {
		return x, false
	}
	out := make(map[any]any, len(x))
	for k, e := range x {
		rk, _ := restore(k, depth+1)
		re, _ := restore(e, depth+1)
		if !hashable(rk) {
			// A key that restores to a slice (an array of char or
			// decimals, a raw array or described value) cannot key a Go
			// map: keep it as go-amqp decoded it rather than panic on
			// what a peer sent.
			rk = k
		}
		out[rk] = re
	}
	return out, true
}

// goAMQPDescribed reports whether t is go-amqp's DescribedType.
func goAMQPDescribed(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.Name() == "DescribedType" &&
		t.PkgPath() == "github.com/Azure/go-amqp/internal/encoding"
}

func restoreDescribed(v any, depth int) (any, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return v, false
		}
		rv = rv.Elem()
	}
	if goAMQPUbyteArray(rv.Type()) {
		a := Array{Values: make([]any, rv.Len())}
		for i := range a.Values {
			a.Values[i] = uint8(rv.Index(i).Uint())
		}
		return a, true
	}
	if !goAMQPDescribed(rv.Type()) {
		return v, false
	}
	desc, val := rv.FieldByName("Descriptor").Elem(), rv.FieldByName("Value")
	var d any
	if desc.IsValid() {
		d = desc.Interface()
	}
	if desc.IsValid() && desc.Kind() == reflect.String {
		name := desc.String()
		if k := kindOf(name); k != kindNone {
			if r, ok := fromPlaceholderValue(k, val.Interface()); ok {
				return r, true
			}
		}
		d = amqp.Symbol(name)
	}
	inner, _ := restore(val.Interface(), depth+1)
	return Described{Descriptor: d, Value: inner}, true
}

// goAMQPUbyteArray reports whether t is go-amqp's ArrayUByte (what it
// decodes an array of ubyte into).
func goAMQPUbyteArray(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Name() == "ArrayUByte" &&
		t.PkgPath() == "github.com/Azure/go-amqp/internal/encoding"
}

// fromPlaceholderValue turns the value of a placeholder of kind k, as go-amqp
// decoded it, into the codec value it stands for.
func fromPlaceholderValue(k kind, v any) (any, bool) {
	switch k {
	case kindSymbol:
		if s, ok := v.(string); ok {
			return amqp.Symbol(s), true
		}
		return nil, false
	case kindRaw:
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, false
		}
		cv, n, err := codec.Unmarshal(b)
		if err != nil || n != len(b) {
			return nil, false
		}
		return fromCodec(cv, 0), true
	case kindChar:
		if u, ok := v.(uint32); ok {
			return codec.Char(u), true
		}
	case kindDec32:
		if u, ok := v.(uint32); ok {
			var d codec.Decimal32
			binary.BigEndian.PutUint32(d[:], u)
			return d, true
		}
	case kindDec64:
		if u, ok := v.(uint64); ok {
			var d codec.Decimal64
			binary.BigEndian.PutUint64(d[:], u)
			return d, true
		}
	default:
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		b, err := hex.DecodeString(s)
		w := k.elemWidth()
		if err != nil || len(b)%w != 0 {
			return nil, false
		}
		switch k {
		case kindDec128:
			if len(b) != 16 {
				return nil, false
			}
			return codec.Decimal128(b), true
		case kindCharArray:
			out := make([]codec.Char, len(b)/4)
			for i := range out {
				out[i] = codec.Char(binary.BigEndian.Uint32(b[4*i:]))
			}
			return out, true
		}
		// Arrays of decimals come back as typed slices, the form a Go
		// program sends them in (and the form an array of char takes).
		n := len(b) / w
		switch k {
		case kindDec32Array:
			out := make([]codec.Decimal32, n)
			for i := range out {
				out[i] = codec.Decimal32(b[w*i : w*i+w])
			}
			return out, true
		case kindDec64Array:
			out := make([]codec.Decimal64, n)
			for i := range out {
				out[i] = codec.Decimal64(b[w*i : w*i+w])
			}
			return out, true
		default:
			out := make([]codec.Decimal128, n)
			for i := range out {
				out[i] = codec.Decimal128(b[w*i : w*i+w])
			}
			return out, true
		}
	}
	return nil, false
}

package amq

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/amqgo/amq/amqptype"
	"github.com/amqgo/amq/internal/codec"
)

// The AMQP ↔ Go type map (reference chapter 14; docs/types.md has the
// tables). Go's native types cover most AMQP types: bool, uint8…uint64
// (ubyte…ulong), int8…int64 (byte…long), float32, float64, string, []byte
// (binary), time.Time (timestamp), nil (null), []any (list), maps (map),
// typed slices such as []int32 or []string (array). The types below name
// the AMQP types Go has no type for, so that a value survives a round trip
// with its AMQP type intact.

// Symbol is the AMQP symbol type: an ASCII string from a constrained
// domain, used for annotation keys, capabilities and conditions.
type Symbol = amqptype.Symbol

// UUID is the AMQP uuid type, in RFC 4122 byte order.
type UUID = amqptype.UUID

// Char is the AMQP char type: one Unicode code point. (A Go rune is an
// int32 and travels as an AMQP int.)
type Char = amqptype.Char

// Decimal32 is the AMQP decimal32 type: an IEEE 754-2008 decimal32 in its
// binary encoding, as on the wire.
type Decimal32 = amqptype.Decimal32

// Decimal64 is the AMQP decimal64 type (IEEE 754-2008 decimal64).
type Decimal64 = amqptype.Decimal64

// Decimal128 is the AMQP decimal128 type (IEEE 754-2008 decimal128).
type Decimal128 = amqptype.Decimal128

// Described is an AMQP described value: a descriptor (an amq.Symbol such
// as "com.example:point", or a uint64: domain-id<<32 | descriptor-id) and
// a value of any type of the map. Values described by AMQP's own
// descriptors (domain 0, below 256: outcomes, performatives) arrive as a
// Described too.
type Described = amqptype.Described

// Array is an AMQP array that no typed Go slice says: an array of ubyte (a
// []uint8 is binary), of lists, maps, arrays or described values, of nulls,
// or one whose every element is described by Descriptor. Its Values must
// all have the same Go type. Arrays of the other element types are typed
// slices ([]int32, []string, []amq.Symbol, …) both ways; an Array of them
// is sent as the same AMQP array.
type Array = amqptype.Array

// Map is an AMQP map as amq hands it out when no Go map can hold it: when
// a key is of a type Go cannot use as a map key (a binary, a list, a map,
// an array), or when the same key comes twice. Its entries keep the order
// of the wire and each key its AMQP type, so the map can be sent back
// exactly as it came. A program may also build one to send a map whose
// key order matters or whose keys are such values. Get, Set and Delete
// compare keys by type and value ([]byte keys by their bytes).
type Map = amqptype.Map

// MapEntry is one key and value of a Map.
type MapEntry = amqptype.MapEntry

// maxValueDepth bounds the nesting of values converted either way; the
// codec bounds what a peer sends the same way.
const maxValueDepth = 100

var errTooDeep = errors.New("value nested more than 100 levels deep")

// toCodec converts a value of the type map into the codec's
// representation. The error names a value that cannot be sent.
func toCodec(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case nil, bool, string, []byte, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
		float32, float64, Symbol, UUID, Char, Decimal32, Decimal64, Decimal128, time.Time:
		return v, nil
	case int:
		return int64(x), nil
	case uint:
		return uint64(x), nil
	case []Decimal32:
		return decimalArray(codec.TypeDecimal32, x), nil
	case []Decimal64:
		return decimalArray(codec.TypeDecimal64, x), nil
	case []Decimal128:
		return decimalArray(codec.TypeDecimal128, x), nil
	case Described:
		d, err := descriptor(x.Descriptor)
		if err != nil {
			return nil, err
		}
		inner, err := toCodec(x.Value, depth+1)
		if err != nil {
			return nil, err
		}
		return codec.Described{Descriptor: d, Value: inner}, nil
	case *Described:
		if x == nil {
			return nil, nil
		}
		return toCodec(*x, depth)
	case Array:
		return arrayToCodec(x, depth)
	case *Array:
		if x == nil {
			return nil, nil
		}
		return arrayToCodec(*x, depth)
	case []any:
		out := make(codec.List, len(x))
		for i, e := range x {
			c, err := toCodec(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		return stringKeyMap(x, depth)
	case map[Symbol]any:
		return stringKeyMap(x, depth)
	case Map:
		return mapToCodec(x, depth)
	case *Map:
		if x == nil {
			return nil, nil
		}
		return mapToCodec(*x, depth)
	case map[any]any:
		out := make(codec.Map, 0, len(x))
		for k, e := range x {
			ck, err := toCodec(k, depth+1)
			if err != nil {
				return nil, fmt.Errorf("map key %v: %w", k, err)
			}
			ce, err := toCodec(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("map key %v: %w", k, err)
			}
			out = append(out, codec.MapEntry{Key: ck, Value: ce})
		}
		return out, nil
	case []map[any]any:
		a := codec.Array{Elem: codec.TypeMap32, Values: make([]any, len(x))}
		for i, m := range x {
			c, err := toCodec(m, depth+1)
			if err != nil {
				return nil, fmt.Errorf("array element %d: %w", i, err)
			}
			a.Values[i] = c
		}
		return a, nil
	case []bool, []int8, []int16, []int32, []int64, []uint16, []uint32, []uint64,
		[]float32, []float64, []Char, []UUID, [][]byte, []string, []Symbol, []time.Time:
		return v, nil // arrays the codec encodes itself
	}
	return nil, fmt.Errorf("cannot send a value of Go type %T (docs/types.md lists the Go types of the AMQP types)", v)
}

// stringKeyMap converts a map keyed by strings or symbols, in key order so
// that one map always encodes to the same bytes.
func stringKeyMap[K ~string](x map[K]any, depth int) (codec.Map, error) {
	out := make(codec.Map, 0, len(x))
	for _, k := range slices.Sorted(maps.Keys(x)) {
		c, err := toCodec(x[k], depth+1)
		if err != nil {
			return nil, fmt.Errorf("map key %q: %w", k, err)
		}
		out = append(out, codec.MapEntry{Key: k, Value: c})
	}
	return out, nil
}

// mapToCodec converts an ordered Map entry by entry, keeping its order.
func mapToCodec(x Map, depth int) (codec.Map, error) {
	out := make(codec.Map, len(x))
	for i, e := range x {
		k, err := toCodec(e.Key, depth+1)
		if err != nil {
			return nil, fmt.Errorf("amq.Map entry %d, key: %w", i, err)
		}
		v, err := toCodec(e.Value, depth+1)
		if err != nil {
			return nil, fmt.Errorf("amq.Map entry %d, value: %w", i, err)
		}
		out[i] = codec.MapEntry{Key: k, Value: v}
	}
	return out, nil
}

func decimalArray[T Decimal32 | Decimal64 | Decimal128](code codec.TypeCode, x []T) codec.Array {
	a := codec.Array{Elem: code, Values: make([]any, len(x))}
	for i, d := range x {
		a.Values[i] = d
	}
	return a
}

func arrayToCodec(x Array, depth int) (any, error) {
	ca := codec.Array{Elem: x.Elem, Values: make([]any, len(x.Values))}
	if x.Descriptor != nil {
		d, err := descriptor(x.Descriptor)
		if err != nil {
			return nil, fmt.Errorf("amq.Array: %w", err)
		}
		ca.Descriptor = d
	}
	var first reflect.Type
	for i, e := range x.Values {
		if i == 0 {
			first = reflect.TypeOf(e)
		} else if reflect.TypeOf(e) != first {
			return nil, fmt.Errorf("an amq.Array holds values of one type: element 0 is %v, element %d is %T", first, i, e)
		}
		c, err := toCodec(e, depth+1)
		if err != nil {
			return nil, err
		}
		ca.Values[i] = c
	}
	if _, err := codec.Marshal(ca); err != nil {
		return nil, fmt.Errorf("cannot encode the amq.Array: %w", err)
	}
	return ca, nil
}

// descriptor checks a Described's or an Array's descriptor: a symbol or a
// ulong.
func descriptor(d any) (any, error) {
	switch x := d.(type) {
	case Symbol:
		// An empty symbol is still a symbol: a peer may send one, and
		// what it sends must send back.
		return x, nil
	case string:
		if x == "" {
			return nil, errors.New("a Described needs a descriptor: the symbol is empty")
		}
		return Symbol(x), nil
	case uint64:
		return x, nil
	case nil:
		return nil, errors.New("a Described needs a descriptor (an amq.Symbol or a uint64), got nil")
	}
	return nil, fmt.Errorf("a Described's descriptor must be an amq.Symbol or a uint64, got %T", d)
}

// fromCodec converts a decoded value into the type map: maps as
// fromCodecMap says, an empty list a nil []any, arrays of decimals and
// chars typed slices, arrays of maps []map[any]any (an Array of Map when
// one of them needs a Map), the other arrays an Array, described values a
// Described.
func fromCodec(v any, depth int) any {
	if depth > maxValueDepth {
		return v
	}
	switch x := v.(type) {
	case codec.List:
		if len(x) == 0 {
			return []any(nil)
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromCodec(e, depth+1)
		}
		return out
	case codec.Map:
		return fromCodecMap(x, depth)
	case codec.Described:
		return Described{Descriptor: x.Descriptor, Value: fromCodec(x.Value, depth+1)}
	case codec.Array:
		if t, ok := asTypedSlice(x); ok {
			return t
		}
		if x.Descriptor == nil {
			switch x.Elem {
			case codec.TypeMap8, codec.TypeMap32:
				if out, ok := mapArray(x.Values, depth+1); ok {
					return out
				}
			}
		}
		// Elem is kept for an empty array only, whose element type could
		// not be told from its values: the others compare equal to the
		// Array a program builds, which leaves Elem to be inferred.
		a := Array{Values: make([]any, len(x.Values))}
		if len(x.Values) == 0 {
			a.Elem = x.Elem
		}
		if x.Descriptor != nil {
			a.Descriptor = fromCodec(x.Descriptor, depth+1)
		}
		for i, e := range x.Values {
			a.Values[i] = fromCodec(e, depth+1)
		}
		return a
	}
	return v
}

// fromCodecMap converts a decoded map into the Go type that keeps what its
// keys' AMQP types say: map[string]any when every key is a string (JMS
// MapMessage, application properties), map[Symbol]any when every key is a
// symbol, map[any]any for other keys Go can hash (each key of its own
// type), and a Map, ordered, when a key is one Go cannot hash or a key
// comes twice: a Go map would panic on the one and drop the other.
func fromCodecMap(m codec.Map, depth int) any {
	if len(m) == 0 {
		return map[any]any{}
	}
	allStrings, allSymbols := true, true
	for _, e := range m {
		switch e.Key.(type) {
		case string:
			allSymbols = false
		case Symbol:
			allStrings = false
		default:
			allStrings, allSymbols = false, false
		}
	}
	switch {
	case allStrings:
		out := make(map[string]any, len(m))
		for _, e := range m {
			out[e.Key.(string)] = fromCodec(e.Value, depth+1)
		}
		if len(out) == len(m) {
			return out
		}
	case allSymbols:
		out := make(map[Symbol]any, len(m))
		for _, e := range m {
			out[e.Key.(Symbol)] = fromCodec(e.Value, depth+1)
		}
		if len(out) == len(m) {
			return out
		}
	default:
		if out, ok := anyKeyMap(m, depth); ok {
			return out
		}
	}
	return orderedMap(m, depth)
}

// anyKeyMap converts m to a map[any]any, each key of its type. ok is false
// when a key cannot be a Go map key (a binary, a list, a map, an array)
// or comes twice.
func anyKeyMap(m codec.Map, depth int) (map[any]any, bool) {
	out := make(map[any]any, len(m))
	for _, e := range m {
		k := fromCodec(e.Key, depth+1)
		if !hashable(k) {
			return nil, false
		}
		out[k] = fromCodec(e.Value, depth+1)
	}
	return out, len(out) == len(m)
}

// orderedMap converts m entry by entry into a Map.
func orderedMap(m codec.Map, depth int) Map {
	out := make(Map, len(m))
	for i, e := range m {
		out[i] = MapEntry{Key: fromCodec(e.Key, depth+1), Value: fromCodec(e.Value, depth+1)}
	}
	return out
}

// mapArray converts the maps of an array of maps into a []map[any]any,
// or, when one of them cannot be a Go map, into an Array of Map (an
// Array's values all have one Go type). ok is false when an element is
// not a map (a decoder bug, kept from panicking).
func mapArray(vals []any, depth int) (any, bool) {
	maps := make([]codec.Map, len(vals))
	for i, e := range vals {
		m, ok := e.(codec.Map)
		if !ok {
			return nil, false
		}
		maps[i] = m
	}
	out := make([]map[any]any, len(maps))
	for i, m := range maps {
		var ok bool
		if out[i], ok = anyKeyMap(m, depth); !ok {
			a := Array{Values: make([]any, len(maps))}
			for j, m := range maps {
				a.Values[j] = orderedMap(m, depth)
			}
			return a, true
		}
	}
	return out, true
}

// hashable reports whether k can be a Go map key without panicking: a
// slice cannot, nor can a Described or an array type holding one.
func hashable(k any) bool {
	switch k.(type) {
	case nil, string, Symbol, bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
		float32, float64, Char, UUID, Decimal32, Decimal64, Decimal128, time.Time:
		return true
	case []byte, []any, map[string]any, map[Symbol]any, map[any]any, Map:
		return false
	}
	return reflect.ValueOf(k).Comparable()
}

// asTypedSlice returns an undescribed array of chars or of one decimal
// type as the typed slice amq hands out for it.
func asTypedSlice(a codec.Array) (any, bool) {
	if a.Descriptor != nil {
		return nil, false
	}
	elem := a.Elem
	if elem == 0 && len(a.Values) > 0 {
		switch a.Values[0].(type) {
		case Char:
			elem = codec.TypeChar
		case Decimal32:
			elem = codec.TypeDecimal32
		case Decimal64:
			elem = codec.TypeDecimal64
		case Decimal128:
			elem = codec.TypeDecimal128
		}
	}
	switch elem {
	case codec.TypeChar:
		return typedSlice[Char](a.Values)
	case codec.TypeDecimal32:
		return typedSlice[Decimal32](a.Values)
	case codec.TypeDecimal64:
		return typedSlice[Decimal64](a.Values)
	case codec.TypeDecimal128:
		return typedSlice[Decimal128](a.Values)
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

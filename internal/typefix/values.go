package typefix

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/codec"
)

// Described is an AMQP described value as amq hands it out and takes it
// (amq.Described): a descriptor, an amqp.Symbol or a uint64, and a value.
type Described struct {
	// Descriptor is an amqp.Symbol (a name such as "com.example:point")
	// or a uint64 (domain-id << 32 | descriptor-id).
	Descriptor any
	// Value is the described value, of any type of the type map.
	Value any
}

// Array is an AMQP array that no typed Go slice expresses (amq.Array):
// an array of ubyte ([]uint8 is binary), of lists, maps, arrays or
// described values, of nulls, or one whose every element is described by
// Descriptor.
type Array struct {
	// Descriptor, when not nil, describes every element: an amqp.Symbol
	// or a uint64. Values then hold the undescribed element values.
	Descriptor any
	// Values are the elements, all of one AMQP type.
	Values []any
}

// ToWire replaces every value go-amqp cannot encode by itself with what
// it can: chars and decimals (and slices of them) with their placeholders,
// a Described with go-amqp's own described value, an Array with a raw
// placeholder. It looks inside []any, map[string]any, map[any]any and
// described values, and copies a container only when something in it is
// replaced (changed reports that); v itself is never modified. The error
// names a value that cannot be encoded.
func ToWire(v any) (w any, changed bool, err error) {
	return toWire(v, 0)
}

func toWire(v any, depth int) (any, bool, error) {
	if depth > maxRestoreDepth {
		return nil, false, errors.New("value nested more than 100 levels deep")
	}
	switch x := v.(type) {
	case nil, bool, string, []byte, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
		float32, float64, int, uint, amqp.Symbol:
		return v, false, nil
	case codec.Char, codec.Decimal32, codec.Decimal64, codec.Decimal128,
		[]codec.Char, []codec.Decimal32, []codec.Decimal64, []codec.Decimal128:
		p, _ := Placeholder(v)
		return p, true, nil
	case Described:
		desc, err := goAMQPDescriptor(x.Descriptor)
		if err != nil {
			return nil, false, err
		}
		inner, _, err := toWire(x.Value, depth+1)
		if err != nil {
			return nil, false, err
		}
		return newDescribed(desc, inner), true, nil
	case *Described:
		if x == nil {
			return nil, true, nil
		}
		return toWire(*x, depth)
	case Array:
		return rawPlaceholder(x)
	case *Array:
		if x == nil {
			return nil, true, nil
		}
		return rawPlaceholder(*x)
	case []any:
		var out []any
		for i, e := range x {
			r, ch, err := toWire(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if ch && out == nil {
				out = append(make([]any, 0, len(x)), x[:i]...)
			}
			if out != nil {
				out = append(out, r)
			}
		}
		if out == nil {
			return v, false, nil
		}
		return out, true, nil
	case map[string]any:
		return toWireStringMap(x, depth)
	case map[any]any:
		return toWireMap(x, depth)
	case amqp.Annotations:
		r, ch, err := toWireMap(x, depth)
		if ch {
			r = amqp.Annotations(r.(map[any]any))
		}
		return r, ch, err
	}
	return v, false, nil
}

// ToWireMap is ToWire for a map[string]any (application properties).
func ToWireMap(x map[string]any) (map[string]any, bool, error) {
	r, ch, err := toWireStringMap(x, 0)
	if err != nil || !ch {
		return x, false, err
	}
	return r.(map[string]any), true, nil
}

func toWireStringMap(x map[string]any, depth int) (any, bool, error) {
	var out map[string]any
	for k, e := range x {
		r, ch, err := toWire(e, depth+1)
		if err != nil {
			return nil, false, err
		}
		if ch {
			if out == nil {
				out = maps.Clone(x)
			}
			out[k] = r
		}
	}
	if out == nil {
		return x, false, nil
	}
	return out, true, nil
}

func toWireMap(x map[any]any, depth int) (any, bool, error) {
	var out map[any]any
	for k, e := range x {
		rk, kc, err := toWire(k, depth+1)
		if err != nil {
			return nil, false, err
		}
		re, ec, err := toWire(e, depth+1)
		if err != nil {
			return nil, false, err
		}
		if (kc || ec) && out == nil {
			out = maps.Clone(x)
		}
		if out != nil {
			if kc {
				delete(out, k)
			}
			out[rk] = re
		}
	}
	if out == nil {
		return x, false, nil
	}
	return out, true, nil
}

// goAMQPDescriptor checks a Described's descriptor and returns it in the
// form go-amqp encodes: a symbol or a ulong.
func goAMQPDescriptor(d any) (any, error) {
	switch x := d.(type) {
	case amqp.Symbol:
		if x == "" {
			return nil, errors.New("a Described needs a descriptor: the symbol is empty")
		}
		return x, nil
	case string:
		if x == "" {
			return nil, errors.New("a Described needs a descriptor: the symbol is empty")
		}
		return amqp.Symbol(x), nil
	case uint64:
		return x, nil
	case nil:
		return nil, errors.New("a Described needs a descriptor (an amq.Symbol or a uint64), got nil")
	}
	return nil, fmt.Errorf("a Described's descriptor must be an amq.Symbol or a uint64, got %T", d)
}

// codecDescriptor is goAMQPDescriptor in the project codec's form.
func codecDescriptor(d any) (any, error) {
	d, err := goAMQPDescriptor(d)
	if s, ok := d.(amqp.Symbol); ok {
		return codec.Symbol(s), nil
	}
	return d, err
}

// rawPlaceholder encodes a with the project's codec and wraps the encoding
// in a raw placeholder, which the connection replaces with the encoding
// itself on the way out.
func rawPlaceholder(a Array) (any, bool, error) {
	ca, err := toCodec(a, 0)
	if err != nil {
		return nil, false, err
	}
	b, err := codec.Marshal(ca)
	if err != nil {
		return nil, false, fmt.Errorf("cannot encode the amq.Array: %w", err)
	}
	return newDescribed(amqp.Symbol(DescriptorRaw), hex.EncodeToString(b)), true, nil
}

// toCodec converts a value of amq's type map into the project codec's
// representation, for encoding with codec.Marshal.
func toCodec(v any, depth int) (any, error) {
	if depth > maxRestoreDepth {
		return nil, errors.New("value nested more than 100 levels deep")
	}
	switch x := v.(type) {
	case amqp.Symbol:
		return codec.Symbol(x), nil
	case amqp.UUID:
		return codec.UUID(x), nil
	case []amqp.Symbol:
		out := make([]codec.Symbol, len(x))
		for i, s := range x {
			out[i] = codec.Symbol(s)
		}
		return out, nil
	case []amqp.UUID:
		out := make([]codec.UUID, len(x))
		for i, u := range x {
			out[i] = codec.UUID(u)
		}
		return out, nil
	case Described:
		d, err := codecDescriptor(x.Descriptor)
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
		ca := codec.Array{Values: make([]any, len(x.Values))}
		if x.Descriptor != nil {
			d, err := codecDescriptor(x.Descriptor)
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
		return ca, nil
	case *Array:
		if x == nil {
			return nil, nil
		}
		return toCodec(*x, depth)
	case []any:
		out := make(codec.List, len(x))
		for i, e := range x {
			c, err := toCodec(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(codec.Map, 0, len(x))
		for k, e := range x {
			c, err := toCodec(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, codec.MapEntry{Key: k, Value: c})
		}
		return out, nil
	case map[any]any:
		return toCodecMap(x, depth)
	case amqp.Annotations:
		return toCodecMap(x, depth)
	case int:
		return int64(x), nil
	case uint:
		return uint64(x), nil
	}
	return v, nil
}

func toCodecMap(x map[any]any, depth int) (codec.Map, error) {
	out := make(codec.Map, 0, len(x))
	for k, e := range x {
		ck, err := toCodec(k, depth+1)
		if err != nil {
			return nil, err
		}
		ce, err := toCodec(e, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, codec.MapEntry{Key: ck, Value: ce})
	}
	return out, nil
}

// fromCodec converts a value decoded by the project's codec into amq's type
// map, the way go-amqp would have decoded it where go-amqp can: symbols as
// amqp.Symbol, maps whose keys are all strings or symbols as
// map[string]any (other maps as map[any]any, symbol keys as strings), an
// empty list as a nil []any, arrays of decimals as typed slices, arrays of
// maps as []map[any]any; the other arrays as Array, described values as
// Described.
func fromCodec(v any, depth int) any {
	if depth > maxRestoreDepth {
		return v
	}
	switch x := v.(type) {
	case codec.Symbol:
		return amqp.Symbol(x)
	case codec.UUID:
		return amqp.UUID(x)
	case []codec.Symbol:
		out := make([]amqp.Symbol, len(x))
		for i, s := range x {
			out[i] = amqp.Symbol(s)
		}
		return out
	case []codec.UUID:
		out := make([]amqp.UUID, len(x))
		for i, u := range x {
			out[i] = amqp.UUID(u)
		}
		return out
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
		d := x.Descriptor
		if s, ok := d.(codec.Symbol); ok {
			d = amqp.Symbol(s)
		}
		return Described{Descriptor: d, Value: fromCodec(x.Value, depth+1)}
	case codec.Array:
		if t, ok := asTypedSlice(x); ok {
			return t
		}
		if x.Descriptor == nil {
			switch x.Elem {
			case codec.TypeMap8, codec.TypeMap32:
				out := make([]map[any]any, len(x.Values))
				for i, e := range x.Values {
					m, _ := e.(codec.Map)
					out[i] = anyKeyMap(m, depth+1)
				}
				return out
			}
		}
		a := Array{Values: make([]any, len(x.Values))}
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

func fromCodecMap(m codec.Map, depth int) any {
	if len(m) == 0 {
		return map[any]any{}
	}
	stringKeys := true
	for _, e := range m {
		switch e.Key.(type) {
		case string, codec.Symbol:
		default:
			stringKeys = false
		}
	}
	if !stringKeys {
		return anyKeyMap(m, depth)
	}
	out := make(map[string]any, len(m))
	for _, e := range m {
		k, _ := e.Key.(string)
		if s, ok := e.Key.(codec.Symbol); ok {
			k = string(s)
		}
		out[k] = fromCodec(e.Value, depth+1)
	}
	return out
}

// anyKeyMap converts m to a map[any]any. A key Go cannot hash (a binary, a
// list, a map) is kept as a string of its bytes' hex digits prefixed with
// its Go type, rather than panicking: Go maps cannot hold it.
func anyKeyMap(m codec.Map, depth int) map[any]any {
	out := make(map[any]any, len(m))
	for _, e := range m {
		k := fromCodec(e.Key, depth+1)
		if s, ok := k.(amqp.Symbol); ok {
			k = string(s)
		}
		if !hashable(k) {
			k = fmt.Sprintf("%T:%x", k, k)
		}
		out[k] = fromCodec(e.Value, depth+1)
	}
	return out
}

// hashable reports whether k can be a Go map key without panicking (a
// slice cannot, nor can a struct or array holding one in an interface).
func hashable(k any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_ = map[any]bool{k: true}
	return true
}

package amq

import (
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/typefix"
)

// The AMQP ↔ Go type map (reference chapter 14; docs/types.md has the
// tables). Go's native types cover most AMQP types: bool, uint8…uint64
// (ubyte…ulong), int8…int64 (byte…long), float32, float64, string, []byte
// (binary), time.Time (timestamp), nil (null), []any (list), maps (map),
// typed slices such as []int32 or []string (array). The types below name
// the AMQP types Go has no type for, so that a value survives a round trip
// with its AMQP type intact.

// Char is the AMQP char type: one Unicode code point. (A Go rune is an
// int32 and travels as an AMQP int.)
type Char = codec.Char

// Decimal32 is the AMQP decimal32 type: an IEEE 754-2008 decimal32 in its
// binary encoding, as on the wire.
type Decimal32 = codec.Decimal32

// Decimal64 is the AMQP decimal64 type (IEEE 754-2008 decimal64).
type Decimal64 = codec.Decimal64

// Decimal128 is the AMQP decimal128 type (IEEE 754-2008 decimal128).
type Decimal128 = codec.Decimal128

// go-amqp v1.7 can neither decode nor encode char and decimal: one such
// message from a Proton or JMS sender used to detach the receiving link
// with amqp:internal-error, and the broker redelivered it to the same
// fate. amq carries them in described placeholders go-amqp understands
// (internal/typefix rewrites the frames under go-amqp), and converts here
// between the placeholders and the types above.

// toWire replaces Char and Decimal values (at any depth of lists and maps)
// with their placeholders. It allocates only when there is something to
// replace.
func toWire(v any) (any, bool) {
	switch x := v.(type) {
	case nil, bool, string, []byte, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
		float32, float64, int, uint, Symbol:
		return v, false
	case Char, Decimal32, Decimal64, Decimal128, []Char, []Decimal32, []Decimal64, []Decimal128:
		return typefix.Placeholder(v)
	case []any:
		var out []any
		for i, e := range x {
			r, ch := toWire(e)
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
		return wireMap(x)
	case map[any]any:
		changed := false
		for k, e := range x {
			_, kc := toWire(k)
			_, ec := toWire(e)
			if kc || ec {
				changed = true
				break
			}
		}
		if !changed {
			return v, false
		}
		out := make(map[any]any, len(x))
		for k, e := range x {
			rk, _ := toWire(k)
			re, _ := toWire(e)
			out[rk] = re
		}
		return out, true
	}
	return v, false
}

func wireMap(x map[string]any) (map[string]any, bool) {
	var out map[string]any
	for k, e := range x {
		if r, ch := toWire(e); ch {
			if out == nil {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			out[k] = r
		}
	}
	if out == nil {
		return x, false
	}
	return out, true
}

// fromWire turns placeholders back into Char and Decimal values; values
// without placeholders come back as they are, without copying.
func fromWire(v any) any { return typefix.Restore(v) }

func fromWireMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	if r, ok := typefix.Restore(m).(map[string]any); ok {
		return r
	}
	return m
}

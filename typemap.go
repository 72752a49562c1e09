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

// Described is an AMQP described value: a descriptor (an amq.Symbol such
// as "com.example:point", or a uint64: domain-id<<32 | descriptor-id) and
// a value of any type of the map. Values described by AMQP's own
// descriptors (domain 0, below 256: outcomes, performatives) arrive as a
// Described too.
type Described = typefix.Described

// Array is an AMQP array that no typed Go slice says: an array of ubyte (a
// []uint8 is binary), of lists, maps, arrays or described values, of nulls,
// or one whose every element is described by Descriptor. Its Values must
// all have the same Go type. Arrays of the other element types are typed
// slices ([]int32, []string, []amq.Symbol, …) both ways; an Array of them
// is sent as the same AMQP array.
type Array = typefix.Array

// go-amqp v1.7 can neither decode nor encode char and decimal, hands out a
// symbol value as a string, has no type for a described value or an array
// of ubyte, and cannot decode arrays of lists, arrays, described values or
// nulls: one such message used to detach the receiving link with
// amqp:internal-error, and the broker redelivered it to the same fate. amq
// carries them in described placeholders go-amqp understands
// (internal/typefix rewrites the frames under go-amqp), and converts here
// between the placeholders and the types above.

// toWire replaces the values go-amqp cannot encode (at any depth of lists
// and maps) with their placeholders. It allocates only when there is
// something to replace.
func toWire(v any) (any, error) {
	w, _, err := typefix.ToWire(v)
	return w, err
}

// fromWire turns placeholders and go-amqp's internal types back into the
// type map's values; values without them come back as they are, without
// copying.
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

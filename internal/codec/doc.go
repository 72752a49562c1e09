// Package codec implements the AMQP 1.0 type system (OASIS AMQP 1.0 part 1),
// the performatives of the transport and security layers (parts 2 and 5),
// the message format (part 3) and the frame layer (§2.3).
//
// It is shared by the protocol engine (internal/engine, both roles), the
// SASL layer and the frame tracer.
//
// # Type mapping
//
// AMQP null is Go nil. AMQP types with a native Go equivalent use it:
// boolean=bool, ubyte=uint8, ushort=uint16, uint=uint32, ulong=uint64,
// byte=int8, short=int16, int=int32, long=int64, float=float32,
// double=float64, string=string, binary=[]byte, timestamp=time.Time
// (millisecond precision, decoded in UTC). Go int and uint encode as long and
// ulong. The others have a named type here: Symbol, Char, UUID, Decimal32,
// Decimal64, Decimal128, Described, List, Map (ordered, any key type) and
// Array.
//
// Arrays of a single primitive type are typed Go slices: []bool, []int8,
// []int16, []int32, []int64, []uint16, []uint32, []uint64, []float32,
// []float64, []Char, []time.Time, []UUID, [][]byte, []string and []Symbol
// encode as AMQP arrays and AMQP arrays of those element types decode to
// them. Every other array (ubyte, decimal, list, map, array or described
// elements, nulls) is an Array.
//
// Decoding accepts every encoding the specification allows; encoding always
// picks the most compact one (uint0, smalluint, list0, list8, str8, ...).
// Decoding never panics and never allocates more than the remaining input
// justifies, whatever a length or count field claims; nesting is limited to
// 100 levels. Strings and symbols are not checked for valid UTF-8 / ASCII:
// they are passed on as received. Decoded []byte values never alias the
// input.
//
// # Optional fields
//
// Composite types (performatives, terminus, delivery states, message
// sections) follow one convention, stated again on every field:
//
//   - A nil pointer, nil slice or nil Map is an absent field.
//   - A field whose spec default equals the Go zero value (false, 0, "")
//     is a plain value: the zero value is encoded as absent, and an absent
//     field decodes as the zero value. The meaning is the same either way.
//   - A field where the zero value means something different from absent
//     (channel-max 0, snd-settle-mode unsettled, remote-channel 0,
//     priority 0, ...) is a pointer.
//
// Trailing absent fields are omitted from the encoded list, as the
// specification recommends, so an absent field round-trips as absent.
package codec

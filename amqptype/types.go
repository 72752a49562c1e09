package amqptype

import (
	"bytes"
	"reflect"
)

// Symbol is an AMQP symbol: a short ASCII name from a controlled vocabulary.
type Symbol string

// Char is an AMQP char: a single Unicode code point (UTF-32BE on the wire).
type Char rune

// UUID is an AMQP uuid, RFC 4122 byte order.
type UUID [16]byte

// String formats u in the RFC 4122 text form,
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func (u UUID) String() string {
	const hexDigits = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	return string(b)
}

// Decimal32 is an AMQP decimal32 (IEEE 754-2008 decimal32, BID), kept as raw bytes.
type Decimal32 [4]byte

// Decimal64 is an AMQP decimal64 (IEEE 754-2008 decimal64, BID), kept as raw bytes.
type Decimal64 [8]byte

// Decimal128 is an AMQP decimal128 (IEEE 754-2008 decimal128, BID), kept as raw bytes.
type Decimal128 [16]byte

// Described is an AMQP described value (§1.2): a descriptor and a value.
// Descriptor is a Symbol (a name such as "com.example:point") or a uint64
// (domain-id<<32 | descriptor-id).
type Described struct {
	Descriptor any
	Value      any
}

// List is an AMQP list: a sequence of values of any type.
type List []any

// MapEntry is one key/value pair of a Map.
type MapEntry struct {
	Key   any
	Value any
}

// Map is an AMQP map. It is ordered: entries keep the order of the wire
// (or of insertion) and keys keep their AMQP type, so a Symbol key and a
// string key with the same text are different keys.
type Map []MapEntry

// Get returns the value stored under key and whether it was present.
// Keys compare by type and value; []byte keys compare by content.
func (m Map) Get(key any) (any, bool) {
	for _, e := range m {
		if keyEqual(e.Key, key) {
			return e.Value, true
		}
	}
	return nil, false
}

// Set replaces the value stored under key, or appends a new entry.
func (m *Map) Set(key, value any) {
	for i := range *m {
		if keyEqual((*m)[i].Key, key) {
			(*m)[i].Value = value
			return
		}
	}
	*m = append(*m, MapEntry{Key: key, Value: value})
}

// Delete removes the entry stored under key, if any, keeping the order of the others.
func (m *Map) Delete(key any) {
	for i := range *m {
		if keyEqual((*m)[i].Key, key) {
			*m = append((*m)[:i], (*m)[i+1:]...)
			return
		}
	}
}

func keyEqual(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false
	}
	if ta == nil || ta.Comparable() {
		return a == b
	}
	return reflect.DeepEqual(a, b)
}

// Array is an AMQP array that no typed Go slice says ([]int32, []string,
// []Symbol, ... are arrays of their element type): an array of ubyte (a
// []byte is binary), of decimals, lists, maps or arrays, of nulls, or one
// whose every element is described by Descriptor. Its Values all have the
// same Go type.
type Array struct {
	// Descriptor, when not nil, describes every element (uint64 or Symbol);
	// Values then hold the undescribed element values.
	Descriptor any
	// Elem is the element type. On decode it is the element constructor
	// found on the wire (e.g. TypeStr8). On encode any constructor of the
	// wanted type will do: the encoder picks the width itself. Zero means
	// "infer from the first value" (an empty Array then has null elements).
	Elem TypeCode
	// Values are the elements, each of the Go type Unmarshal would return
	// for Elem.
	Values []any
}

// TypeCode is an AMQP format code (§1.6), the constructor byte of an encoded value.
type TypeCode uint8

// AMQP format codes.
const (
	TypeDescribed  TypeCode = 0x00
	TypeNull       TypeCode = 0x40
	TypeBool       TypeCode = 0x56
	TypeTrue       TypeCode = 0x41
	TypeFalse      TypeCode = 0x42
	TypeUbyte      TypeCode = 0x50
	TypeUshort     TypeCode = 0x60
	TypeUint       TypeCode = 0x70
	TypeSmallUint  TypeCode = 0x52
	TypeUint0      TypeCode = 0x43
	TypeUlong      TypeCode = 0x80
	TypeSmallUlong TypeCode = 0x53
	TypeUlong0     TypeCode = 0x44
	TypeByte       TypeCode = 0x51
	TypeShort      TypeCode = 0x61
	TypeInt        TypeCode = 0x71
	TypeSmallInt   TypeCode = 0x54
	TypeLong       TypeCode = 0x81
	TypeSmallLong  TypeCode = 0x55
	TypeFloat      TypeCode = 0x72
	TypeDouble     TypeCode = 0x82
	TypeDecimal32  TypeCode = 0x74
	TypeDecimal64  TypeCode = 0x84
	TypeDecimal128 TypeCode = 0x94
	TypeChar       TypeCode = 0x73
	TypeTimestamp  TypeCode = 0x83
	TypeUUID       TypeCode = 0x98
	TypeVbin8      TypeCode = 0xa0
	TypeVbin32     TypeCode = 0xb0
	TypeStr8       TypeCode = 0xa1
	TypeStr32      TypeCode = 0xb1
	TypeSym8       TypeCode = 0xa3
	TypeSym32      TypeCode = 0xb3
	TypeList0      TypeCode = 0x45
	TypeList8      TypeCode = 0xc0
	TypeList32     TypeCode = 0xd0
	TypeMap8       TypeCode = 0xc1
	TypeMap32      TypeCode = 0xd1
	TypeArray8     TypeCode = 0xe0
	TypeArray32    TypeCode = 0xf0
)

// Error is the AMQP error type (§2.8.14), carried by Detach, End, Close
// and Rejected. It implements error.
type Error struct {
	// Condition is the error condition, e.g. ErrCondNotFound. Mandatory.
	Condition Symbol
	// Description is a human-readable text; "" is absent.
	Description string
	// Info holds extra information; nil is absent.
	Info Map
}

// Error returns "condition: description".
func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Condition)
	}
	return string(e.Condition) + ": " + e.Description
}

package codec

import "github.com/amqgo/amq/amqptype"

// The AMQP types Go has none for are amqptype's (the public vocabulary
// the client and the server share); the codec names them for brevity.
type (
	Symbol     = amqptype.Symbol
	Char       = amqptype.Char
	UUID       = amqptype.UUID
	Decimal32  = amqptype.Decimal32
	Decimal64  = amqptype.Decimal64
	Decimal128 = amqptype.Decimal128
	Described  = amqptype.Described
	List       = amqptype.List
	MapEntry   = amqptype.MapEntry
	Map        = amqptype.Map
	Array      = amqptype.Array
	TypeCode   = amqptype.TypeCode
	Error      = amqptype.Error
)

// AMQP format codes.
const (
	TypeDescribed  = amqptype.TypeDescribed
	TypeNull       = amqptype.TypeNull
	TypeBool       = amqptype.TypeBool
	TypeTrue       = amqptype.TypeTrue
	TypeFalse      = amqptype.TypeFalse
	TypeUbyte      = amqptype.TypeUbyte
	TypeUshort     = amqptype.TypeUshort
	TypeUint       = amqptype.TypeUint
	TypeSmallUint  = amqptype.TypeSmallUint
	TypeUint0      = amqptype.TypeUint0
	TypeUlong      = amqptype.TypeUlong
	TypeSmallUlong = amqptype.TypeSmallUlong
	TypeUlong0     = amqptype.TypeUlong0
	TypeByte       = amqptype.TypeByte
	TypeShort      = amqptype.TypeShort
	TypeInt        = amqptype.TypeInt
	TypeSmallInt   = amqptype.TypeSmallInt
	TypeLong       = amqptype.TypeLong
	TypeSmallLong  = amqptype.TypeSmallLong
	TypeFloat      = amqptype.TypeFloat
	TypeDouble     = amqptype.TypeDouble
	TypeDecimal32  = amqptype.TypeDecimal32
	TypeDecimal64  = amqptype.TypeDecimal64
	TypeDecimal128 = amqptype.TypeDecimal128
	TypeChar       = amqptype.TypeChar
	TypeTimestamp  = amqptype.TypeTimestamp
	TypeUUID       = amqptype.TypeUUID
	TypeVbin8      = amqptype.TypeVbin8
	TypeVbin32     = amqptype.TypeVbin32
	TypeStr8       = amqptype.TypeStr8
	TypeStr32      = amqptype.TypeStr32
	TypeSym8       = amqptype.TypeSym8
	TypeSym32      = amqptype.TypeSym32
	TypeList0      = amqptype.TypeList0
	TypeList8      = amqptype.TypeList8
	TypeList32     = amqptype.TypeList32
	TypeMap8       = amqptype.TypeMap8
	TypeMap32      = amqptype.TypeMap32
	TypeArray8     = amqptype.TypeArray8
	TypeArray32    = amqptype.TypeArray32
)

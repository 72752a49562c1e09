// Package amqptype is the vocabulary of AMQP 1.0 values that Go has no
// type for: Symbol, Char, UUID, the decimals, Described, Array, the
// ordered Map that keeps its keys' AMQP types, List and the AMQP Error.
// The client (package amq), the server (package server) and the engine
// under both use these same types, so that a value a handler receives can
// be sent on by a client unchanged, and %T names them as here. Go's own
// types cover the rest of the type system (docs/types.md has the tables).
package amqptype

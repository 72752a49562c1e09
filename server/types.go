package server

import "github.com/amqgo/amq/internal/codec"

// The AMQP types a handler works with. They are the project's codec types,
// named here so that programs outside this module — which cannot import an
// internal package — can build custom servers with this package.
type (
	// Message is an AMQP message: header, annotations, properties,
	// application properties, body sections and footer.
	Message = codec.Message
	// Header is a message's header section.
	Header = codec.Header
	// Properties is a message's properties section.
	Properties = codec.Properties
	// Error is an AMQP error: a condition, a description and an info map.
	Error = codec.Error
	// Symbol is the AMQP symbol type.
	Symbol = codec.Symbol
	// Map is an ordered AMQP map that keeps its keys' types.
	Map = codec.Map
	// MapEntry is one entry of a Map.
	MapEntry = codec.MapEntry
	// List is the AMQP list type.
	List = codec.List
	// Source and Target are the termini of a link.
	Source = codec.Source
	Target = codec.Target
	// DeliveryState is the state or outcome of a delivery.
	DeliveryState = codec.DeliveryState
	// Accepted, Rejected, Released and Modified are the outcomes.
	Accepted = codec.Accepted
	Rejected = codec.Rejected
	Released = codec.Released
	Modified = codec.Modified
)

// Standard AMQP error conditions a handler commonly returns.
const (
	CondNotFound              = codec.ErrCondNotFound
	CondUnauthorizedAccess    = codec.ErrCondUnauthorizedAccess
	CondResourceLimitExceeded = codec.ErrCondResourceLimitExceeded
	CondNotAllowed            = codec.ErrCondNotAllowed
	CondInvalidField          = codec.ErrCondInvalidField
	CondInternalError         = codec.ErrCondInternalError
	CondConnectionForced      = codec.ErrCondConnectionForced
	CondDetachForced          = codec.ErrCondDetachForced
)

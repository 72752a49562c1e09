package server

import (
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// The connection, link and delivery types of the server's side. They are
// the role-neutral engine's (the client runs on the same engine); their
// methods are documented there and in this package's overview.
type (
	// Conn is one accepted AMQP connection. Handlers reach it through
	// Link.Conn; Server.Conns lists the live ones. Its methods give what
	// the peer's open and the SASL layer said (ContainerID, Hostname,
	// Properties, User, Mechanism, TLSState), its addresses, and Close,
	// Done and Err.
	Conn = engine.Conn
	// Link is one attached AMQP link as the server sees it. The Handler
	// receives it in Attach, where the Set methods (SetSource, SetTarget,
	// SetSettleModes, SetCreditWindow, SetMaxMessageSize, SetProperties,
	// SetOfferedCapabilities, SetDesiredCapabilities) shape the server's
	// reply, and then through Sender.Link or Receiver.Link. The getters
	// return what the peer's attach said.
	Link = engine.Link
	// Sender is the server's end of a link on which the server sends
	// messages (the peer attached a receiver): Send, SendRaw, WaitCredit,
	// Credit, Draining, Drained, Flowed, Settlements, SettledCount,
	// Unsettled. It is handed to Handler.ServeSender; its methods are safe
	// for concurrent use.
	Sender = engine.Sender
	// Receiver is the server's end of a link on which the server receives
	// messages (the peer attached a sender): Receive, IssueCredit, Credit.
	// It is handed to Handler.ServeReceiver; its methods are safe for
	// concurrent use.
	Receiver = engine.Receiver
	// OutgoingDelivery is a message the server sent on a Sender, tracked
	// until the peer settles it: Wait, Outcome, Result, Payload, Message.
	OutgoingDelivery = engine.OutgoingDelivery
	// IncomingDelivery is a message the server received on a Receiver:
	// Payload, Message, and its settlement (Accept, Reject, Release,
	// Modify, Settle).
	IncomingDelivery = engine.IncomingDelivery
)

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

package engine

import (
	"errors"

	"github.com/amqgo/amq/internal/codec"
)

// Sentinel errors, for errors.Is.
var (
	// ErrConnClosed is returned by operations on a connection that ended.
	ErrConnClosed = errors.New("amqp: connection closed")
	// ErrLinkDetached is returned by Send, Receive, Settle and friends once
	// the link has been detached (by either side, or because its session or
	// connection ended). Link.DetachReason says why.
	ErrLinkDetached = errors.New("amqp: link detached")
	// ErrDeliveryLost is returned by OutgoingDelivery.Wait when the link
	// ended before the peer settled the delivery.
	ErrDeliveryLost = errors.New("amqp: delivery lost: link ended before the peer settled it")
	// ErrMessageTooLarge is returned by Send when the encoded message is
	// larger than the peer's max-message-size.
	ErrMessageTooLarge = errors.New("amqp: message too large")
	// ErrSessionEnded is wrapped by an attach that failed because the peer
	// ended the link's session before answering it (how RabbitMQ refuses
	// some links).
	ErrSessionEnded = errors.New("amqp: session ended")
)

// ToCodecError turns any error into the AMQP error sent on the wire: a
// *codec.Error is used as is (also when wrapped), anything else becomes
// amqp:internal-error with the error text as description.
func ToCodecError(err error) *codec.Error {
	if err == nil {
		return nil
	}
	var ce *codec.Error
	if errors.As(err, &ce) {
		return ce
	}
	return &codec.Error{Condition: codec.ErrCondInternalError, Description: err.Error()}
}

// connError is a protocol violation that ends the whole connection.
type connError struct{ e *codec.Error }

func (e *connError) Error() string { return "amqp: connection error: " + e.e.Error() }

// sessionError is a protocol violation that ends one session.
type sessionError struct{ e *codec.Error }

func (e *sessionError) Error() string { return "amqp: session error: " + e.e.Error() }

func newConnError(cond codec.Symbol, desc string) error {
	return &connError{&codec.Error{Condition: cond, Description: desc}}
}

func newSessionError(cond codec.Symbol, desc string) error {
	return &sessionError{&codec.Error{Condition: cond, Description: desc}}
}

package amq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrClosed is returned by any operation on a Client, Sender or Receiver
	// that the application has already closed.
	ErrClosed = errors.New("amq: closed")

	// ErrDeliveryLost is returned when settling a delivery whose link or
	// connection is gone: the peer no longer knows the delivery and will
	// redeliver the message to another (or a later) receiver.
	ErrDeliveryLost = errors.New("amq: delivery lost: its link is gone, the peer will redeliver it")

	// ErrNotAccepted matches every send outcome other than accepted:
	// *RejectedError, *ReleasedError and *ModifiedError all satisfy
	// errors.Is(err, ErrNotAccepted).
	ErrNotAccepted = errors.New("amq: message not accepted")

	// ErrAlreadySettled is returned when a delivery is settled twice.
	ErrAlreadySettled = errors.New("amq: delivery already settled")
)

// Scope says which AMQP endpoint an Error concerns.
type Scope string

// The scopes of an Error. They follow the endpoints of the AMQP 1.0 spec
// (section 2.7): the connection, the session, the link; plus the transport
// (TCP, TLS) and SASL negotiation that precede the connection.
const (
	ScopeTransport  Scope = "transport"
	ScopeSASL       Scope = "sasl"
	ScopeConnection Scope = "connection"
	ScopeSession    Scope = "session"
	ScopeLink       Scope = "link"
)

// Error is the root error type of the package: every failure of a
// connection, session or link, and every failure to reach or authenticate
// with the peer, is an *Error. Test for it with errors.As.
//
// Condition and Description carry what the peer said (the AMQP error of a
// close, end or detach frame); they are empty when the failure was local
// (a refused TCP connection, a TLS error), in which case Unwrap gives the
// cause.
type Error struct {
	// Scope is the endpoint that failed.
	Scope Scope
	// Op is what amq was doing: "dial", "attach sender", "send", ...
	Op string
	// Address is the link's address or the connection's URL (never with
	// credentials), when known.
	Address string
	// Condition is the AMQP error condition sent by the peer, for example
	// "amqp:unauthorized-access"; empty for local failures.
	Condition string
	// Description is the peer's description of the condition.
	Description string
	// Info is the peer's error info map, if any.
	Info map[string]any
	// Err is the underlying cause, if any.
	Err error
}

// Error formats the error as "amq: OP ADDRESS: SCOPE: CONDITION: DESCRIPTION: CAUSE",
// leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("amq: ")
	b.WriteString(e.Op)
	if e.Address != "" {
		fmt.Fprintf(&b, " %q", e.Address)
	}
	if e.Condition != "" {
		fmt.Fprintf(&b, ": %s error %s", e.Scope, e.Condition)
		if e.Description != "" {
			fmt.Fprintf(&b, ": %s", e.Description)
		}
	} else if e.Err == nil {
		fmt.Fprintf(&b, ": %s closed", e.Scope)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// RejectedError is the error of a send whose message the peer rejected
// (AMQP rejected outcome, spec 3.4.2): the message is invalid and will not
// be delivered. It satisfies errors.Is(err, ErrNotAccepted).
type RejectedError struct {
	// Condition is the AMQP condition the peer gave, e.g. "amqp:resource-limit-exceeded".
	Condition string
	// Description is the peer's description of the condition.
	Description string
	// Info is the peer's error info map, if any.
	Info map[string]any
}

func (e *RejectedError) Error() string {
	if e.Condition == "" {
		return "amq: message rejected"
	}
	if e.Description == "" {
		return "amq: message rejected: " + e.Condition
	}
	return "amq: message rejected: " + e.Condition + ": " + e.Description
}

// Is reports that a RejectedError matches ErrNotAccepted.
func (e *RejectedError) Is(target error) bool { return target == ErrNotAccepted }

// ReleasedError is the error of a send the peer released (spec 3.4.4): it
// did not process the message, and sending it again is safe.
type ReleasedError struct{}

func (e *ReleasedError) Error() string { return "amq: message released by the peer" }

// Is reports that a ReleasedError matches ErrNotAccepted.
func (e *ReleasedError) Is(target error) bool { return target == ErrNotAccepted }

// ModifiedError is the error of a send the peer modified (spec 3.4.5): it
// did not process the message and asks for the changes described.
type ModifiedError struct {
	// DeliveryFailed asks that the delivery count be incremented.
	DeliveryFailed bool
	// UndeliverableHere says the peer will not accept the message again.
	UndeliverableHere bool
	// Annotations are message annotations to merge into the message.
	Annotations map[string]any
}

func (e *ModifiedError) Error() string {
	return fmt.Sprintf("amq: message modified by the peer (delivery-failed=%t, undeliverable-here=%t)",
		e.DeliveryFailed, e.UndeliverableHere)
}

// Is reports that a ModifiedError matches ErrNotAccepted.
func (e *ModifiedError) Is(target error) bool { return target == ErrNotAccepted }

// Retryable reports whether the operation that returned err may succeed if
// tried again unchanged: the message was released, the connection or link
// was lost or forced closed, or the peer reported a transient condition.
// Authentication failures, rejected messages, refused links and the
// caller's own context expiry are not retryable.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrClosed) {
		return false
	}
	if errors.Is(err, ErrTransactionOutcomeUnknown) {
		return false
	}
	if errors.Is(err, ErrTransactionLost) {
		return true
	}
	var te *TransactionError
	if errors.As(err, &te) {
		return true // nothing of the transaction was applied
	}
	var rel *ReleasedError
	if errors.As(err, &rel) {
		return true
	}
	var mod *ModifiedError
	if errors.As(err, &mod) {
		return !mod.UndeliverableHere
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Condition {
		case "":
			return e.Scope == ScopeTransport || e.Scope == ScopeConnection || e.Scope == ScopeSession || errors.Is(e.Err, ErrDeliveryLost)
		case "amqp:connection:forced", "amqp:link:detach-forced", "amqp:resource-limit-exceeded",
			"amqp:resource-locked", "amqp:connection:redirect", "amqp:link:redirect", "amqp:link:stolen":
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// scopedErr marks an error with the endpoint it ended: the engine reports
// the end of a connection, session or link as the peer's AMQP error (or a
// local cause), and only the caller knows which endpoint that was.
type scopedErr struct {
	scope Scope
	err   error
}

func (e *scopedErr) Error() string { return e.err.Error() }
func (e *scopedErr) Unwrap() error { return e.err }

// wrapErr turns what the engine (or the network) returned into an *Error
// of this package, keeping the peer's condition and the cause. A context
// error is returned wrapped so that errors.Is(err,
// context.DeadlineExceeded) still holds.
func wrapErr(op, address string, err error) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return err
	}
	if errors.Is(err, ErrClosed) {
		return fmt.Errorf("amq: %s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("amq: %s %q: %w", op, address, err)
	}
	e := &Error{Op: op, Address: address, Err: err}
	var (
		scoped  *scopedErr
		openErr *engine.OpenError
	)
	switch {
	case errors.As(err, &scoped):
		e.Scope = scoped.scope
	case errors.As(err, &openErr):
		e.Scope = ScopeConnection
	case errors.Is(err, engine.ErrSessionEnded):
		e.Scope = ScopeSession
	case errors.Is(err, engine.ErrRefused), errors.Is(err, engine.ErrLinkDetached), errors.Is(err, engine.ErrMessageTooLarge):
		e.Scope = ScopeLink
	case errors.Is(err, engine.ErrConnClosed):
		e.Scope = ScopeConnection
	default:
		e.Scope = ScopeTransport
	}
	var ae *codec.Error
	if errors.As(err, &ae) && ae != nil {
		e.Condition = string(ae.Condition)
		e.Description = ae.Description
		e.Info = mapFromCodec(ae.Info)
		// The cause is fully described by condition and description.
		e.Err = nil
	}
	return e
}

// mapFromCodec converts an error's info map.
func mapFromCodec(m codec.Map) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for _, e := range m {
		out[fmt.Sprint(e.Key)] = fromCodec(e.Value, 1)
	}
	return out
}

// outcomeErr maps a delivery state reported by the peer to the error Send
// returns: nil for accepted (and for a missing state, which a peer settling
// without an outcome means as accepted per spec 3.4, "default-outcome").
func outcomeErr(state codec.DeliveryState) error {
	switch s := state.(type) {
	case nil, *codec.Accepted:
		return nil
	case *codec.Rejected:
		re := &RejectedError{}
		if s.Error != nil {
			re.Condition = string(s.Error.Condition)
			re.Description = s.Error.Description
			re.Info = mapFromCodec(s.Error.Info)
		}
		return re
	case *codec.Released:
		return &ReleasedError{}
	case *codec.TransactionalState:
		return outcomeErr(s.Outcome) // a send in a transaction: the outcome it has there
	case *codec.Modified:
		return &ModifiedError{
			DeliveryFailed:    s.DeliveryFailed,
			UndeliverableHere: s.UndeliverableHere,
			Annotations:       annotationsFromCodec(s.MessageAnnotations),
		}
	default:
		return fmt.Errorf("amq: unexpected delivery state %T", state)
	}
}

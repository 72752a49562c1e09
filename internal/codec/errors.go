package codec

import "fmt"

// Standard AMQP error conditions (§2.8.15 – §2.8.18).
const (
	ErrCondInternalError         Symbol = "amqp:internal-error"
	ErrCondNotFound              Symbol = "amqp:not-found"
	ErrCondUnauthorizedAccess    Symbol = "amqp:unauthorized-access"
	ErrCondDecodeError           Symbol = "amqp:decode-error"
	ErrCondResourceLimitExceeded Symbol = "amqp:resource-limit-exceeded"
	ErrCondNotAllowed            Symbol = "amqp:not-allowed"
	ErrCondInvalidField          Symbol = "amqp:invalid-field"
	ErrCondNotImplemented        Symbol = "amqp:not-implemented"
	ErrCondResourceLocked        Symbol = "amqp:resource-locked"
	ErrCondPreconditionFailed    Symbol = "amqp:precondition-failed"
	ErrCondResourceDeleted       Symbol = "amqp:resource-deleted"
	ErrCondIllegalState          Symbol = "amqp:illegal-state"
	ErrCondFrameSizeTooSmall     Symbol = "amqp:frame-size-too-small"

	ErrCondConnectionForced Symbol = "amqp:connection:forced"
	ErrCondFramingError     Symbol = "amqp:connection:framing-error"
	ErrCondConnRedirect     Symbol = "amqp:connection:redirect"

	ErrCondWindowViolation  Symbol = "amqp:session:window-violation"
	ErrCondErrantLink       Symbol = "amqp:session:errant-link"
	ErrCondHandleInUse      Symbol = "amqp:session:handle-in-use"
	ErrCondUnattachedHandle Symbol = "amqp:session:unattached-handle"

	ErrCondDetachForced          Symbol = "amqp:link:detach-forced"
	ErrCondTransferLimitExceeded Symbol = "amqp:link:transfer-limit-exceeded"
	ErrCondMessageSizeExceeded   Symbol = "amqp:link:message-size-exceeded"
	ErrCondLinkRedirect          Symbol = "amqp:link:redirect"
	ErrCondStolen                Symbol = "amqp:link:stolen"
)

// DecodeError reports malformed AMQP-encoded data. A peer that sends it
// should get amqp:decode-error (see Condition).
type DecodeError struct {
	// Offset is where in the input the problem was found, or -1 when the
	// encoding was well formed but a field had the wrong type or was missing.
	Offset int
	// Reason says what was wrong.
	Reason string
}

// Error describes the problem and where it was found.
func (e *DecodeError) Error() string {
	if e.Offset < 0 {
		return "amqp codec: decode error: " + e.Reason
	}
	return fmt.Sprintf("amqp codec: decode error at offset %d: %s", e.Offset, e.Reason)
}

// Condition returns ErrCondDecodeError.
func (e *DecodeError) Condition() Symbol { return ErrCondDecodeError }

// FramingError reports a malformed frame header (§2.3.1): size below 8,
// data offset below 2 or beyond the frame, a frame larger than the
// negotiated max-frame-size, or an unknown frame type. The connection
// must be closed with amqp:connection:framing-error (see Condition).
type FramingError struct {
	Reason string
}

// Error describes the malformed header.
func (e *FramingError) Error() string { return "amqp codec: framing error: " + e.Reason }

// Condition returns ErrCondFramingError.
func (e *FramingError) Condition() Symbol { return ErrCondFramingError }

// ProtoHeaderError reports a protocol header (§2.2) that is not one this
// package speaks. Per spec the server should answer with the header it
// supports and close the socket.
type ProtoHeaderError struct {
	// Header is the 8 bytes received.
	Header [8]byte
}

// Error quotes the header received.
func (e *ProtoHeaderError) Error() string {
	return fmt.Sprintf("amqp codec: unsupported protocol header %q", e.Header[:])
}

const descError = 0x1d

func appendError(b []byte, e *Error) ([]byte, error) {
	w := newFieldWriter(b, descError)
	w.sym(e.Condition, true)
	w.str(e.Description, e.Description != "")
	w.mapv(e.Info)
	return w.done()
}

func errorFromDescribed(d Described) (*Error, error) {
	if c, _ := descriptorCode(d.Descriptor); c != descError {
		return nil, &DecodeError{Offset: -1, Reason: fmt.Sprintf("want error (0x1d), got descriptor %v", d.Descriptor)}
	}
	r := readFields("error", d)
	r.need(0)
	e := &Error{Condition: r.sym(0), Description: r.str(1), Info: r.mapv(2)}
	return e, r.err
}

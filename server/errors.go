package server

import (
	"errors"

	"github.com/amqgo/amq/internal/engine"
)

// Sentinel errors, for errors.Is.
var (
	// ErrServerClosed is returned by operations on a Server after Close.
	ErrServerClosed = errors.New("server: closed")
	// ErrConnClosed is returned by operations on a connection that ended.
	ErrConnClosed = engine.ErrConnClosed
	// ErrLinkDetached is returned by Send, Receive, Settle and friends once
	// the link has been detached (by either side, or because its session or
	// connection ended). Link.DetachReason says why.
	ErrLinkDetached = engine.ErrLinkDetached
	// ErrDeliveryLost is returned by OutgoingDelivery.Wait when the link
	// ended before the peer settled the delivery.
	ErrDeliveryLost = engine.ErrDeliveryLost
	// ErrMessageTooLarge is returned by Send when the encoded message is
	// larger than the peer's max-message-size.
	ErrMessageTooLarge = engine.ErrMessageTooLarge
)

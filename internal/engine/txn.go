package engine

import (
	"context"

	"github.com/amqgo/amq/internal/codec"
)

// What transactions (AMQP 1.0 chapter 4) need of the engine, in both
// roles. A transaction is declared and discharged by messages on a link to
// the coordinator; the work in it is transfers and dispositions that carry
// a codec.TransactionalState. The engine only carries these: the
// coordinator itself (which transaction ids exist, what commit applies) is
// the handler's, in the broker, and the client's bookkeeping is package
// amq's.

// LinkCoordinator returns the transaction coordinator terminus a link was
// attached with in place of a target (the peer's, on a link it attached to
// us; the peer's answer, on one we attached with
// AttachOptions.Coordinator), or nil for an ordinary link.
func LinkCoordinator(l *Link) *codec.Coordinator { return l.remoteCoordinator }

// TransferState returns the state the peer put on the delivery's first
// transfer: a *codec.TransactionalState for a message sent in a
// transaction, nil for most.
func TransferState(d *IncomingDelivery) codec.DeliveryState { return d.state }

// SendWithState is Sender.SendRaw of an unsettled delivery whose first
// transfer carries state: a *codec.TransactionalState for a send in a
// transaction (§4.4.1).
func SendWithState(ctx context.Context, s *Sender, payload []byte, state codec.DeliveryState) (*OutgoingDelivery, error) {
	return s.send(ctx, payload, false, nil, state)
}

// DeliveryConn returns the connection a delivery arrived on: work in a
// transaction must be on the connection the transaction lives on.
func DeliveryConn(d *IncomingDelivery) *Conn { return d.r.l.conn }

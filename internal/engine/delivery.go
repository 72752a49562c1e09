package engine

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/amqgo/amq/internal/codec"
)

// OutgoingDelivery is a message the server sent on a Sender, tracked until
// the peer settles it.
type OutgoingDelivery struct {
	s       *Sender
	id      uint32
	tag     []byte
	tagBuf  [8]byte // what tag points to: the tags this engine makes are 8 bytes
	payload []byte
	settled bool // sent pre-settled

	// finished is set once state and lost are final (Result reads it
	// without a lock).
	finished atomic.Bool
	state    codec.DeliveryState
	lost     bool

	// Guarded by conn.mu. Each channel is made on first use (done by
	// Wait, outcome by Outcome): a handler that reads outcomes with
	// Sender.Settlements and Result never pays for them.
	outcome chan codec.DeliveryState // one value when the peer settles
	done    chan struct{}
}

// Tag returns the delivery tag the server chose.
func (d *OutgoingDelivery) Tag() []byte { return d.tag }

// ID returns the session-scoped delivery-id.
func (d *OutgoingDelivery) ID() uint32 { return d.id }

// Payload returns the encoded message as it was sent (to requeue it
// unchanged, for instance). It must not be modified.
func (d *OutgoingDelivery) Payload() []byte { return d.payload }

// Message decodes the payload.
func (d *OutgoingDelivery) Message() (*codec.Message, error) {
	return codec.UnmarshalMessage(d.payload)
}

// Settled reports whether the delivery was sent pre-settled.
func (d *OutgoingDelivery) Settled() bool { return d.settled }

// Outcome returns a channel that receives the peer's final delivery state
// once it settles the delivery, and is then closed. The state may be nil when
// the peer settled without stating an outcome. For a delivery sent
// pre-settled, or one lost because the link ended before the peer settled it,
// the channel is closed without a value.
func (d *OutgoingDelivery) Outcome() <-chan codec.DeliveryState {
	c := d.s.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.outcome == nil {
		d.outcome = make(chan codec.DeliveryState, 1)
		if d.finished.Load() {
			d.fillOutcome()
		}
	}
	return d.outcome
}

// Result reports, without blocking, the delivery's final state: finished
// is false while the peer has not settled it; lost is true when the link
// ended first (the state is then nil), and a pre-settled delivery is
// finished with a nil state. Together with Sender.Settlements it lets a
// handler follow many deliveries without a channel per delivery.
func (d *OutgoingDelivery) Result() (state codec.DeliveryState, finished, lost bool) {
	if !d.finished.Load() {
		return nil, false, false
	}
	return d.state, true, d.lost
}

// Wait blocks until the peer settles the delivery and returns its final state
// (possibly nil, see Outcome). It returns nil, nil at once for a pre-settled
// delivery, ErrDeliveryLost when the link ended first, or ctx's error.
func (d *OutgoingDelivery) Wait(ctx context.Context) (codec.DeliveryState, error) {
	if !d.finished.Load() {
		c := d.s.l.conn
		c.mu.Lock()
		if d.done == nil {
			d.done = make(chan struct{})
			if d.finished.Load() {
				close(d.done)
			}
		}
		done := d.done
		c.mu.Unlock()
		// An outcome that is already known wins over a context that ended
		// at the same moment (select would pick either at random).
		select {
		case <-done:
		default:
			select {
			case <-done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	if d.lost {
		return nil, ErrDeliveryLost
	}
	return d.state, nil
}

// fillOutcome gives the outcome channel its final value and closes it.
func (d *OutgoingDelivery) fillOutcome() {
	if !d.lost && !d.settled {
		d.outcome <- d.state
	}
	close(d.outcome)
}

// finish records the end of the delivery; only the first call counts.
// conn.mu must be held.
func (d *OutgoingDelivery) finish(state codec.DeliveryState, lost bool) {
	if d.finished.Load() {
		return
	}
	d.state, d.lost = state, lost
	d.finished.Store(true)
	if d.outcome != nil {
		d.fillOutcome()
	}
	if d.done != nil {
		close(d.done)
	}
}

func sortDeliveries(ds []*OutgoingDelivery) {
	slices.SortFunc(ds, func(a, b *OutgoingDelivery) int {
		// Serial-number order (RFC 1982) so wrap-around sorts right.
		switch diff := int32(a.id - b.id); {
		case diff < 0:
			return -1
		case diff > 0:
			return 1
		}
		return 0
	})
}

// IncomingDelivery is a message the server received on a Receiver.
type IncomingDelivery struct {
	r       *Receiver
	id      uint32
	tag     []byte
	tagBuf  [8]byte             // what a tag of up to 8 bytes is copied into
	owner   any                 // see WithOwner
	state   codec.DeliveryState // the first transfer's state: see TransferState
	format  uint32
	payload []byte
	settled bool // pre-settled by the peer

	msg atomic.Pointer[decodedMessage] // set by the first Message call

	// Guarded by conn.mu.
	localSettled bool
}

// Tag returns the delivery tag the peer chose.
func (d *IncomingDelivery) Tag() []byte { return d.tag }

// ID returns the session-scoped delivery-id.
func (d *IncomingDelivery) ID() uint32 { return d.id }

// MessageFormat returns the message-format of the transfer (0 for a standard
// AMQP message).
func (d *IncomingDelivery) MessageFormat() uint32 { return d.format }

// Payload returns the encoded message (all transfer frames joined). It must
// not be modified.
func (d *IncomingDelivery) Payload() []byte { return d.payload }

// Message decodes the payload on the first call and returns that result
// on every call.
func (d *IncomingDelivery) Message() (*codec.Message, error) {
	m := d.msg.Load()
	if m == nil {
		msg, err := codec.UnmarshalMessage(d.payload)
		d.msg.CompareAndSwap(nil, &decodedMessage{msg, err})
		m = d.msg.Load()
	}
	return m.msg, m.err
}

// decodedMessage is the result of decoding a payload.
type decodedMessage struct {
	msg *codec.Message
	err error
}

// Settled reports whether the peer sent the delivery pre-settled. Settling a
// pre-settled delivery is a no-op.
func (d *IncomingDelivery) Settled() bool { return d.settled }

// Settle sends the server's outcome for the delivery: one of
// *codec.Accepted, *codec.Rejected, *codec.Released, *codec.Modified. On a
// link with ReceiverSettleSecond the disposition goes out unsettled and the
// delivery is forgotten when the peer settles; otherwise it goes out settled.
// Settling twice is a no-op. It fails with ErrLinkDetached once the link has
// ended (the peer will redeliver).
func (d *IncomingDelivery) Settle(state codec.DeliveryState) error {
	return d.r.settle(d, state)
}

// Accept settles the delivery as accepted.
func (d *IncomingDelivery) Accept() error { return d.Settle(&codec.Accepted{}) }

// Reject settles the delivery as rejected; err, when not nil, says why.
func (d *IncomingDelivery) Reject(err *codec.Error) error {
	return d.Settle(&codec.Rejected{Error: err})
}

// Release settles the delivery as released: not processed, may be
// redelivered.
func (d *IncomingDelivery) Release() error { return d.Settle(&codec.Released{}) }

// Modify settles the delivery as modified (AMQP 1.0 §3.4.5).
func (d *IncomingDelivery) Modify(deliveryFailed, undeliverableHere bool, annotations codec.Map) error {
	return d.Settle(&codec.Modified{
		DeliveryFailed:     deliveryFailed,
		UndeliverableHere:  undeliverableHere,
		MessageAnnotations: annotations,
	})
}

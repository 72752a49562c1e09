package broker

import (
	"context"
	"errors"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// ServeSender delivers a node's messages to the peer's receiver against its
// credit, and feeds the peer's outcomes back to the node.
func (h *handler) ServeSender(ctx context.Context, s *server.Sender) {
	b := (*Broker)(h)
	ol, _ := takeLink(s.Link()).(*outLink)
	if ol == nil {
		return
	}
	st := newSettler(b, ol.c, s)
	go st.run()
	b.joinConn(st.conn, nil, st)

	err := b.pump(ctx, s, ol, st)
	if err != nil {
		// The node went away under the link (a deleted dynamic node, a
		// closed broker): say so, then wait for the link to end.
		_ = s.Close(toAMQPError(err))
	}
	<-ctx.Done()
	closed, _ := s.Link().DetachReason()
	st.stop()
	b.leaveConn(st.conn, nil, st)
	ol.close(closed || err != nil)
}

// pump is the per-link delivery loop: wait for credit, take the next item
// (the queue pushes it to the consumer), send it, hand the delivery to the
// settler. It returns nil when ctx ends and the reason otherwise.
func (b *Broker) pump(ctx context.Context, s *server.Sender, ol *outLink, st *settler) error {
	presettled := s.Link().SenderSettleMode() == server.SenderSettleSettled
	c := ol.c
	for {
		credit := int(s.Credit())
		if credit == 0 {
			// Give back what the queue pushed ahead of credit, so that
			// other consumers can have it.
			c.setCredit(0)
			select {
			case <-s.Flowed():
				continue
			case <-s.Done():
				return nil
			case <-ctx.Done():
				return nil
			}
		}
		var (
			it  *item
			err error
		)
		if s.Draining() {
			// §2.6.7: send what is there now, then give the rest back.
			if it, err = c.poll(credit); err == nil && it == nil {
				c.setCredit(0)
				if err := s.Drained(); err != nil {
					return ctxOr(ctx, err)
				}
				continue
			}
		} else {
			it, err = c.next(ctx, credit, s.Flowed())
		}
		if err != nil {
			return ctxOr(ctx, err)
		}
		if it == nil {
			continue // a flow arrived: look at credit and drain again
		}
		if err := b.deliver(ctx, s, c, it, presettled, st); err != nil {
			return ctxOr(ctx, err)
		}
	}
}

// ctxOr reports nil when the loop ended because the link did.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, server.ErrLinkDetached) {
		return nil
	}
	return err
}

func (b *Broker) deliver(ctx context.Context, s *server.Sender, c *consumer, it *item, presettled bool, st *settler) error {
	payload, err := outgoing(it)
	if err != nil {
		// Only a message that cannot be decoded again gets here: drop it
		// rather than loop on it.
		b.log.Warn("dropping undecodable message", "error", err)
		c.settle(it, outcome{kind: outcomeRejected})
		return nil
	}
	d, err := s.SendRaw(ctx, payload, presettled)
	if err != nil {
		// The delivery never fully reached the peer (SendRaw forgets
		// those): back to the queue, not counted as an attempt.
		if errors.Is(err, server.ErrMessageTooLarge) {
			// Leave it for receivers that accept larger messages.
			b.log.Warn("message larger than the receiver accepts", "error", err)
			c.settle(it, outcome{kind: outcomeModified, undeliverableHere: true})
			return nil
		}
		c.settle(it, outcome{kind: outcomeReleased})
		return err
	}
	if d.Settled() {
		c.settle(it, outcome{kind: outcomeAccepted})
		return nil
	}
	st.add(d, it)
	return nil
}

// outcomeOf converts a peer's delivery state. A settlement without a state
// counts as accepted: the peer is done with the message.
func outcomeOf(state codec.DeliveryState) outcome {
	switch s := state.(type) {
	case *codec.Rejected:
		return outcome{kind: outcomeRejected}
	case *codec.Released:
		return outcome{kind: outcomeReleased}
	case *codec.Modified:
		return outcome{
			kind:              outcomeModified,
			deliveryFailed:    s.DeliveryFailed,
			undeliverableHere: s.UndeliverableHere,
			annotations:       annotationsOf(s.MessageAnnotations),
		}
	}
	return outcome{kind: outcomeAccepted}
}

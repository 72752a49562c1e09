package amq

import (
	"context"
	"errors"
	"fmt"

	"github.com/amqgo/amq/internal/engine"
)

// errDrainDeliveries is Drain's answer once Deliveries is in use.
var errDrainDeliveries = errors.New("the Deliveries channel is in use: its goroutine takes messages and grants credit again at once; drain a receiver read with Receive")

// Drain asks the peer to use up the credit it holds now — to send the
// messages it has for this receiver, up to the credit, and give back the
// rest (AMQP 1.0 section 2.6.7, the drain flag) — and returns once it has.
// The messages it sent have then arrived, and the following Receive calls
// return them without waiting (but for the last frames of a message too
// large for one frame, when other messages wait ahead of it); a Receive
// after those waits for new messages as usual. When the peer holds no
// credit (it has used all it was given, and the messages wait in the
// receiver), Drain returns at once.
//
// Drain fetches what is there without waiting for more: a batch (drain,
// then Receive until a Receive would wait), or a clean stop before Close
// or Detach that leaves nothing in flight. Until the next Receive no new
// credit is granted; from then on ReceiverOptions.Credit works as before.
//
// If the connection drops during Drain, the receiver is re-attached with
// fresh credit, and Drain drains the new link too: when it returns nil,
// the peer holds no credit on the receiver's current link. If instead the
// peer ends the link or its session during the drain, Drain returns that
// error (an *Error with the peer's condition) and the receiver re-attaches
// as it does for Receive, without draining again: a peer that fails on a
// drain would only fail again (RabbitMQ 3.10 before its fix for
// rabbitmq-server#7119 ends the session with amqp:internal-error). When
// ctx ends first, Drain returns an error wrapping ctx's (errors.Is(err,
// context.DeadlineExceeded)); the drain is given up and the receiver works
// as before. After Close or Detach Drain returns the receiver's Err.
//
// Drain is for receivers read with Receive: once Deliveries has been
// called it returns an error, since the goroutine feeding the channel
// keeps taking messages and granting credit. Concurrent calls of Drain
// share one drain; Receive may run concurrently with it.
func (r *Receiver) Drain(ctx context.Context) error {
	if r.pumping.Load() {
		return fmt.Errorf("amq: drain %q: %w", r.Address(), errDrainDeliveries)
	}
	var after uint64 // the generation drained already
	for {
		l, conn, gen, err := r.current(ctx, after)
		if err != nil {
			if r.life.Err() == nil && ctx.Err() != nil {
				return r.drainCtxErr(ctx)
			}
			return err
		}
		err = engine.Drain(ctx, l, r.life.Done(), r.Err)
		switch {
		case err == nil:
			return nil
		case r.life.Err() != nil:
			return r.Err()
		case ctx.Err() != nil:
			return r.drainCtxErr(ctx)
		case connLost(conn):
			after = gen // the re-attached link has fresh credit: drain it too
		default:
			// The peer ended the link or its session in answer: draining
			// the re-attached link would ask it again (RabbitMQ 3.10 ends
			// the session on every drain of a classic queue). The
			// receiver re-attaches, or Receive reports that it ended.
			if linkLost(l.Link()) {
				r.recover(gen)
			}
			return linkEndErr("drain", r.Address(), l.Link())
		}
	}
}

func (r *Receiver) drainCtxErr(ctx context.Context) error {
	return fmt.Errorf("amq: drain %q: %w", r.Address(), ctx.Err())
}

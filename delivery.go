package amq

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// Delivery is a message received on a Receiver, with the means to settle
// it: Accept, Reject, Release or Modify (AMQP 1.0 section 3.4). Settle a
// delivery at most once; with auto-accept (the default) an unsettled
// delivery is accepted for you, see Receiver.
//
// A []byte body (or DataSections) is a view of the bytes received, not a
// copy. A small message's bytes share an allocation
// of up to 4 KiB with the messages received just before and after it, so
// that receiving costs fewer allocations; a program that keeps many small
// bodies for long (a cache, say) should keep copies (bytes.Clone) rather
// than hold those allocations.
type Delivery struct {
	// Message is the received message.
	Message *Message

	r       *Receiver
	in      *engine.IncomingDelivery // the delivery on the link it arrived on
	settled atomic.Bool

	ctx  context.Context // carries the process span; nil when tracing is off
	span trace.Span
}

// Context returns a context carrying the delivery's trace span when
// tracing is on (ConnectOptions.TracerProvider), so that work done for the
// message joins the sender's trace; otherwise context.Background().
func (d *Delivery) Context() context.Context {
	if d.ctx == nil {
		return context.Background()
	}
	return d.ctx
}

// ModifyOptions describe a modified outcome (section 3.4.5).
type ModifyOptions struct {
	// DeliveryFailed asks the peer to count this as a failed delivery
	// attempt (its delivery-count goes up).
	DeliveryFailed bool
	// UndeliverableHere asks the peer not to redeliver the message to this
	// receiver.
	UndeliverableHere bool
	// Annotations are merged into the message's annotations.
	Annotations map[string]any
}

// Accept tells the peer the message was processed: it is removed from its
// queue. It returns once the disposition is queued on the connection,
// whose writer sends what is queued whenever it is free: a busy consumer's
// accepts reach the peer together, consecutive ones merged into one range.
// If the connection drops first, the peer redelivers the message
// (at-least-once).
func (d *Delivery) Accept(ctx context.Context) error {
	return d.settle(ctx, "accept", nil) // nil: accept, without a closure per message
}

// Reject tells the peer the message is invalid and must not be redelivered
// (it may be dead-lettered), with an AMQP error condition such as
// "amqp:precondition-failed" and a description; an empty condition sends
// a rejected outcome without an error.
func (d *Delivery) Reject(ctx context.Context, condition, description string) error {
	var e *codec.Error
	if condition != "" {
		e = &codec.Error{Condition: codec.Symbol(condition), Description: description}
	}
	return d.settle(ctx, "reject", func() error { return d.in.Reject(e) })
}

// Release gives the message back to the peer unprocessed; it will be
// delivered again, to this or another receiver, with its delivery count
// unchanged.
func (d *Delivery) Release(ctx context.Context) error {
	return d.settle(ctx, "release", d.in.Release)
}

// Modify gives the message back to the peer with the changes opts asks
// for. A nil opts means DeliveryFailed: the usual "processing failed, try
// again later".
func (d *Delivery) Modify(ctx context.Context, opts *ModifyOptions) error {
	o := ModifyOptions{DeliveryFailed: true}
	if opts != nil {
		o = *opts
	}
	ann, err := annotationsToCodec("message annotation", o.Annotations)
	if err != nil {
		return err // still unsettled: fix the annotations and settle again
	}
	return d.settle(ctx, "modify", func() error { return d.in.Modify(o.DeliveryFailed, o.UndeliverableHere, ann) })
}

// settle settles the delivery once, with do, or with an accept when do is
// nil.
func (d *Delivery) settle(ctx context.Context, op string, do func() error) error {
	if !d.settled.CompareAndSwap(false, true) {
		return fmt.Errorf("amq: %s: %w", op, ErrAlreadySettled)
	}
	if d.span != nil {
		settleSpan := d.r.c.trace.startSettle(d, op)
		err := d.disposition(ctx, op, do)
		endSpan(settleSpan, err)
		d.span.SetAttributes(attribute.String("amqp.outcome", outcomeOf(op)))
		if err != nil {
			d.span.SetStatus(codes.Error, err.Error())
		}
		d.span.End()
		return err
	}
	return d.disposition(ctx, op, do)
}

// outcomeOf names the outcome a settlement operation gives.
func outcomeOf(op string) string {
	switch op {
	case "accept":
		return "accepted"
	case "reject":
		return "rejected"
	case "release":
		return "released"
	}
	return "modified"
}

func (d *Delivery) disposition(ctx context.Context, op string, do func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("amq: %s on %q: %w", op, d.r.Address(), err)
	}
	var err error
	if do == nil {
		err = d.in.Accept()
	} else {
		err = do()
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, engine.ErrLinkDetached) || errors.Is(err, engine.ErrConnClosed) {
		return &Error{Scope: ScopeLink, Op: op, Address: d.r.Address(), Err: fmt.Errorf("%w (%v)", ErrDeliveryLost, err)}
	}
	return wrapErr(op, d.r.Address(), err)
}

// autoAccept accepts the delivery unless the application settled it. The
// disposition is bounded by the receiver's acceptCtx (see Receiver), not
// by a timer of its own: this runs once per message.
func (d *Delivery) autoAccept() {
	if d.settled.Load() {
		return
	}
	if err := d.Accept(d.r.acceptCtx); err != nil && !errors.Is(err, ErrAlreadySettled) {
		d.r.c.cfg.logger.Warn("amq: auto-accept failed", "address", d.r.Address(), "err", err)
	}
}

package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/amqgo/amq/internal/codec"
)

// Receiver is the server's end of a link on which the server receives
// messages (the peer attached a sender). It is handed to
// Handler.ServeReceiver. Its methods are safe for concurrent use.
type Receiver struct {
	l *Link

	// Guarded by conn.mu.
	queue    []*IncomingDelivery
	partial  *IncomingDelivery // multi-frame delivery being reassembled
	window   uint32            // 0 = manual credit
	afterUse bool              // top up only once the last grant is used
	ended    bool
	drain    drainState // see Drain

	newDelivery func() *IncomingDelivery // see AttachOptions.NewDelivery; nil: new
}

func newReceiver(l *Link) *Receiver {
	return &Receiver{l: l, window: l.creditWindow}
}

// Link returns the link the receiver receives on.
func (r *Receiver) Link() *Link { return r.l }

// Done returns a channel closed once the link is detached.
func (r *Receiver) Done() <-chan struct{} { return r.l.done }

// Detach detaches the link without closing it; see Link.Detach.
func (r *Receiver) Detach(err error) error { return r.l.Detach(err) }

// Close closes the link; see Link.Close.
func (r *Receiver) Close(err error) error { return r.l.Close(err) }

// Credit returns the credit the server has granted and the peer not used.
func (r *Receiver) Credit() uint32 {
	c := r.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	return r.l.linkCredit
}

// Receive returns the next complete delivery, blocking until one arrives, the
// link ends (ErrLinkDetached, after every delivery already received has been
// returned) or ctx is done. An aborted delivery (§2.6.14) is never
// returned.
func (r *Receiver) Receive(ctx context.Context) (*IncomingDelivery, error) {
	return r.receive(ctx, nil)
}

// ReceiveUntil is Receiver.Receive that also gives up, with stopErr, once
// stop is closed. A client receiver waits on the caller's context and on
// its own life; merging the two into one context would cost four
// allocations on every call.
func ReceiveUntil(ctx context.Context, r *Receiver, stop <-chan struct{}, stopErr func() error) (*IncomingDelivery, error) {
	d, err := r.receive(ctx, stop)
	if err == errStopped {
		return nil, stopErr()
	}
	return d, err
}

var errStopped = errors.New("engine: receive stopped")

func (r *Receiver) receive(ctx context.Context, stop <-chan struct{}) (*IncomingDelivery, error) {
	c := r.l.conn
	c.mu.Lock()
	for len(r.queue) == 0 {
		if r.ended {
			c.mu.Unlock()
			return nil, ErrLinkDetached
		}
		if r.resumeLocked() {
			r.topUpLocked() // a drain left no credit: grant it before waiting
		}
		ch := r.l.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-stop:
			return nil, errStopped
		}
		c.mu.Lock()
	}
	d := r.queue[0]
	r.queue[0] = nil
	r.queue = r.queue[1:]
	if !r.ended {
		r.resumeLocked()
		r.topUpLocked()
	}
	c.mu.Unlock()
	return d, nil
}

// IssueCredit grants the peer n more credit and sends a flow. It is how a
// handler that set Link.SetCreditWindow(0) lets messages in; with an
// automatic window it adds to it until the window next tops up.
func (r *Receiver) IssueCredit(n uint32) error {
	c := r.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.l.state != linkAttached {
		return ErrLinkDetached
	}
	if n == 0 {
		return nil
	}
	r.l.linkCredit += n
	return c.sendLinkFlowLocked(r.l, false)
}

// topUpLocked restores the automatic credit window once half of it is used.
// A drain holds it back (see Drain).
func (r *Receiver) topUpLocked() {
	if r.window == 0 || r.l.state != linkAttached || r.afterUse && r.l.linkCredit > 0 || r.drain.holding() {
		return
	}
	outstanding := r.l.linkCredit + uint32(len(r.queue))
	if outstanding > r.window/2 {
		return
	}
	r.l.linkCredit = r.window - uint32(len(r.queue))
	_ = r.l.conn.sendLinkFlowLocked(r.l, false)
}

// settle sends the disposition for d.
func (r *Receiver) settle(d *IncomingDelivery, state codec.DeliveryState) error {
	if state == nil {
		return fmt.Errorf("amqp: Settle: nil delivery state")
	}
	c := r.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.settled || d.localSettled {
		return nil
	}
	if r.l.state != linkAttached {
		return ErrLinkDetached
	}
	d.localSettled = true
	settled := r.l.replyRcvMode != ReceiverSettleSecond
	if settled {
		delete(r.l.sess.unsettledIn, d.id)
	}
	c.settleDisp = codec.Disposition{Role: codec.RoleReceiver, First: d.id, Settled: settled, State: state}
	return c.sendLocked(r.l.sess.localChannel, &c.settleDisp, nil)
}

// linkEndedLocked makes Receive report the end once the queue is empty.
// conn.mu must be held.
func (r *Receiver) linkEndedLocked() {
	r.ended = true
	r.partial = nil
	for id, in := range r.l.sess.unsettledIn {
		if in.r == r {
			delete(r.l.sess.unsettledIn, id)
		}
	}
}

// HeldUnsettled reports whether d still awaits settlement on r's link: not
// settled by the peer (pre-settled, or its settling disposition under
// ReceiverSettleSecond) and, with ReceiverSettleFirst, not settled by us.
// Tests use it.
func HeldUnsettled(r *Receiver, d *IncomingDelivery) bool {
	c := r.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := r.l.sess.unsettledIn[d.id]
	return ok && in == d
}

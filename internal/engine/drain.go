package engine

import "context"

// Draining a receiving link (AMQP 1.0 §2.6.7): the receiver sends a flow
// with drain=true; the sender must use up its link credit, sending what it
// has and then advancing the delivery-count over the rest, and say so in a
// flow. Either way the credit the receiver sees (its limit less the
// sender's delivery-count) falls to zero: that is when a drain is done. A
// sender whose messages used all the credit need not send a flow at all,
// so the last transfer can end a drain as well as the peer's flow.

// drainState is a Receiver's drain. Guarded by conn.mu.
type drainState struct {
	active  bool   // our drain flow is out and the credit not used up yet
	waiters int    // Drain calls waiting for it
	done    uint64 // drains completed, so that every waiter sees its own end
	// hold keeps the automatic window from granting credit after a drain
	// until the application takes messages again (Receive): a drain is
	// asked for to stop the flow of messages, not to restart it at once.
	hold bool
}

// holding reports whether the automatic window may not grant credit now.
func (d *drainState) holding() bool { return d.active || d.hold }

// Drain asks the peer to use up the credit it holds on r's link, sending
// what it has, and returns once the credit is used up (AMQP 1.0 §2.6.7).
// Every delivery the peer sent for that credit has then arrived, and
// Receive returns them, with one allowance: when the last one spans
// several frames and other deliveries wait ahead of it, Drain does not
// wait for its last frames (Receive does, once it gets to it). When the
// peer holds no credit, Drain returns at once without asking.
//
// While a drain is in progress, and after it until the next Receive, the
// automatic credit window grants nothing; from then on it works as before.
// Concurrent calls share one drain.
//
// Drain returns ctx's error when ctx ends first, stopErr() when stop is
// closed first (as ReceiveUntil), and ErrLinkDetached when the link ends.
// In each of these cases the drain is given up once no call waits for it:
// the peer may still answer it, and the window works as before. Drain is a
// function, not a method: the methods of Receiver are the server's API.
func Drain(ctx context.Context, r *Receiver, stop <-chan struct{}, stopErr func() error) error {
	c := r.l.conn
	c.mu.Lock()
	if r.ended || r.l.state != linkAttached {
		c.mu.Unlock()
		return ErrLinkDetached
	}
	if r.l.linkCredit == 0 {
		c.mu.Unlock()
		return nil
	}
	if !r.drain.active {
		r.drain.active, r.drain.hold = true, true
		r.l.drain = true
		if err := c.sendLinkFlowLocked(r.l, false); err != nil {
			r.endDrainLocked()
			r.drain.hold = false
			c.mu.Unlock()
			return err
		}
	}
	r.drain.waiters++
	start := r.drain.done
	for {
		if r.drain.done != start && (r.partial == nil || len(r.queue) > 0) {
			r.drain.waiters--
			c.mu.Unlock()
			return nil
		}
		if r.ended || r.l.state != linkAttached {
			r.giveUpDrainLocked()
			c.mu.Unlock()
			return ErrLinkDetached
		}
		ch := r.l.changed
		c.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		case <-stop:
			err = stopErr()
		}
		c.mu.Lock()
		if err != nil {
			r.giveUpDrainLocked()
			c.mu.Unlock()
			return err
		}
	}
}

// drainTransferLocked looks at the credit after a transfer of the peer's
// (an aborted one too): a sender whose messages used all the credit need
// send no flow, so the transfer that takes the last of it ends a drain. A
// drain that ended waiting for the last frames of a delivery is woken as
// they arrive. conn.mu must be held.
func (r *Receiver) drainTransferLocked() {
	switch {
	case r.drain.active && r.l.linkCredit == 0:
		r.drainedLocked()
	case r.drain.waiters > 0:
		r.l.signalLocked()
	}
}

// drainFlowedLocked looks at the credit after the peer's flow: a drain is
// done when the peer's delivery-count has used it up. conn.mu must be held.
func (r *Receiver) drainFlowedLocked() {
	if r.drain.active && r.l.linkCredit == 0 {
		r.drainedLocked()
	}
}

// drainedLocked ends the active drain: the peer holds no more credit. The
// credit stays held until the next Receive. conn.mu must be held.
func (r *Receiver) drainedLocked() {
	r.endDrainLocked()
	r.drain.done++
	r.l.signalLocked()
}

// giveUpDrainLocked is a Drain call leaving before the drain ended; the
// last one to leave gives the drain up and lets the window work again.
// conn.mu must be held.
func (r *Receiver) giveUpDrainLocked() {
	r.drain.waiters--
	if r.drain.waiters == 0 && r.drain.active {
		r.endDrainLocked()
		r.drain.hold = false
		if !r.ended {
			r.topUpLocked()
		}
	}
}

// endDrainLocked clears the drain flag for the flows that follow.
// conn.mu must be held.
func (r *Receiver) endDrainLocked() {
	r.drain.active = false
	r.l.drain = false
}

// resumeLocked lifts the hold a finished drain put on the window, as the
// application takes messages again, and reports whether there was one.
// conn.mu must be held.
func (r *Receiver) resumeLocked() bool {
	if !r.drain.hold || r.drain.active {
		return false
	}
	r.drain.hold = false
	return true
}

package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/amqgo/amq/internal/codec"
)

// Sender is the server's end of a link on which the server sends messages
// (the peer attached a receiver). It is handed to Handler.ServeSender.
// Its methods are safe for concurrent use.
type Sender struct {
	l *Link

	// sendSem keeps the frames of one delivery together: a link carries one
	// delivery at a time (AMQP 1.0 §2.6.14). A channel, so that waiting for
	// it honours the caller's context.
	sendSem chan struct{}
	// settledScratch holds the pre-settled delivery SendSettled sends,
	// while sendSem is held.
	settledScratch OutgoingDelivery
	flowed         chan struct{} // capacity 1: coalesced "the peer sent a flow"
	settles        chan struct{} // capacity 1: coalesced "deliveries were settled"
	settled        atomic.Uint64 // deliveries the peer settled so far

	// Guarded by conn.mu.
	nextTag uint64
	lost    []*OutgoingDelivery
	// abortDue is set while delivery abortID, of which some frames went
	// out, still has to be ended with aborted=true: the send that gave it
	// up found no room in the peer's session window for that frame.
	abortDue bool
	abortID  uint32
}

func newSender(l *Link) *Sender {
	return &Sender{l: l, flowed: make(chan struct{}, 1), settles: make(chan struct{}, 1), sendSem: make(chan struct{}, 1)}
}

// Link returns the link the sender sends on.
func (s *Sender) Link() *Link { return s.l }

// Done returns a channel closed once the link is detached.
func (s *Sender) Done() <-chan struct{} { return s.l.done }

// Detach detaches the link without closing it; see Link.Detach.
func (s *Sender) Detach(err error) error { return s.l.Detach(err) }

// Close closes the link; see Link.Close.
func (s *Sender) Close(err error) error { return s.l.Close(err) }

// Credit returns the link credit the peer has granted and the server has not
// used yet.
func (s *Sender) Credit() uint32 {
	c := s.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	return s.l.linkCredit
}

// Draining reports whether the peer's last flow asked the server to drain:
// to use up the credit now or give it back. A handler that has nothing to
// send while Draining is true calls Drained.
func (s *Sender) Draining() bool {
	c := s.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	return s.l.drain && s.l.linkCredit > 0
}

// Drained tells a draining peer that the server has nothing more to send:
// the remaining credit is consumed (the delivery-count advances by it) and a
// flow says so (AMQP 1.0 §2.6.7). It does nothing when the peer is not
// draining.
func (s *Sender) Drained() error {
	c := s.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.l.state != linkAttached {
		return ErrLinkDetached
	}
	if !s.l.drain || s.l.linkCredit == 0 {
		return nil
	}
	s.l.deliveryCount += s.l.linkCredit
	s.l.linkCredit = 0
	return c.sendLinkFlowLocked(s.l, false)
}

// Flowed returns a channel that receives a value after the peer sent a flow
// for this link (credit granted, drain requested). Values are coalesced: one
// pending value stands for any number of flows. It lets a handler wait for
// credit or a drain request together with its own events in one select.
func (s *Sender) Flowed() <-chan struct{} { return s.flowed }

// Settlements returns a channel that receives a value after the peer
// settled one or more deliveries of this sender, and when the link ends
// and the deliveries still unsettled are lost. Values are coalesced: one
// pending value stands for any number of settlements. With
// OutgoingDelivery.Result it lets a handler follow many deliveries with
// one goroutine and no channel per delivery: wait here, then look at the
// oldest deliveries.
func (s *Sender) Settlements() <-chan struct{} { return s.settles }

// SettledCount returns how many deliveries of this sender the peer has
// settled so far (not counting those sent pre-settled, nor those lost with
// the link). A handler that follows its deliveries in send order compares
// it with the number it has seen settled to know, without looking, whether
// the peer settled some out of order.
func (s *Sender) SettledCount() uint64 { return s.settled.Load() }

// notifySettled signals Settlements without blocking.
func (s *Sender) notifySettled() {
	select {
	case s.settles <- struct{}{}:
	default:
	}
}

// WaitCredit blocks until the peer has granted credit, the link ends
// (ErrLinkDetached) or ctx is done.
func (s *Sender) WaitCredit(ctx context.Context) error {
	c := s.l.conn
	for {
		c.mu.Lock()
		if s.l.state != linkAttached {
			c.mu.Unlock()
			return ErrLinkDetached
		}
		if s.l.linkCredit > 0 {
			c.mu.Unlock()
			return nil
		}
		ch := s.l.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Send encodes msg and sends it as one delivery, blocking until the peer has
// granted credit (and the session window has room), the link ends
// (ErrLinkDetached) or ctx is done. settled=true sends it pre-settled
// (at-most-once); otherwise the peer's outcome arrives on the returned
// delivery. Send returns once the delivery is queued for the wire.
func (s *Sender) Send(ctx context.Context, msg *codec.Message, settled bool) (*OutgoingDelivery, error) {
	if msg == nil {
		return nil, fmt.Errorf("amqp: Send: nil message")
	}
	payload, err := msg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("amqp: Send: encoding message: %w", err)
	}
	return s.SendRaw(ctx, payload, settled)
}

// SendRaw is Send for a message already encoded as AMQP message sections
// (the bytes of IncomingDelivery.Payload, for instance: a broker forwards
// what it received without decoding it). The server keeps payload until the
// delivery is settled; the caller must not modify it.
func (s *Sender) SendRaw(ctx context.Context, payload []byte, settled bool) (*OutgoingDelivery, error) {
	return s.send(ctx, payload, settled, nil, nil)
}

// SendInto is Sender.SendRaw of an unsettled delivery whose state lives in
// d, memory the caller allocated with something of its own (a client's
// record of the send), which saves an allocation per message. d must be
// zero and, once SendInto has returned it, is the engine's to update until
// the delivery is finished; on an error it must not be used again.
func SendInto(ctx context.Context, s *Sender, d *OutgoingDelivery, payload []byte) (*OutgoingDelivery, error) {
	return s.send(ctx, payload, false, d, nil)
}

// SendSettled is Sender.SendRaw of a pre-settled delivery, without a
// delivery to return: nothing of it outlives the call, so nothing is
// allocated for it.
func SendSettled(ctx context.Context, s *Sender, payload []byte) error {
	_, err := s.send(ctx, payload, true, &s.settledScratch, nil)
	return err
}

// send sends payload as a delivery kept in d, or in a new one when d is
// nil, with state on its first transfer (the transactional state of a send
// in a transaction, §4.4.1; nil for most).
//
// Nothing of the delivery is decided before its first frame is queued:
// the delivery-id, the tag, the delivery-count and the credit are taken
// then, so a send given up before (ctx ended while waiting for credit, the
// session window or the writer) has consumed nothing and the peer's view
// of the link still matches ours. A send given up after its first frame
// ends the delivery with aborted=true (§2.6.14): the peer discards what it
// got, and the delivery is forgotten.
func (s *Sender) send(ctx context.Context, payload []byte, settled bool, d *OutgoingDelivery, state codec.DeliveryState) (*OutgoingDelivery, error) {
	l := s.l
	c := l.conn
	if l.peerMaxMsg > 0 && uint64(len(payload)) > l.peerMaxMsg {
		return nil, fmt.Errorf("amqp: message of %d bytes exceeds the peer's max-message-size %d: %w",
			len(payload), l.peerMaxMsg, ErrMessageTooLarge)
	}
	select {
	case s.sendSem <- struct{}{}: // the usual case: no send under way, and no three-way select to pay for
	default:
		select {
		case s.sendSem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.done:
			return nil, ErrLinkDetached
		}
	}
	defer func() { <-s.sendSem }()

	c.mu.Lock()
	if s.abortDue {
		if err := s.sendDueAbortLocked(ctx); err != nil {
			c.mu.Unlock()
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		// Ended already: nothing of the message goes out, whatever the
		// credit.
		c.mu.Unlock()
		return nil, err
	}
	if err := s.awaitLocked(ctx, needFirst); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	d = s.startLocked(d, payload, settled)
	settled = d.settled
	sess := l.sess

	// Split into frames no larger than the peer accepts; each frame needs
	// room in the peer's session incoming window (§2.5.6).
	maxPayload := c.maxTransferPayload()
	first := true
	rest := payload
	for {
		if !first {
			if err := s.awaitLocked(ctx, needFrame); err != nil {
				if err != ErrLinkDetached {
					s.abortLocked(d)
				}
				s.dropLocked(d)
				c.mu.Unlock()
				return nil, err
			}
		}
		chunk := rest
		more := false
		if len(chunk) > maxPayload {
			chunk, more = rest[:maxPayload], true
		}
		rest = rest[len(chunk):]
		t := &c.sendTransfer
		*t = codec.Transfer{Handle: l.localHandle, More: more}
		if first {
			c.sendTransferID = d.id
			t.DeliveryID = &c.sendTransferID
			t.DeliveryTag = d.tag
			t.MessageFormat = &c.sendTransferFormat // always 0
			t.Settled = settled
			t.State = state
		}
		if err := c.sendLocked(sess.localChannel, t, chunk); err != nil {
			s.dropLocked(d)
			c.mu.Unlock()
			return nil, err
		}
		sess.nextOutgoingID++
		sess.remoteIncomingWindow--
		first = false
		if !more {
			break
		}
	}
	if d == &s.settledScratch {
		d.payload = nil // written: do not pin it until the next send
	}
	c.mu.Unlock()
	return d, nil
}

// startLocked gives a delivery about to have its first frame queued its
// delivery-id and tag, in d or in a new delivery when d is nil, and takes
// one credit for it. conn.mu must be held, with credit available.
func (s *Sender) startLocked(d *OutgoingDelivery, payload []byte, settled bool) *OutgoingDelivery {
	l := s.l
	switch l.replySndMode {
	case SenderSettleSettled:
		settled = true
	case SenderSettleUnsettled:
		settled = false
	}
	switch {
	case d == &s.settledScratch && !settled:
		// The link's snd-settle-mode overrides: the delivery outlives
		// the call after all.
		d = new(OutgoingDelivery)
	case d == &s.settledScratch:
		*d = OutgoingDelivery{} // sendSem is held: no other send uses it
	case d == nil:
		d = new(OutgoingDelivery)
	}
	sess := l.sess
	d.s, d.id, d.payload, d.settled = s, sess.nextDeliveryID, payload, settled
	sess.nextDeliveryID++
	d.tag = binary.BigEndian.AppendUint64(d.tagBuf[:0], s.nextTag)
	s.nextTag++
	l.deliveryCount++
	l.linkCredit--
	if settled {
		d.finish(nil, false)
	} else {
		sess.unsettledOut[d.id] = d
	}
	return d
}

// frameNeed says what a transfer frame waits for before it is queued.
type frameNeed uint8

const (
	needWindow frameNeed = iota // room in the peer's session window: an abort
	needFrame                   // that, and a writer keeping up: a later frame
	needFirst                   // that, and link credit: a delivery's first frame
)

// awaitLocked waits until a frame of the kind n may be queued: the link
// has credit (a first frame), the peer's session incoming window has room
// (§2.5.6) and, but for an abort, the writer is not too far behind (the
// peer reads slower than we produce). It returns ErrLinkDetached once the
// link has ended, or ctx's error if ctx ends first. conn.mu is held on
// entry and on return, and released while waiting.
func (s *Sender) awaitLocked(ctx context.Context, n frameNeed) error {
	l := s.l
	c := l.conn
	for {
		if l.state != linkAttached {
			return ErrLinkDetached
		}
		var wait <-chan struct{}
		switch {
		case n == needFirst && l.linkCredit == 0, l.sess.remoteIncomingWindow == 0:
			wait = l.changed // a flow signals it
		case n != needWindow:
			wait = c.writeBacklog()
		}
		if wait == nil {
			return nil
		}
		c.mu.Unlock()
		var err error
		select {
		case <-wait:
		case <-l.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		c.mu.Lock()
		if err != nil {
			return err
		}
	}
}

// abortLocked ends d, whose first frames are queued, with a transfer with
// aborted=true (§2.6.14): the peer discards the part it got. That frame
// needs room in the peer's session window like any transfer; without it,
// the abort is left to the next send on the link, which sends it before
// anything else once the peer opens the window. conn.mu must be held.
func (s *Sender) abortLocked(d *OutgoingDelivery) {
	s.abortID = d.id
	if s.l.sess.remoteIncomingWindow == 0 {
		s.abortDue = true
		return
	}
	s.sendAbortLocked()
}

// sendDueAbortLocked sends the abort abortLocked had to leave for later,
// waiting for room in the peer's session window within ctx. conn.mu must
// be held.
func (s *Sender) sendDueAbortLocked(ctx context.Context) error {
	if err := s.awaitLocked(ctx, needWindow); err != nil {
		if err == ErrLinkDetached {
			s.abortDue = false // the peer discarded the partial delivery with the link
		}
		return err
	}
	s.sendAbortLocked()
	return nil
}

// sendAbortLocked queues the aborting transfer of delivery abortID. It
// carries the delivery-id, optional on a delivery's later frames, for the
// peers that look for it. conn.mu must be held.
func (s *Sender) sendAbortLocked() {
	l := s.l
	c := l.conn
	s.abortDue = false
	t := &c.sendTransfer
	c.sendTransferID = s.abortID
	*t = codec.Transfer{Handle: l.localHandle, DeliveryID: &c.sendTransferID, Aborted: true}
	if c.sendLocked(l.sess.localChannel, t, nil) == nil {
		l.sess.nextOutgoingID++
		l.sess.remoteIncomingWindow--
	}
}

// Unsettled returns the deliveries the peer had not settled. Once Done is
// closed the list is final: those deliveries can no longer be settled on this
// link, and a broker requeues them.
func (s *Sender) Unsettled() []*OutgoingDelivery {
	c := s.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.l.state == linkDetached {
		return append([]*OutgoingDelivery(nil), s.lost...)
	}
	var out []*OutgoingDelivery
	for _, d := range s.l.sess.unsettledOut {
		if d.s == s {
			out = append(out, d)
		}
	}
	sortDeliveries(out)
	return out
}

// dropLocked forgets a delivery that never fully reached the wire.
func (s *Sender) dropLocked(d *OutgoingDelivery) {
	delete(s.l.sess.unsettledOut, d.id)
	d.finish(nil, true)
}

// notifyFlow signals Flowed without blocking.
func (s *Sender) notifyFlow() {
	select {
	case s.flowed <- struct{}{}:
	default:
	}
}

// linkEndedLocked moves the unsettled deliveries to the lost list and fails
// their waiters. conn.mu must be held.
func (s *Sender) linkEndedLocked() {
	var lost []*OutgoingDelivery
	for id, d := range s.l.sess.unsettledOut {
		if d.s == s {
			lost = append(lost, d)
			delete(s.l.sess.unsettledOut, id)
		}
	}
	sortDeliveries(lost)
	for _, d := range lost {
		d.finish(nil, true)
	}
	s.lost = lost
	s.notifyFlow()
	s.notifySettled()
}

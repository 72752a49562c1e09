package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// sessionWindow is the incoming-window (in transfer frames) the server
// grants a session; it is restored once half of it is used.
const sessionWindow = 2048

// Session is one begun session (AMQP 1.0 §2.5). All fields are guarded by
// conn.mu.
type Session struct {
	c             *Conn
	remoteChannel uint16
	localChannel  uint16
	handleMax     uint32

	// Incoming (transfers from the peer).
	nextIncomingID uint32
	incomingWindow uint32
	// The delivery-id the peer's next delivery must carry, once its first
	// has set the sequence going (deliveryInSeen).
	nextDeliveryIn uint32
	deliveryInSeen bool

	// Outgoing (transfers to the peer).
	nextOutgoingID       uint32
	remoteIncomingWindow uint32
	nextDeliveryID       uint32

	byRemote map[uint32]*Link // by the peer's handle
	byLocal  map[uint32]*Link // by our handle
	// The unsettled deliveries of every link of the session, by delivery
	// id (dispositions name deliveries by id, per session). A link's own
	// are found by filtering, which only its end and Sender.Unsettled do:
	// a map per link as well would double the map work of every message.
	unsettledOut map[uint32]*OutgoingDelivery
	unsettledIn  map[uint32]*IncomingDelivery

	endSent bool // we ended it; waiting for the peer's end

	// begun is closed once both begins are exchanged; a session we began
	// is beginPending until the peer's begin answers it.
	begun        chan struct{}
	beginPending bool
	// ended is closed once both ends are exchanged (or the connection
	// ended).
	ended chan struct{}
	// attaching are the links we attached whose answer has not come, by
	// name.
	attaching map[string]*Link

	// serving counts the links whose ServeSender or ServeReceiver runs.
	// When the peer ends the session, our end waits for them to return
	// (endPending), so that the peer's end answered means every transfer
	// it sent before was handed to the handler and processed (a client
	// closing after pre-settled sends relies on it) and that the handler
	// let go of every link (a client re-attaching a closed durable
	// subscription relies on that).
	serving    int
	endPending bool
}

// dispatch handles one frame read after the open exchange.
func (c *Conn) dispatch(fr codec.Frame) error {
	if fr.Body == nil {
		return nil // heartbeat
	}
	if fr.Type != codec.FrameAMQP {
		return newConnError(codec.ErrCondNotAllowed, "SASL frame after the SASL layer")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch b := fr.Body.(type) {
	case *codec.Open:
		return newConnError(codec.ErrCondNotAllowed, "second open")
	case *codec.Close:
		if b.Error != nil {
			c.err = fmt.Errorf("amqp: peer closed the connection: %w", b.Error)
			c.log.Info("amqp connection closed by peer", "error", b.Error)
		}
		if !c.closeSent {
			c.closeSent = true
			_ = c.sendLocked(0, &codec.Close{}, nil)
		}
		return errPeerClosed
	case *codec.Begin:
		return c.handleBegin(fr.Channel, b)
	}
	s := c.sessions[fr.Channel]
	if s == nil {
		return newConnError(codec.ErrCondNotAllowed, fmt.Sprintf("%s on channel %d, which has no session", performativeName(fr.Body), fr.Channel))
	}
	if s.endSent {
		// Ending: only the peer's end matters (§2.5.5).
		if _, ok := fr.Body.(*codec.End); ok {
			c.freeSessionLocked(s)
		}
		return nil
	}
	if s.endPending {
		return nil // the peer ended it; our end follows when the handlers are done
	}
	var err error
	switch b := fr.Body.(type) {
	case *codec.End:
		if b.Error != nil {
			c.log.Info("amqp session ended by peer", "channel", fr.Channel, "error", b.Error)
		}
		s.endLocked(b.Error)
		s.endPending = true
		if s.serving == 0 {
			s.answerEndLocked()
			break
		}
		time.AfterFunc(closeTimeout, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			s.answerEndLocked() // a handler still busy does not hold the peer forever
		})
	case *codec.Attach:
		err = s.handleAttach(b)
	case *codec.Flow:
		err = s.handleFlow(b)
	case *codec.Transfer:
		err = s.handleTransfer(b, fr.Payload)
	case *codec.Disposition:
		s.handleDisposition(b)
	case *codec.Detach:
		err = s.handleDetach(b)
	default:
		err = newConnError(codec.ErrCondNotAllowed, fmt.Sprintf("unexpected %T", fr.Body))
	}
	if se, ok := err.(*sessionError); ok {
		c.log.Info("amqp session error", "channel", fr.Channel, "error", se.e)
		s.endLocked(se.e)
		s.endSent = true
		_ = c.sendLocked(s.localChannel, &codec.End{Error: se.e}, nil)
		return nil
	}
	return err
}

// handleBegin answers a peer's begin with ours (§2.5.1), or takes the
// peer's answer to ours.
func (c *Conn) handleBegin(ch uint16, b *codec.Begin) error {
	if b.RemoteChannel != nil {
		return c.beginAnsweredLocked(ch, b)
	}
	if c.cfg.RefusePeerSessions {
		return newConnError(codec.ErrCondNotAllowed, "this endpoint does not accept sessions it did not begin")
	}
	if ch > c.channelMax {
		return newConnError(codec.ErrCondNotAllowed, fmt.Sprintf("channel %d exceeds channel-max %d", ch, c.channelMax))
	}
	if c.sessions[ch] != nil {
		return newConnError(codec.ErrCondNotAllowed, fmt.Sprintf("begin on channel %d, which already has a session", ch))
	}
	local := ch
	if c.localChan[local] != nil {
		local = 0
		for c.localChan[local] != nil {
			local++
		}
		if local > c.channelMax {
			return newConnError(codec.ErrCondResourceLimitExceeded, "no free channel")
		}
	}
	s := c.newSessionLocked(local)
	s.remoteChannel = ch
	s.nextIncomingID = b.NextOutgoingID
	s.remoteIncomingWindow = b.IncomingWindow
	if b.HandleMax != nil && *b.HandleMax < s.handleMax {
		s.handleMax = *b.HandleMax
	}
	close(s.begun)
	c.sessions[ch] = s
	c.localChan[local] = s
	remote := ch
	hm := uint32(DefaultHandleMax)
	return c.sendLocked(local, &codec.Begin{
		RemoteChannel:  &remote,
		NextOutgoingID: s.nextOutgoingID,
		IncomingWindow: s.incomingWindow,
		OutgoingWindow: math.MaxUint32,
		HandleMax:      &hm,
	}, nil)
}

// answerEndLocked answers the peer's end of s, if it waits for one.
func (s *Session) answerEndLocked() {
	c := s.c
	if !s.endPending || c.closeSent || c.ended {
		return
	}
	s.endPending = false
	s.endSent = true // answered: a later End must not send another on the freed channel
	_ = c.sendLocked(s.localChannel, &codec.End{}, nil)
	c.freeSessionLocked(s)
}

// servedLocked records that the Serve function of one of s's links
// returned, and answers the peer's end once none runs.
func (s *Session) servedLocked() {
	s.serving--
	if s.serving == 0 {
		s.answerEndLocked()
	}
}

// newSessionLocked makes the state of a session on our channel local.
func (c *Conn) newSessionLocked(local uint16) *Session {
	return &Session{
		c:              c,
		localChannel:   local,
		handleMax:      DefaultHandleMax,
		incomingWindow: sessionWindow,
		byRemote:       make(map[uint32]*Link),
		byLocal:        make(map[uint32]*Link),
		unsettledOut:   make(map[uint32]*OutgoingDelivery),
		unsettledIn:    make(map[uint32]*IncomingDelivery),
		begun:          make(chan struct{}),
		ended:          make(chan struct{}),
		attaching:      make(map[string]*Link),
	}
}

// freeSessionLocked forgets a session both sides have ended.
func (c *Conn) freeSessionLocked(s *Session) {
	if c.sessions[s.remoteChannel] == s {
		delete(c.sessions, s.remoteChannel)
	}
	delete(c.localChan, s.localChannel)
	select {
	case <-s.ended:
	default:
		close(s.ended)
	}
}

// endLocked detaches every link of the session because the session (or
// the connection) ends.
func (s *Session) endLocked(e *codec.Error) {
	for _, m := range []map[uint32]*Link{s.byRemote, s.byLocal} {
		for _, l := range m {
			if l.state != linkDetached && l.state != linkDetachSent {
				l.endedWithSession = true
			}
			l.markDetachedLocked(false, e)
			l.bothDetachedLocked()
		}
	}
}

// sessionFlowLocked fills in the session part of a flow.
func (s *Session) flowLocked() *codec.Flow {
	nextIn := s.nextIncomingID
	return &codec.Flow{
		NextIncomingID: &nextIn,
		IncomingWindow: s.incomingWindow,
		NextOutgoingID: s.nextOutgoingID,
		OutgoingWindow: math.MaxUint32,
	}
}

// sendLinkFlowLocked sends a flow for link l with its current state.
func (c *Conn) sendLinkFlowLocked(l *Link, echo bool) error {
	if l.state != linkAttached {
		return ErrLinkDetached
	}
	f := l.sess.flowLocked()
	h, dc, cr := l.localHandle, l.deliveryCount, l.linkCredit
	f.Handle, f.DeliveryCount, f.LinkCredit = &h, &dc, &cr
	f.Drain = l.drain
	f.Echo = echo
	return c.sendLocked(l.sess.localChannel, f, nil)
}

// handleFlow applies a peer's flow (§2.5.6 session, §2.6.7 link).
func (s *Session) handleFlow(f *codec.Flow) error {
	c := s.c
	nextIn := uint32(0) // our initial next-outgoing-id
	if f.NextIncomingID != nil {
		nextIn = *f.NextIncomingID
	}
	s.remoteIncomingWindow = nextIn + f.IncomingWindow - s.nextOutgoingID
	if int32(s.remoteIncomingWindow) < 0 {
		s.remoteIncomingWindow = 0
	}
	for _, l := range s.byLocal {
		if l.role == RoleSender && l.state == linkAttached {
			l.signalLocked()
		}
	}
	if f.Handle == nil {
		if f.Echo {
			return c.sendLocked(s.localChannel, s.flowLocked(), nil)
		}
		return nil
	}
	l := s.byRemote[*f.Handle]
	if l == nil {
		return newSessionError(codec.ErrCondUnattachedHandle, fmt.Sprintf("flow on handle %d, which is not attached", *f.Handle))
	}
	if l.state != linkAttached {
		return nil
	}
	switch l.role {
	case RoleSender:
		// The peer is the receiver: its view of the delivery-count plus
		// its credit is the limit we may send up to.
		dc := uint32(0) // our initial-delivery-count
		if f.DeliveryCount != nil {
			dc = *f.DeliveryCount
		}
		credit := uint32(0)
		if f.LinkCredit != nil {
			credit = *f.LinkCredit
		}
		avail := dc + credit - l.deliveryCount
		if int32(avail) < 0 {
			avail = 0
		}
		l.linkCredit = avail
		l.drain = f.Drain
		l.signalLocked()
		l.sender.notifyFlow()
		if l.drain && l.linkCredit == 0 {
			// Nothing to drain: answer at once (§2.6.7).
			return c.sendLinkFlowLocked(l, false)
		}
	case RoleReceiver:
		// The peer is the sender: its delivery-count wins (it may have
		// advanced it to drain), the limit stays.
		if f.DeliveryCount != nil {
			limit := l.deliveryCount + l.linkCredit
			l.deliveryCount = *f.DeliveryCount
			l.linkCredit = limit - l.deliveryCount
			if int32(l.linkCredit) < 0 {
				l.linkCredit = 0
			}
		}
		l.receiver.drainFlowedLocked()
		if !f.Echo {
			l.receiver.topUpLocked()
		}
	}
	if f.Echo {
		return c.sendLinkFlowLocked(l, false)
	}
	return nil
}

// handleTransfer takes a transfer frame for a link where the server
// receives (§2.6.12, §2.7.5).
func (s *Session) handleTransfer(t *codec.Transfer, payload []byte) error {
	if s.incomingWindow == 0 {
		return newSessionError(codec.ErrCondWindowViolation, "transfer beyond the incoming window")
	}
	s.nextIncomingID++
	s.incomingWindow--
	if s.incomingWindow < sessionWindow/2 {
		s.incomingWindow = sessionWindow
		_ = s.c.sendLocked(s.localChannel, s.flowLocked(), nil)
	}
	l := s.byRemote[t.Handle]
	if l == nil {
		return newSessionError(codec.ErrCondUnattachedHandle, fmt.Sprintf("transfer on handle %d, which is not attached", t.Handle))
	}
	if l.state != linkAttached {
		// In flight after our detach: its delivery-id still counts.
		if t.DeliveryID != nil && (!s.deliveryInSeen || *t.DeliveryID == s.nextDeliveryIn) {
			s.deliveryInSeen, s.nextDeliveryIn = true, *t.DeliveryID+1
		}
		return nil
	}
	if l.role != RoleReceiver {
		return newSessionError(codec.ErrCondNotAllowed, fmt.Sprintf("transfer on handle %d, where the peer is the receiver", t.Handle))
	}
	r := l.receiver
	d := r.partial
	if err := s.checkDeliveryIDLocked(d, t); err != nil {
		return err
	}
	defer r.drainTransferLocked()
	if t.Aborted {
		// The sender gave the delivery up (§2.6.14): what arrived of it is
		// discarded, the payload of this frame too, and nothing reaches
		// the application. It is implicitly settled, so nothing waits for
		// a disposition.
		return s.abortedLocked(l, t)
	}
	if d == nil {
		if t.DeliveryID == nil {
			return s.c.linkErrorLocked(l, codec.ErrCondInvalidField, "first transfer of a delivery without delivery-id")
		}
		if l.linkCredit == 0 {
			return s.c.linkErrorLocked(l, codec.ErrCondTransferLimitExceeded, "transfer without link credit")
		}
		l.linkCredit--
		l.deliveryCount++
		if r.newDelivery != nil {
			d = r.newDelivery()
		} else {
			d = new(IncomingDelivery)
		}
		d.r, d.id, d.settled, d.state = r, *t.DeliveryID, t.Settled, t.State
		// The frame reader reuses t: the tag is copied, into the delivery
		// when it fits.
		if t.DeliveryTag != nil {
			if len(t.DeliveryTag) <= len(d.tagBuf) {
				d.tag = append(d.tagBuf[:0:len(t.DeliveryTag)], t.DeliveryTag...)
			} else {
				d.tag = append([]byte(nil), t.DeliveryTag...)
			}
		}
		if t.MessageFormat != nil {
			d.format = *t.MessageFormat
		}
	}
	d.settled = d.settled || t.Settled
	if d.payload == nil && !t.More {
		d.payload = payload // FrameReader made it for us: ours to keep
	} else {
		d.payload = append(d.payload, payload...)
	}
	if max := l.localMaxMsg; max > 0 && uint64(len(d.payload)) > max {
		r.partial = nil
		return s.c.linkErrorLocked(l, codec.ErrCondMessageSizeExceeded,
			fmt.Sprintf("message exceeds max-message-size %d", max))
	}
	if t.More {
		r.partial = d
		return nil
	}
	r.partial = nil
	if !d.settled {
		s.unsettledIn[d.id] = d
	}
	// Receive waits only on an empty queue: wake it only then, rather
	// than making a new channel for every transfer.
	if len(r.queue) == 0 {
		l.signalLocked()
	}
	r.queue = append(r.queue, d)
	return nil
}

// checkDeliveryIDLocked holds the peer to the delivery-ids of §2.7.5: the
// first transfer of a delivery carries the session's next one (as Proton
// also requires), and a continuation, if it names one, its delivery's own.
// Otherwise deliveries would be stored under ids they share, or settled
// under ids the peer never meant.
func (s *Session) checkDeliveryIDLocked(partial *IncomingDelivery, t *codec.Transfer) error {
	if t.DeliveryID == nil {
		return nil
	}
	id := *t.DeliveryID
	if partial != nil {
		if id != partial.id {
			return newSessionError(codec.ErrCondInvalidField,
				fmt.Sprintf("continuation transfer names delivery-id %d, its delivery is %d", id, partial.id))
		}
		return nil
	}
	if s.deliveryInSeen && id != s.nextDeliveryIn {
		return newSessionError(codec.ErrCondInvalidField,
			fmt.Sprintf("delivery-id %d out of sequence, expected %d", id, s.nextDeliveryIn))
	}
	s.deliveryInSeen, s.nextDeliveryIn = true, id+1
	return nil
}

// abortedLocked takes a transfer with aborted=true on receiving link l.
// An abort of a delivery whose earlier frames arrived drops them. An
// aborted first frame is a delivery all the same: it used a credit and
// advances the delivery-count, as it did at the sender (§2.6.7). An abort
// with no delivery under way and no delivery-id refers to nothing and is
// ignored. Since an aborted delivery never reaches Receive, the automatic
// credit window is topped up here, or a link whose last credit went to it
// would stall.
func (s *Session) abortedLocked(l *Link, t *codec.Transfer) error {
	r := l.receiver
	if r.partial != nil {
		r.partial = nil
	} else {
		if t.DeliveryID == nil {
			return nil
		}
		if l.linkCredit == 0 {
			return s.c.linkErrorLocked(l, codec.ErrCondTransferLimitExceeded, "transfer without link credit")
		}
		l.linkCredit--
		l.deliveryCount++
	}
	r.topUpLocked()
	return nil
}

// handleDisposition applies a peer's disposition (§2.7.6).
func (s *Session) handleDisposition(d *codec.Disposition) {
	first, last := d.First, d.First
	if d.Last != nil {
		last = *d.Last
	}
	if d.Role == codec.RoleReceiver {
		s.outgoingDispositionLocked(first, last, d.Settled, d.State)
		return
	}
	// The peer settles deliveries it sent us (rcv-settle-mode second, or
	// it settled on its own).
	if !d.Settled {
		return
	}
	eachInRange(first, last, len(s.unsettledIn), func(id uint32) bool {
		_, ok := s.unsettledIn[id]
		return ok
	}, func(id uint32) {
		delete(s.unsettledIn, id)
	}, func(yield func(uint32)) {
		for id := range s.unsettledIn {
			yield(id)
		}
	})
}

// outgoingDispositionLocked applies the receiver's outcome to deliveries the
// server sent.
func (s *Session) outgoingDispositionLocked(first, last uint32, settled bool, state codec.DeliveryState) {
	terminal := isTerminal(state)
	var toSettle []uint32
	// A sender is signalled after each run of its deliveries is counted,
	// and so after the last: signalled as soon as the first was counted, a
	// handler could read SettledCount halfway through the range and wait
	// for a signal that never comes. (Runs, not a list of senders: no
	// allocation per disposition.)
	var run *Sender
	eachInRange(first, last, len(s.unsettledOut), func(id uint32) bool {
		_, ok := s.unsettledOut[id]
		return ok
	}, func(id uint32) {
		od := s.unsettledOut[id]
		if !settled {
			if !terminal {
				return // e.g. received: progress, not an outcome
			}
			// The peer uses rcv-settle-mode second: it waits for us to
			// settle first (§3.8.3).
			toSettle = append(toSettle, id)
		}
		delete(s.unsettledOut, id)
		od.finish(state, false)
		od.s.settled.Add(1)
		if od.s != run {
			if run != nil {
				run.notifySettled()
			}
			run = od.s
		}
	}, func(yield func(uint32)) {
		for id := range s.unsettledOut {
			yield(id)
		}
	})
	if run != nil {
		run.notifySettled()
	}
	for _, r := range idRanges(toSettle) {
		f, l := r[0], r[1]
		disp := &codec.Disposition{Role: codec.RoleSender, First: f, Settled: true, State: state}
		if l != f {
			disp.Last = &l
		}
		_ = s.c.sendLocked(s.localChannel, disp, nil)
	}
}

// eachInRange calls fn for every id in [first, last] (serial arithmetic)
// that exists, visiting either the range or the map, whichever is smaller.
func eachInRange(first, last uint32, mapLen int, exists func(uint32) bool, fn func(uint32), all func(func(uint32))) {
	span := uint64(last-first) + 1
	if span <= uint64(mapLen)*2 {
		for i := uint64(0); i < span; i++ {
			if id := first + uint32(i); exists(id) {
				fn(id)
			}
		}
		return
	}
	var ids []uint32
	all(func(id uint32) {
		if id-first <= last-first {
			ids = append(ids, id)
		}
	})
	for _, id := range ids {
		fn(id)
	}
}

// idRanges compresses ascending ids into [first, last] ranges.
func idRanges(ids []uint32) [][2]uint32 {
	var out [][2]uint32
	for _, id := range ids {
		if n := len(out); n > 0 && out[n-1][1]+1 == id {
			out[n-1][1] = id
			continue
		}
		out = append(out, [2]uint32{id, id})
	}
	return out
}

func isTerminal(s codec.DeliveryState) bool {
	switch s := s.(type) {
	case *codec.Accepted, *codec.Rejected, *codec.Released, *codec.Modified:
		return true
	case *codec.TransactionalState:
		return isTerminal(s.Outcome) // the outcome it will have at commit
	}
	return false
}

// performativeName names a performative for error descriptions.
func performativeName(p codec.Performative) string {
	switch p.(type) {
	case *codec.Attach:
		return "attach"
	case *codec.Flow:
		return "flow"
	case *codec.Transfer:
		return "transfer"
	case *codec.Disposition:
		return "disposition"
	case *codec.Detach:
		return "detach"
	case *codec.End:
		return "end"
	}
	return fmt.Sprintf("%T", p)
}

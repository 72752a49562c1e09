package amq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// Sender sends messages to one address over its own AMQP link. It is safe
// for concurrent use: concurrent Sends are pipelined on the wire, each
// waiting only for its own outcome.
//
// A Sender survives reconnects: it is re-attached with the same link name
// and target on the new connection, and every message that was waiting for
// its outcome when the connection dropped is sent again, in order, before
// any new one (at-least-once: the peer may receive it twice). Pre-settled
// messages are never sent again.
type Sender struct {
	c       *Client
	address string
	name    string
	opts    SenderOptions

	mu       sync.Mutex
	conn     *engine.Conn
	session  *engine.Session
	link     *engine.Sender // nil while the connection is down
	gen      uint64         // version of link: bumped on every attach (Client.newLinkGen)
	changed  chan struct{}  // closed and replaced when link changes or the sender ends
	healPace healPace       // paces re-attaches across losses (heal)
	failErr  error
	closed   bool
	inflight []*sendRecord // unsettled sends, oldest first
	queued   chan struct{} // signals the settler that inflight grew

	settleCtx    context.Context // ended by Close, to unblock the settler
	settleCancel context.CancelFunc
	settlerDone  chan struct{}
}

// sendRecord is one unsettled send, kept until its outcome is known so it
// can be sent again after a reconnect.
type sendRecord struct {
	enc  *encoded                 // the encoded message, to send again; given back by complete
	d    *engine.OutgoingDelivery // its delivery on the link of gen
	gen  uint64
	span trace.Span // the producer span, ended with the outcome; nil when tracing is off

	// finished is set, after err, once the outcome is known. done is made
	// by the first Wait that finds it unknown: a receipt read only once
	// settled (the common case with a window of sends) never needs one.
	finished atomic.Bool
	err      error
	mu       sync.Mutex // guards done
	done     chan struct{}

	receipt Receipt                 // SendAsync's answer, allocated with the record
	first   engine.OutgoingDelivery // the first transmission's delivery, allocated with the record

	// tx is set for a send in a transaction (Tx.SendAsync): no settler
	// completes it, Wait asks d for the outcome itself.
	tx       *Tx
	txSender *Sender
}

func newSendRecord(enc *encoded, span trace.Span) *sendRecord {
	rec := &sendRecord{enc: enc, span: span}
	rec.receipt.rec = rec
	return rec
}

// NewSender attaches a sending link to address. The link is ready when
// NewSender returns; an address the peer refuses (amqp:not-found,
// amqp:unauthorized-access) is an *Error with that condition. While the
// client is reconnecting, NewSender waits for the connection (within ctx).
func (c *Client) NewSender(ctx context.Context, address string, opts *SenderOptions) (*Sender, error) {
	o, err := newSenderConfig(address, opts)
	if err != nil {
		return nil, err
	}
	s := &Sender{
		c:           c,
		address:     address,
		name:        o.Name,
		opts:        o,
		changed:     make(chan struct{}),
		queued:      make(chan struct{}, 1),
		settlerDone: make(chan struct{}),
	}
	s.settleCtx, s.settleCancel = context.WithCancel(context.Background())
	if s.name == "" {
		// A stable name lets the link be re-attached as itself.
		s.name = "amq-sender-" + uuid.NewString()
	}
	for {
		conn, gen, err := c.connection(ctx)
		if err != nil {
			return nil, fmt.Errorf("amq: attach sender %q: %w", address, err)
		}
		session, l, err := s.attach(ctx, conn)
		if err != nil {
			if connLost(conn) && ctx.Err() == nil {
				continue // the connection dropped meanwhile; wait for the next
			}
			return nil, err
		}
		s.conn, s.session, s.link, s.gen = conn, session, l, c.newLinkGen()
		if err := c.track(s, gen); err != nil {
			_ = endSession(context.WithoutCancel(ctx), session, c.cfg.CloseTimeout)
			if errors.Is(err, errStale) {
				continue
			}
			return nil, fmt.Errorf("amq: attach sender %q: %w", address, err)
		}
		break
	}
	go s.settle()
	c.cfg.logger.Debug("amq: sender attached", "address", address, "link", s.name)
	return s, nil
}

// attach begins a session on conn and attaches the link on it.
func (s *Sender) attach(ctx context.Context, conn *engine.Conn) (*engine.Session, *engine.Sender, error) {
	session, err := engine.NewSession(ctx, conn)
	if err != nil {
		return nil, nil, wrapErr("attach sender", s.address, err)
	}
	// Pre-settled sending uses mixed mode with every transfer settled: some
	// peers (the Proton C example broker) do not echo snd-settle-mode
	// settled.
	mixed := codec.SenderSettleMode(engine.SenderSettleMixed)
	l, err := session.AttachSender(ctx, &engine.AttachOptions{
		Name:   s.name,
		Source: &codec.Source{},
		Target: &codec.Target{
			Address:      s.address,
			Capabilities: symbols(s.opts.Capabilities),
			Durable:      codec.Durability(s.opts.Durability),
			ExpiryPolicy: codec.ExpiryPolicy(s.opts.ExpiryPolicy),
		},
		SndSettleMode: &mixed,
		Properties:    linkProperties(s.opts.Properties),
	})
	if err != nil {
		_ = endSession(context.WithoutCancel(ctx), session, s.c.cfg.CloseTimeout)
		return nil, nil, wrapErr("attach sender", s.address, err)
	}
	return session, l, nil
}

// Address returns the target address of the sender.
func (s *Sender) Address() string { return s.address }

// Send sends msg and blocks until the peer settles it: nil means accepted;
// *RejectedError, *ReleasedError and *ModifiedError report the other
// outcomes (all match errors.Is(err, ErrNotAccepted)); an *Error reports a
// link or connection that failed for good. With SenderOptions.Presettled,
// Send returns once the message is written (at-most-once).
//
// If ctx ends before the message is completely written (while Send waits
// for credit or for the connection, or in the middle of a large message
// split into several frames), Send returns ctx's error and the message is
// not sent: a partly written one is aborted (AMQP 1.0 section 2.6.14), so
// the peer discards what it got of it, and it is not sent again after a
// reconnect. If ctx ends while Send waits for the outcome, Send returns
// ctx's error too, but the message may or may not have been delivered.
//
// Send encodes msg before it writes it and keeps nothing of it: msg and
// its body may be changed or reused as soon as Send returns.
func (s *Sender) Send(ctx context.Context, msg *Message) error {
	enc, span, err := s.prepare(ctx, msg)
	if err != nil {
		return err
	}
	err = s.send(ctx, enc.b, msg)
	enc.release() // written (the engine copies what it writes), and never sent again
	endSpan(span, err)
	return err
}

// encodedSizeHint guesses how many bytes msg encodes to, so that encoding
// it allocates once: a []byte body plus room for the sections around it.
// A guess too small costs one more allocation, never a wrong encoding.
func encodedSizeHint(msg *Message) int {
	const sections = 256
	if b, ok := msg.Body.([]byte); ok {
		return len(b) + sections
	}
	return sections
}

// prepare encodes msg, after starting its producer span (whose context
// goes into the message) when tracing is on. The caller gives the encoding
// back (release) once the message will not be sent again.
func (s *Sender) prepare(ctx context.Context, msg *Message) (*encoded, trace.Span, error) {
	if msg == nil {
		return nil, nil, errors.New("amq: Send: nil message")
	}
	w, err := msg.toWire()
	if err != nil {
		return nil, nil, err
	}
	var span trace.Span
	if t := s.c.trace; t != nil {
		span = t.startSend(ctx, s.c, s.address, msg, &w.Message)
	}
	enc := newEncoded(encodedSizeHint(msg))
	enc.b, err = w.appendTo(enc.b)
	if err != nil {
		enc.release()
		err = fmt.Errorf("amq: encoding the message: %w", err)
		endSpan(span, err)
		return nil, nil, err
	}
	return enc, span, nil
}

func (s *Sender) send(ctx context.Context, payload []byte, msg *Message) error {
	if s.opts.Presettled {
		return s.sendSettled(ctx, payload, msg)
	}
	// The caller waits for the outcome itself, without the settler: one
	// goroutine hand-off less per message. A link lost while waiting
	// means sending again on the re-attached link.
	var after uint64
	for {
		d, conn, gen, err := s.transmit(ctx, payload, msg, after, nil)
		if err != nil {
			return err
		}
		state, err := d.Wait(ctx)
		if err == nil {
			return outcomeErr(state)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("amq: send to %q: waiting for the outcome: %w", s.address, ctx.Err())
		}
		if !s.lost(conn, gen) {
			return s.sendErr(err)
		}
		after = gen
	}
}

// lost reports whether the link of version gen is gone while the sender
// is still wanted: the connection dropped (the supervisor re-attaches the
// link) or the peer ended the link's session or took the link away (the
// link re-attaches itself, see heal).
func (s *Sender) lost(conn *engine.Conn, gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lostLocked(conn, gen)
}

// SendAsync writes msg to the link and returns without waiting for the
// outcome, so one goroutine can keep many messages in flight; the returned
// Receipt's Wait gives the outcome. SendAsync blocks while the peer grants
// no credit and while the client reconnects. A message in flight when the
// connection drops is sent again after the reconnect, in order, whether or
// not anyone waits for its receipt. If ctx ends before the message is
// completely written, SendAsync returns ctx's error and the message is not
// sent, as with Send. Like Send, SendAsync keeps nothing of msg once it
// returns: what is sent again after a reconnect is its encoded copy.
func (s *Sender) SendAsync(ctx context.Context, msg *Message) (*Receipt, error) {
	enc, span, err := s.prepare(ctx, msg)
	if err != nil {
		return nil, err
	}
	if s.opts.Presettled {
		err := s.sendSettled(ctx, enc.b, msg)
		enc.release()
		endSpan(span, err)
		if err != nil {
			return nil, err
		}
		return &settledRecord.receipt, nil
	}
	rec := newSendRecord(enc, span)
	into := &rec.first
	var after uint64
	for {
		d, _, gen, err := s.transmit(ctx, enc.b, msg, after, into)
		if err != nil {
			enc.release()
			endSpan(span, err)
			return nil, err
		}
		into = nil // the engine may still hold it: a send again gets a delivery of its own
		rec.d, rec.gen = d, gen
		s.mu.Lock()
		if s.gen != gen {
			// The link was replaced while this message was being written,
			// after in-flight messages were resent: send it again ourselves.
			s.mu.Unlock()
			after = gen
			continue
		}
		s.inflight = append(s.inflight, rec)
		s.mu.Unlock()
		select {
		case s.queued <- struct{}{}:
		default:
		}
		return &rec.receipt, nil
	}
}

// transmit writes payload on a link newer than generation after, waiting
// for one while the connection is down, and trying again on the next link
// if the link is lost while writing.
func (s *Sender) transmit(ctx context.Context, payload []byte, msg *Message, after uint64, into *engine.OutgoingDelivery) (*engine.OutgoingDelivery, *engine.Conn, uint64, error) {
	for {
		l, conn, gen, err := s.current(ctx, after, msg)
		if err != nil {
			return nil, nil, 0, err
		}
		var d *engine.OutgoingDelivery
		if into != nil {
			d, err = engine.SendInto(ctx, l, into, payload)
			into = nil // used, even by a send that failed
		} else {
			d, err = l.SendRaw(ctx, payload, false)
		}
		if err == nil {
			return d, conn, gen, nil
		}
		if ctx.Err() != nil || !s.lost(conn, gen) {
			return nil, nil, 0, s.sendErr(err)
		}
		after = gen
	}
}

// sendSettled sends payload pre-settled: once written it is never sent
// again (at-most-once). A write that failed because the connection or the
// link was lost did not deliver the message, so it waits for the next link
// and tries there, as unsettled sends do.
func (s *Sender) sendSettled(ctx context.Context, payload []byte, msg *Message) error {
	var after uint64
	for {
		l, conn, gen, err := s.current(ctx, after, msg)
		if err != nil {
			return err
		}
		err = engine.SendSettled(ctx, l, payload)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !s.lost(conn, gen) {
			return s.sendErr(err)
		}
		after = gen
	}
}

// current returns the attached link of a generation newer than after,
// waiting (within ctx, and within the client's pending-send budget) while
// the connection is down.
func (s *Sender) current(ctx context.Context, after uint64, msg *Message) (*engine.Sender, *engine.Conn, uint64, error) {
	reserved := int64(-1)
	defer func() {
		if reserved >= 0 {
			s.c.pending.release(reserved)
		}
	}()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, nil, 0, fmt.Errorf("amq: send to %q: %w", s.address, ErrClosed)
		}
		if s.failErr != nil {
			err := s.failErr
			s.mu.Unlock()
			return nil, nil, 0, err
		}
		if s.link != nil && s.gen > after {
			l, conn, gen := s.link, s.conn, s.gen
			s.mu.Unlock()
			return l, conn, gen, nil
		}
		changed := s.changed
		s.mu.Unlock()
		if reserved < 0 {
			size := approxSize(msg)
			if err := s.c.pending.acquire(size); err != nil {
				return nil, nil, 0, fmt.Errorf("amq: send to %q: %w", s.address, err)
			}
			reserved = size
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, 0, fmt.Errorf("amq: send to %q: waiting for the connection: %w", s.address, ctx.Err())
		}
	}
}

// settle completes in-flight sends in order as their outcomes arrive. When
// the connection drops, it waits for the re-attach to resend them and
// carries on with the new receipts.
func (s *Sender) settle() {
	defer close(s.settlerDone)
	for {
		s.mu.Lock()
		if len(s.inflight) == 0 {
			end := s.closed || s.failErr != nil
			s.mu.Unlock()
			if end {
				return
			}
			<-s.queued
			continue
		}
		rec := s.inflight[0]
		d, gen := rec.d, rec.gen
		conn := s.conn
		if gen != s.gen {
			conn = nil // rec belongs to a link that is gone and was not resent yet
		}
		s.mu.Unlock()

		var state codec.DeliveryState
		var err error
		if conn != nil {
			state, err = d.Wait(s.settleCtx)
		} else {
			err = errStale
		}
		if err != nil {
			s.mu.Lock()
			if s.closed || s.failErr != nil {
				end := s.failErr
				if end == nil {
					end = fmt.Errorf("amq: send to %q: %w", s.address, ErrClosed)
				}
				for _, r := range s.inflight {
					r.complete(end)
				}
				s.inflight = nil
				s.mu.Unlock()
				return
			}
			if errors.Is(err, errStale) || s.lostLocked(conn, gen) {
				if rec.gen != gen {
					// Already resent on the new link while we were waiting.
					s.mu.Unlock()
					continue
				}
				// Wait for reattach to resend it (or for the end).
				changed := s.changed
				s.mu.Unlock()
				<-changed
				continue
			}
			s.inflight = s.inflight[1:]
			s.mu.Unlock()
			rec.complete(s.sendErr(err))
			continue
		}
		s.mu.Lock()
		s.inflight = s.inflight[1:] // rec: only the settler takes records off
		s.mu.Unlock()
		rec.complete(outcomeErr(state))
	}
}

// complete records the outcome of a send that is over. r must no longer be
// in the sender's inflight: its encoding is given back for reuse.
func (r *sendRecord) complete(err error) {
	if r.enc != nil {
		r.enc.release()
		r.enc = nil
	}
	r.err = err
	endSpan(r.span, err)
	r.mu.Lock()
	r.finished.Store(true)
	if r.done != nil {
		close(r.done)
	}
	r.mu.Unlock()
}

// doneChan returns a channel closed once the outcome is known.
func (r *sendRecord) doneChan() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		r.done = make(chan struct{})
		if r.finished.Load() {
			close(r.done)
		}
	}
	return r.done
}

func (s *Sender) sendErr(err error) error {
	s.mu.Lock()
	closed, failErr, l := s.closed, s.failErr, s.link
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("amq: send to %q: %w", s.address, ErrClosed)
	}
	if failErr != nil {
		return failErr
	}
	if l != nil && (errors.Is(err, engine.ErrLinkDetached) || errors.Is(err, engine.ErrDeliveryLost)) {
		return linkEndErr("send to", s.address, l.Link())
	}
	return wrapErr("send to", s.address, err)
}

// reattach attaches the link on a new connection and resends what was in
// flight, before any new send can use the link.
func (s *Sender) reattach(ctx context.Context, conn *engine.Conn, _ uint64) error {
	session, l, err := s.attach(ctx, conn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.installLocked(ctx, conn, session, l)
}

// installLocked makes l the sender's link: the messages in flight are sent
// again on it, in order, before any new send can use it.
func (s *Sender) installLocked(ctx context.Context, conn *engine.Conn, session *engine.Session, l *engine.Sender) error {
	if s.closed || s.failErr != nil {
		_ = endSession(context.WithoutCancel(ctx), session, s.c.cfg.CloseTimeout)
		return nil
	}
	gen := s.c.newLinkGen()
	for _, rec := range s.inflight {
		d, err := l.SendRaw(ctx, rec.enc.b, false)
		if err != nil {
			_ = endSession(context.WithoutCancel(ctx), session, s.c.cfg.CloseTimeout)
			return wrapErr("resend to", s.address, err)
		}
		rec.d, rec.gen = d, gen
	}
	if n := len(s.inflight); n > 0 {
		s.c.cfg.logger.Info("amq: resent unsettled messages after re-attaching", "address", s.address, "count", n)
	}
	s.conn, s.session, s.link, s.gen = conn, session, l, gen
	s.signalLocked()
	return nil
}

// heal re-attaches the link of version gen on the current connection, in
// the background: the peer ended its session (RabbitMQ 3.10 does that on
// rabbitmqctl close_all_connections, and keeps the connection) or forced
// the link closed. Sends wait for the new link as they do during a
// reconnect.
func (s *Sender) heal(gen uint64, cause error) {
	healLink(s.settleCtx, s.c, &s.healPace, "sender", s.address, cause, func(ctx context.Context, conn *engine.Conn) error {
		session, l, err := s.attach(ctx, conn)
		if err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.gen != gen {
			// The supervisor re-attached it meanwhile (a reconnect).
			_ = endSession(context.WithoutCancel(ctx), session, s.c.cfg.CloseTimeout)
			return nil
		}
		return s.installLocked(ctx, conn, session, l)
	}, s.fail)
}

// lostLocked is lost with s.mu held (the settler holds it already).
func (s *Sender) lostLocked(conn *engine.Conn, gen uint64) bool {
	if connLost(conn) {
		return true
	}
	if s.closed || s.failErr != nil {
		return false
	}
	if s.gen != gen || s.link == nil {
		// A link of version gen that is no longer installed is being
		// replaced already (by a heal or, after a reconnect, by the
		// supervisor).
		return true
	}
	if !linkLost(s.link.Link()) {
		return false
	}
	// One heal per lost version: the first report of the loss takes the
	// link away. A flag cleared when the heal goroutine ends would miss a
	// new link lost before that goroutine got to run again.
	cause := linkEndErr("send to", s.address, s.link.Link())
	s.link = nil
	go s.heal(gen, cause)
	return true
}

func (s *Sender) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Sender) connectionLost() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.link = nil
}

func (s *Sender) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErr == nil && !s.closed {
		s.failErr = err
		s.signalLocked()
		s.wakeSettler()
	}
}

func (s *Sender) wakeSettler() {
	select {
	case s.queued <- struct{}{}:
	default:
	}
}

// Close detaches the link (closed=true) and ends its session. Sends still
// waiting for an outcome return ErrClosed. Close is bounded by ctx, or by
// ConnectOptions.CloseTimeout when ctx has no deadline.
func (s *Sender) Close(ctx context.Context) error {
	s.c.untrack(s)
	return s.end(ctx, true)
}

// closeForClient ends the link's session as part of Client.Close: ending a
// session detaches its links (AMQP 1.0 section 2.5.2), and the peer's
// answer confirms it has processed every transfer before it.
func (s *Sender) closeForClient(ctx context.Context) error { return s.end(ctx, false) }

func (s *Sender) end(ctx context.Context, detach bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	session, l, conn := s.session, s.link, s.conn
	s.link = nil
	s.signalLocked()
	s.wakeSettler()
	s.mu.Unlock()
	defer s.settleCancel()

	ctx, cancel := s.c.closeCtx(ctx)
	defer cancel()
	var err error
	if detach && l != nil {
		err = s.c.detachAndEnd(ctx, conn, l.Link(), session)
	} else if err = endSession(ctx, session, s.c.cfg.CloseTimeout); err != nil &&
		(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || connLost(conn)) {
		err = nil
	}
	s.settleCancel()
	<-s.settlerDone
	if err != nil {
		return wrapErr("close sender", s.address, err)
	}
	s.c.cfg.logger.Debug("amq: sender closed", "address", s.address)
	return nil
}

// failed reports whether the sender can no longer send.
func (s *Sender) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.failErr != nil
}

// Receipt is the pending outcome of a message sent with SendAsync.
type Receipt struct {
	rec *sendRecord
}

// settledRecord is the receipt of every pre-settled send: already done.
var settledRecord = func() *sendRecord {
	r := &sendRecord{}
	r.receipt.rec = r
	r.complete(nil)
	return r
}()

// Wait blocks until the peer settles the message and returns its outcome
// with the same meaning as Sender.Send. For a pre-settled message it
// returns nil at once. If the connection drops first, the message is sent
// again on the new connection and Wait keeps waiting.
func (r *Receipt) Wait(ctx context.Context) error {
	if r.rec.tx != nil {
		return r.rec.waitTx(ctx)
	}
	if r.rec.finished.Load() {
		return r.rec.err
	}
	done := r.rec.doneChan()
	select {
	case <-done:
		return r.rec.err
	default:
	}
	select {
	case <-done:
		return r.rec.err
	case <-ctx.Done():
		return fmt.Errorf("amq: waiting for the outcome: %w", ctx.Err())
	}
}

// waitTx is Wait for a send in a transaction: the outcome is the
// delivery's, read as Tx.Send reads it, and kept once known.
func (r *sendRecord) waitTx(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished.Load() {
		return r.err
	}
	state, err := r.d.Wait(ctx)
	if err != nil && ctx.Err() != nil {
		// Not known yet, and not lost: a later Wait, or Commit, learns it.
		return fmt.Errorf("amq: waiting for the outcome: %w", ctx.Err())
	}
	err = r.tx.outcomeOf(r.txSender, state, err)
	r.err = err
	r.finished.Store(true)
	endSpan(r.span, err)
	return err
}

// approxSize estimates the memory a waiting message holds, for the
// pending-send budget.
func approxSize(m *Message) int64 {
	n := int64(256)
	switch b := m.Body.(type) {
	case []byte:
		n += int64(len(b))
	case string:
		n += int64(len(b))
	case DataSections:
		for _, d := range b {
			n += int64(len(d))
		}
	}
	return n
}

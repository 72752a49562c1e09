package amq

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	amqp "github.com/Azure/go-amqp"
)

// Sender sends messages to one address over its own AMQP link. It is safe
// for concurrent use: concurrent Sends are pipelined on the wire, each
// waiting only for its own outcome.
type Sender struct {
	c       *Client
	address string
	opts    SenderOptions
	session *amqp.Session
	link    *amqp.Sender
	closed  atomic.Bool
	dead    atomic.Bool // the link failed; set by the first send that saw it
}

// NewSender attaches a sending link to address. The link is ready when
// NewSender returns; an address the peer refuses (amqp:not-found,
// amqp:unauthorized-access) is an *Error with that condition.
func (c *Client) NewSender(ctx context.Context, address string, opts *SenderOptions) (*Sender, error) {
	o, err := newSenderConfig(address, opts)
	if err != nil {
		return nil, err
	}
	session, err := c.newSession(ctx, "attach sender", address)
	if err != nil {
		return nil, err
	}
	ao := &amqp.SenderOptions{
		Name:               o.Name,
		TargetCapabilities: o.Capabilities,
		TargetDurability:   amqp.Durability(o.Durability),
		TargetExpiryPolicy: amqp.ExpiryPolicy(o.ExpiryPolicy),
		Properties:         o.Properties,
	}
	// Pre-settled sending uses mixed mode with every transfer settled: some
	// peers (the Proton C example broker) do not echo snd-settle-mode
	// settled, which go-amqp would treat as a refusal.
	mixed := amqp.SenderSettleModeMixed
	ao.SettlementMode = &mixed
	l, err := session.NewSender(ctx, address, ao)
	if err != nil {
		_ = endSession(context.WithoutCancel(ctx), session, c.cfg.CloseTimeout)
		return nil, wrapErr("attach sender", address, err)
	}
	s := &Sender{c: c, address: address, opts: o, session: session, link: l}
	if err := c.track(s); err != nil {
		_ = s.closeLink(ctx)
		return nil, fmt.Errorf("amq: attach sender: %w", err)
	}
	c.cfg.logger.Debug("amq: sender attached", "address", address, "link", l.LinkName())
	return s, nil
}

// Address returns the target address of the sender.
func (s *Sender) Address() string { return s.address }

// Send sends msg and blocks until the peer settles it: nil means accepted;
// *RejectedError, *ReleasedError and *ModifiedError report the other
// outcomes (all match errors.Is(err, ErrNotAccepted)); an *Error reports a
// failed link or connection. With SenderOptions.Presettled, Send returns
// once the message is written (at-most-once). If ctx ends first, Send
// returns ctx's error and the message may or may not have been delivered.
func (s *Sender) Send(ctx context.Context, msg *Message) error {
	r, err := s.SendAsync(ctx, msg)
	if err != nil {
		return err
	}
	return r.Wait(ctx)
}

// SendAsync writes msg to the link and returns without waiting for the
// outcome, so one goroutine can keep many messages in flight; the returned
// Receipt's Wait gives the outcome. SendAsync blocks only while the peer
// grants no credit.
func (s *Sender) SendAsync(ctx context.Context, msg *Message) (*Receipt, error) {
	if msg == nil {
		return nil, errors.New("amq: Send: nil message")
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("amq: Send to %q: %w", s.address, ErrClosed)
	}
	am := msg.toAMQP()
	if s.opts.Presettled {
		if err := s.link.Send(ctx, am, &amqp.SendOptions{Settled: true}); err != nil {
			return nil, s.sendErr(err)
		}
		return &Receipt{presettled: true}, nil
	}
	rc, err := s.link.SendWithReceipt(ctx, am, nil)
	if err != nil {
		return nil, s.sendErr(err)
	}
	return &Receipt{s: s, r: rc}, nil
}

func (s *Sender) sendErr(err error) error {
	if s.closed.Load() {
		return fmt.Errorf("amq: Send to %q: %w", s.address, ErrClosed)
	}
	var (
		le *amqp.LinkError
		se *amqp.SessionError
		ce *amqp.ConnError
	)
	if errors.As(err, &le) || errors.As(err, &se) || errors.As(err, &ce) {
		s.dead.Store(true)
	}
	return wrapErr("send to", s.address, err)
}

// failed reports whether the link has ended without Close being called.
func (s *Sender) failed() bool {
	if s.closed.Load() {
		return true
	}
	if s.dead.Load() {
		return true
	}
	select {
	case <-s.c.conn.Done():
		return true
	default:
		return false
	}
}

// Close detaches the link and ends its session. Sends still waiting for an
// outcome return an error. Close is bounded by ctx, or by
// ConnectOptions.CloseTimeout when ctx has no deadline.
func (s *Sender) Close(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.c.untrack(s)
	return s.closeLink(ctx)
}

func (s *Sender) closeForClient(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	return s.closeLink(ctx)
}

// closeLink ends the link's session, which detaches the link; see
// Receiver.closeLink for why a session end rather than a detach.
func (s *Sender) closeLink(ctx context.Context) error {
	ctx, cancel := s.c.closeCtx(ctx)
	defer cancel()
	if err := endSession(ctx, s.session, s.c.cfg.CloseTimeout); err != nil {
		s.c.cfg.logger.Debug("amq: session end not confirmed", "address", s.address, "err", err)
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return wrapErr("close sender", s.address, err)
		}
	}
	s.c.cfg.logger.Debug("amq: sender closed", "address", s.address)
	return nil
}

// isCleanClose recognises the errors go-amqp returns for a link closed by
// us without any remote error.
func isCleanClose(err error) bool {
	var le *amqp.LinkError
	return errors.As(err, &le) && le.RemoteErr == nil && le.Error() == "amqp: link closed"
}

// Receipt is the pending outcome of a message sent with SendAsync.
type Receipt struct {
	s          *Sender
	r          amqp.SendReceipt
	presettled bool
}

// Wait blocks until the peer settles the message and returns its outcome
// with the same meaning as Sender.Send. For a pre-settled message it
// returns nil at once.
func (r *Receipt) Wait(ctx context.Context) error {
	if r.presettled {
		return nil
	}
	state, err := r.r.Wait(ctx)
	if err != nil {
		return r.s.sendErr(err)
	}
	return outcomeErr(state)
}

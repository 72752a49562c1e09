package engine

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/amqgo/amq/internal/codec"
)

// The operations of the side that begins sessions and attaches links: the
// client's, although either side of a connection may use them (§2.5.1,
// §2.6.3 make no difference between the two).

// ErrRefused wraps the error of a link the peer refused: its attach came
// back without a terminus, and its detach carried this error (§2.6.3).
var ErrRefused = errors.New("amqp: link refused")

// NewSession begins a session on c (§2.5.2) and waits until the peer's
// begin answers it, ctx ends or the connection ends.
func NewSession(ctx context.Context, c *Conn) (*Session, error) {
	c.mu.Lock()
	if err := c.usableLocked(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	local := uint16(0)
	for c.localChan[local] != nil {
		if local == c.channelMax {
			c.mu.Unlock()
			return nil, fmt.Errorf("amqp: no free channel: the peer's channel-max %d are all in use", c.channelMax)
		}
		local++
	}
	s := c.newSessionLocked(local)
	s.beginPending = true
	c.localChan[local] = s
	hm := uint32(DefaultHandleMax)
	err := c.sendLocked(local, &codec.Begin{
		NextOutgoingID: s.nextOutgoingID,
		IncomingWindow: s.incomingWindow,
		OutgoingWindow: math.MaxUint32,
		HandleMax:      &hm,
	}, nil)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-s.begun:
		return s, nil
	case <-c.done:
		return nil, c.endedErr()
	case <-ctx.Done():
		// Not answered yet: end it, so that the peer's late answer is
		// followed by our end and the channel comes free.
		c.mu.Lock()
		if !s.endSent {
			s.endSent = true
			_ = c.sendLocked(local, &codec.End{}, nil)
		}
		c.mu.Unlock()
		return nil, fmt.Errorf("amqp: begin: %w", ctx.Err())
	}
}

// beginAnsweredLocked takes the peer's begin answering one of ours.
func (c *Conn) beginAnsweredLocked(ch uint16, b *codec.Begin) error {
	s := c.localChan[*b.RemoteChannel]
	if s == nil || !s.beginPending {
		return newConnError(codec.ErrCondNotAllowed, fmt.Sprintf("begin answering channel %d, which has no session waiting for an answer", *b.RemoteChannel))
	}
	if ch > c.cfg.ChannelMax {
		return newConnError(codec.ErrCondNotAllowed, fmt.Sprintf("channel %d exceeds channel-max %d", ch, c.cfg.ChannelMax))
	}
	if c.sessions[ch] != nil {
		return newConnError(codec.ErrCondNotAllowed, fmt.Sprintf("begin on channel %d, which already has a session", ch))
	}
	s.beginPending = false
	s.remoteChannel = ch
	s.nextIncomingID = b.NextOutgoingID
	s.remoteIncomingWindow = b.IncomingWindow
	if b.HandleMax != nil && *b.HandleMax < s.handleMax {
		s.handleMax = *b.HandleMax
	}
	c.sessions[ch] = s
	close(s.begun)
	return nil
}

// usableLocked is nil while new sessions and links may be made.
func (c *Conn) usableLocked() error {
	if !c.opened || c.closeSent || c.ended {
		if c.err != nil {
			return c.err
		}
		return ErrConnClosed
	}
	return nil
}

// endedErr is why the connection ended, for callers waiting on it.
func (c *Conn) endedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrConnClosed
}

// End ends the session (§2.5.5) with e (nil: no error), which detaches
// its links without closing them, and waits until the peer's end answers,
// ctx ends or the connection ends. A peer that has answered has processed
// every frame sent on the session before.
func (s *Session) End(ctx context.Context, e *codec.Error) error {
	c := s.c
	c.mu.Lock()
	if !s.endSent && !s.endPending && !c.ended {
		s.endLocked(e)
		s.endSent = true
		if err := c.sendLocked(s.localChannel, &codec.End{Error: e}, nil); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Unlock()
	select {
	case <-s.ended:
		return nil
	case <-c.done:
		return c.endedErr()
	case <-ctx.Done():
		return fmt.Errorf("amqp: end: waiting for the peer's end: %w", ctx.Err())
	}
}

// Ended returns a channel closed once the session has ended on both
// sides, or with its connection.
func (s *Session) Ended() <-chan struct{} { return s.ended }

// AttachOptions are the fields of our attach (§2.6.3): the caller's
// choice of name, termini, settle modes, properties and capabilities.
type AttachOptions struct {
	Name   string
	Source *codec.Source
	Target *codec.Target
	// SndSettleMode and RcvSettleMode, nil for the defaults (mixed,
	// first).
	SndSettleMode *codec.SenderSettleMode
	RcvSettleMode *codec.ReceiverSettleMode
	Properties    codec.Map
	// OfferedCapabilities and DesiredCapabilities of the link.
	OfferedCapabilities []codec.Symbol
	DesiredCapabilities []codec.Symbol
	// MaxMessageSize, for a receiving link, is announced and enforced;
	// 0 takes Config.MaxMessageSize.
	MaxMessageSize uint64
	// CreditWindow, for a receiving link, is the automatic credit window
	// (see Link.SetCreditWindow; 0: the caller issues credit with
	// IssueCredit).
	CreditWindow uint32
	// CreditAfterUse, for a receiving link, grants more credit only once
	// the peer has used all of the last grant, so that a flow never
	// overlaps transfers in flight: RabbitMQ 3.10 counts those twice and
	// sends more than granted, which the engine must refuse
	// (amqp:link:transfer-limit-exceeded).
	CreditAfterUse bool
	// NewDelivery, for a receiving link, allocates each delivery received:
	// a zero IncomingDelivery inside memory of the caller's, which
	// DeliveryOwner hands back, so that the caller's own state of a
	// delivery and the engine's cost one allocation. nil: new.
	NewDelivery func() *IncomingDelivery
	// Coordinator, for a sending link, makes it a link to the peer's
	// transaction coordinator (AMQP 1.0 §4.2): the attach carries it
	// instead of Target, which must be nil.
	Coordinator *codec.Coordinator
}

// AttachSender attaches a link on which we send, and waits until the peer
// answers, ctx ends or the session ends. A link the peer refuses is an
// error wrapping ErrRefused and the peer's error.
func (s *Session) AttachSender(ctx context.Context, o *AttachOptions) (*Sender, error) {
	l, err := s.attach(ctx, RoleSender, o)
	if err != nil {
		return nil, err
	}
	return l.sender, nil
}

// AttachReceiver attaches a link on which we receive, as AttachSender
// does, and grants o.CreditWindow of credit.
func (s *Session) AttachReceiver(ctx context.Context, o *AttachOptions) (*Receiver, error) {
	l, err := s.attach(ctx, RoleReceiver, o)
	if err != nil {
		return nil, err
	}
	return l.receiver, nil
}

func (s *Session) attach(ctx context.Context, role Role, o *AttachOptions) (*Link, error) {
	c := s.c
	c.mu.Lock()
	if err := c.usableLocked(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if s.endSent || s.endPending {
		c.mu.Unlock()
		return nil, fmt.Errorf("amqp: attach %q: the session has ended", o.Name)
	}
	if s.attaching[o.Name] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("amqp: attach %q: a link of that name is already being attached on the session", o.Name)
	}
	lctx, cancel := context.WithCancel(c.ctx)
	l := &Link{
		conn:           c,
		sess:           s,
		name:           o.Name,
		role:           role,
		localSource:    o.Source,
		localTarget:    o.Target,
		localOffered:   o.OfferedCapabilities,
		localDesired:   o.DesiredCapabilities,
		localProps:     o.Properties,
		localMaxMsg:    o.MaxMessageSize,
		creditWindow:   o.CreditWindow,
		creditAfterUse: o.CreditAfterUse,
		newDelivery:    o.NewDelivery,
		replySndMode:   SenderSettleMixed,
		replyRcvMode:   ReceiverSettleFirst,
		sndSettleMode:  SenderSettleMixed,
		rcvSettleMode:  ReceiverSettleFirst,
		ctx:            lctx,
		cancel:         cancel,
		done:           make(chan struct{}),
		changed:        make(chan struct{}),
		attached:       make(chan struct{}),
		state:          linkAttaching,
	}
	if o.SndSettleMode != nil {
		l.replySndMode = SenderSettleMode(*o.SndSettleMode)
	}
	if o.RcvSettleMode != nil {
		l.replyRcvMode = ReceiverSettleMode(*o.RcvSettleMode)
	}
	if role == RoleReceiver && l.localMaxMsg == 0 {
		l.localMaxMsg = c.cfg.MaxMessageSize
	}
	if h := s.allocHandleLocked(); h > s.handleMax {
		c.mu.Unlock()
		cancel()
		return nil, fmt.Errorf("amqp: attach %q: no free handle (handle-max %d)", o.Name, s.handleMax)
	} else {
		l.localHandle = h
	}
	s.byLocal[l.localHandle] = l
	s.attaching[o.Name] = l
	snd, rcv := codec.SenderSettleMode(l.replySndMode), codec.ReceiverSettleMode(l.replyRcvMode)
	a := &codec.Attach{
		Name:                o.Name,
		Handle:              l.localHandle,
		Role:                codec.RoleSender,
		SndSettleMode:       &snd,
		RcvSettleMode:       &rcv,
		Source:              o.Source,
		Target:              o.Target,
		Coordinator:         o.Coordinator,
		Properties:          o.Properties,
		OfferedCapabilities: o.OfferedCapabilities,
		DesiredCapabilities: o.DesiredCapabilities,
	}
	if role == RoleSender {
		zero := uint32(0)
		a.InitialDeliveryCount = &zero
	} else {
		a.Role = codec.RoleReceiver
		a.MaxMessageSize = l.localMaxMsg
	}
	err := c.sendLocked(s.localChannel, a, nil)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-l.attached:
		return l, nil
	case <-l.done:
		c.mu.Lock()
		e, answered := l.detachErr, l.remoteHandleSet
		withSession := l.endedWithSession && !c.ended // the session alone, not the connection
		c.mu.Unlock()
		if !answered {
			// The session or the connection ended first.
			switch {
			case withSession && e != nil:
				return nil, fmt.Errorf("amqp: attach %q: %w: %w", o.Name, ErrSessionEnded, e)
			case e != nil:
				return nil, fmt.Errorf("amqp: attach %q: %w", o.Name, e)
			}
			return nil, fmt.Errorf("amqp: attach %q: %w", o.Name, c.endedErr())
		}
		if e != nil {
			return nil, fmt.Errorf("%w: %w", ErrRefused, e)
		}
		return nil, fmt.Errorf("%w: the peer detached it without an error", ErrRefused)
	case <-ctx.Done():
		// The answer may still come: close the link then, so that the
		// handle comes free.
		c.mu.Lock()
		l.abandoned = true
		if l.state == linkAttached {
			_ = c.sendDetachLocked(l, true, nil)
		}
		c.mu.Unlock()
		return nil, fmt.Errorf("amqp: attach %q: %w", o.Name, ctx.Err())
	}
}

// attachAnsweredLocked takes the peer's attach answering l, ours (§2.6.3).
func (s *Session) attachAnsweredLocked(l *Link, a *codec.Attach) error {
	c := s.c
	delete(s.attaching, l.name)
	l.remoteHandle, l.remoteHandleSet = a.Handle, true
	s.byRemote[a.Handle] = l
	l.remoteSource, l.remoteTarget = a.Source, a.Target
	l.remoteProps, l.remoteOffered, l.remoteDesired = a.Properties, a.OfferedCapabilities, a.DesiredCapabilities
	l.peerMaxMsg = a.MaxMessageSize
	if a.SndSettleMode != nil {
		l.sndSettleMode = SenderSettleMode(*a.SndSettleMode)
	}
	if a.RcvSettleMode != nil {
		l.rcvSettleMode = ReceiverSettleMode(*a.RcvSettleMode)
	}
	// The peer's terminus missing means it refuses the link; its detach
	// with the reason follows (§2.6.3).
	refused := l.role == RoleSender && a.Target == nil && a.Coordinator == nil || l.role == RoleReceiver && a.Source == nil
	l.remoteCoordinator = a.Coordinator
	l.state = linkAttached
	if refused {
		return nil
	}
	if l.role == RoleSender {
		l.sender = newSender(l)
	} else {
		if a.InitialDeliveryCount != nil {
			l.deliveryCount = *a.InitialDeliveryCount
		}
		l.receiver = newReceiver(l)
		l.receiver.afterUse = l.creditAfterUse
		l.receiver.newDelivery = l.newDelivery
		if l.creditWindow > 0 {
			l.linkCredit = l.creditWindow
			_ = c.sendLinkFlowLocked(l, false)
		}
	}
	if l.abandoned {
		return c.sendDetachLocked(l, true, nil)
	}
	close(l.attached)
	return nil
}

// CloseLink detaches l (closing its terminus when closed is set, §2.6.6)
// with e, and waits until the peer's detach answers, ctx ends or the
// session ends.
func CloseLink(ctx context.Context, l *Link, closed bool, e *codec.Error) error {
	c := l.conn
	c.mu.Lock()
	if l.state == linkAttached {
		if err := c.sendDetachLocked(l, closed, e); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	answered := l.answeredChanLocked()
	c.mu.Unlock()
	select {
	case <-answered:
		return nil
	case <-l.sess.ended:
		return nil
	case <-c.done:
		return c.endedErr()
	case <-ctx.Done():
		return fmt.Errorf("amqp: detach %q: waiting for the peer's detach: %w", l.name, ctx.Err())
	}
}

// RemoteSource returns the source of the peer's attach (the address a
// dynamic source was given, §3.5.3), nil before the answer. A function,
// like the others here that are not the server's API.
func RemoteSource(l *Link) *codec.Source {
	c := l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	return l.remoteSource
}

// LinkEnd is how a link ended, read in one step (LinkEndOf).
type LinkEnd struct {
	// Ended is false while the link is attached (or attaching).
	Ended bool
	// Closed and Err are those of the detach that ended it (see
	// Link.DetachReason).
	Closed bool
	Err    *codec.Error
	// WithSession: the link ended because its session or its connection
	// did, not by a detach of either side.
	WithSession bool
}

// LinkEndOf reports how l ended. A waiter woken by the end of one of the
// link's deliveries sees the link's end here: both change under the same
// lock.
func LinkEndOf(l *Link) LinkEnd {
	c := l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.state != linkDetached && l.state != linkDetachSent {
		return LinkEnd{}
	}
	return LinkEnd{Ended: true, Closed: l.closed, Err: l.detachErr, WithSession: l.endedWithSession}
}

// TakeBuffered stops r's automatic credit and returns the deliveries that
// arrived but were not received yet, so that the caller can give them back
// (release them) before closing the link.
func TakeBuffered(r *Receiver) []*IncomingDelivery {
	c := r.l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	r.window = 0
	q := r.queue
	r.queue = nil
	return q
}

// WithOwner returns d with owner recorded in it, for an
// AttachOptions.NewDelivery that allocates d inside owner.
func WithOwner(d *IncomingDelivery, owner any) *IncomingDelivery {
	d.owner = owner
	return d
}

// DeliveryOwner returns what WithOwner recorded in d: nil for a delivery
// the engine allocated.
func DeliveryOwner(d *IncomingDelivery) any { return d.owner }

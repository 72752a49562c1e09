package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// handleAttach takes the peer's attach, asks the Handler, and answers
// (§2.6.3). conn.mu is held on entry and exit; it is released while the
// Handler's Attach runs so that other goroutines of the connection proceed.
func (s *Session) handleAttach(a *codec.Attach) error {
	c := s.c
	if a.Handle > s.handleMax {
		return newConnError(codec.ErrCondFramingError, fmt.Sprintf("handle %d exceeds handle-max %d", a.Handle, s.handleMax))
	}
	if s.byRemote[a.Handle] != nil {
		return newSessionError(codec.ErrCondHandleInUse, fmt.Sprintf("handle %d is already attached", a.Handle))
	}
	// The answer to one of ours: same name, the other role (§2.6.3).
	if l := s.attaching[a.Name]; l != nil && (a.Role == codec.RoleSender) == (l.role == RoleReceiver) {
		return s.attachAnsweredLocked(l, a)
	}
	overLimit := false
	if max := c.cfg.MaxLinks; max > 0 {
		n := 0
		for _, ss := range c.localChan {
			n += len(ss.byLocal)
		}
		if n >= 2*max {
			return newConnError(codec.ErrCondResourceLimitExceeded,
				fmt.Sprintf("%d links attached, twice the limit of %d", n, max))
		}
		overLimit = n >= max
	}
	if a.Coordinator != nil {
		// Only a handler that coordinates transactions serves this link
		// (Config.Coordinator); it arrives with no target.
		a.Target = nil
	}
	ctx, cancel := context.WithCancel(c.ctx)
	l := &Link{
		conn:              c,
		sess:              s,
		name:              a.Name,
		role:              RoleSender,
		remoteHandle:      a.Handle,
		remoteSource:      a.Source,
		remoteTarget:      a.Target,
		remoteCoordinator: a.Coordinator,
		sndSettleMode:     SenderSettleMixed,
		rcvSettleMode:     ReceiverSettleFirst,
		remoteProps:       a.Properties,
		remoteOffered:     a.OfferedCapabilities,
		remoteDesired:     a.DesiredCapabilities,
		peerMaxMsg:        a.MaxMessageSize,
		localMaxMsg:       c.cfg.MaxMessageSize,
		creditWindow:      c.cfg.CreditWindow,
		ctx:               ctx,
		cancel:            cancel,
		done:              make(chan struct{}),
		changed:           make(chan struct{}),
		state:             linkAttaching,
	}
	if a.Role == codec.RoleSender {
		l.role = RoleReceiver
	}
	if a.SndSettleMode != nil {
		l.sndSettleMode = SenderSettleMode(*a.SndSettleMode)
	}
	if a.RcvSettleMode != nil {
		l.rcvSettleMode = ReceiverSettleMode(*a.RcvSettleMode)
	}
	l.replySndMode, l.replyRcvMode = l.sndSettleMode, l.rcvSettleMode
	l.localHandle = s.allocHandleLocked()
	s.byRemote[a.Handle] = l
	s.byLocal[l.localHandle] = l

	// Ask the handler without holding the lock: it may call anything.
	var herr error
	if overLimit {
		herr = &codec.Error{Condition: codec.ErrCondResourceLimitExceeded,
			Description: fmt.Sprintf("a connection may have %d links attached", c.cfg.MaxLinks)}
	} else if a.Coordinator != nil && (!c.cfg.Coordinator || a.Role != codec.RoleSender) {
		herr = &codec.Error{Condition: codec.ErrCondNotImplemented, Description: "transactions are not supported"}
	} else {
		l.inAttachPhase = true
		c.mu.Unlock()
		herr = c.callAttach(ctx, l)
		c.mu.Lock()
		l.inAttachPhase = false
	}
	if l.state != linkAttaching {
		return nil // the connection or session ended meanwhile
	}
	if !l.sourceSet {
		l.localSource = l.remoteSource
	}
	if !l.targetSet {
		l.localTarget = l.remoteTarget
	}
	if herr != nil {
		// Refuse: an attach with no terminus on our side, then a closing
		// detach with the reason (§2.6.3).
		if l.role == RoleSender {
			l.localSource = nil
		} else {
			l.localTarget = nil
		}
	}
	reply := &codec.Attach{
		Name:                l.name,
		Handle:              l.localHandle,
		Role:                codec.RoleSender,
		Source:              l.localSource,
		Target:              l.localTarget,
		OfferedCapabilities: l.localOffered,
		DesiredCapabilities: l.localDesired,
		Properties:          l.localProps,
	}
	if l.remoteCoordinator != nil && herr == nil {
		reply.Target, reply.Coordinator = nil, l.remoteCoordinator // accepted: the coordinator answers as itself
	}
	snd, rcv := codec.SenderSettleMode(l.replySndMode), codec.ReceiverSettleMode(l.replyRcvMode)
	reply.SndSettleMode, reply.RcvSettleMode = &snd, &rcv
	if l.role == RoleSender {
		zero := uint32(0)
		reply.InitialDeliveryCount = &zero
	} else {
		reply.Role = codec.RoleReceiver
		reply.MaxMessageSize = l.localMaxMsg
		if a.InitialDeliveryCount != nil {
			l.deliveryCount = *a.InitialDeliveryCount
		}
	}
	if err := c.sendLocked(s.localChannel, reply, nil); err != nil {
		return err
	}
	if herr != nil {
		ce := ToCodecError(herr)
		c.log.Info("amqp link refused", "link", l.name, "error", ce)
		l.state = linkAttached // so that detach goes out
		return c.sendDetachLocked(l, true, ce)
	}
	l.state = linkAttached
	c.log.Debug("amqp link attached", "link", l.name, "role", l.role, "address", l.Address())
	c.cfg.wgAdd()
	l.serving = true
	l.sess.serving++
	if l.role == RoleSender {
		l.sender = newSender(l)
		go c.runSender(l)
	} else {
		l.receiver = newReceiver(l)
		if l.creditWindow > 0 {
			l.linkCredit = l.creditWindow
			_ = c.sendLinkFlowLocked(l, false)
		}
		go c.runReceiver(l)
	}
	return nil
}

// callAttach runs Handler.Attach, turning a panic into a refusal so that
// one bad handler call does not take the whole server down.
func (c *Conn) callAttach(ctx context.Context, l *Link) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("amqp handler Attach panicked", "panic", p)
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return c.cfg.Handler.Attach(ctx, l)
}

func (c *Conn) runSender(l *Link) {
	defer c.cfg.wgDone()
	defer c.endServe(l)
	c.cfg.Handler.ServeSender(l.ctx, l.sender)
}

func (c *Conn) runReceiver(l *Link) {
	defer c.cfg.wgDone()
	defer c.endServe(l)
	c.cfg.Handler.ServeReceiver(l.ctx, l.receiver)
}

// endServe closes a link whose serve function returned while it was still
// attached, answers the peer's detach if it waited for the handler, and
// contains a handler panic to its link.
func (c *Conn) endServe(l *Link) {
	var e *codec.Error
	if p := recover(); p != nil {
		c.log.Error("amqp handler panicked", "link", l.name, "panic", p)
		e = &codec.Error{Condition: codec.ErrCondInternalError, Description: "handler failed"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l.serving = false
	switch {
	case l.replyPending:
		l.sess.answerDetachLocked(l)
	case l.state == linkAttached && (c.closeSent || c.ctx.Err() != nil):
		// The connection is closing (a server shutting down cancels the
		// handlers' contexts): its close ends the link. A closing detach
		// would tell the peer the terminus is gone, and a durable
		// subscription would be.
	case l.state == linkAttached:
		_ = c.sendDetachLocked(l, true, e)
	}
	l.sess.servedLocked()
}

// allocHandleLocked returns the lowest free local handle.
func (s *Session) allocHandleLocked() uint32 {
	var h uint32
	for s.byLocal[h] != nil {
		h++
	}
	return h
}

// detachLink detaches l from the server's side.
func (c *Conn) detachLink(l *Link, closed bool, e *codec.Error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.state != linkAttached {
		if l.state == linkDetached || l.state == linkDetachSent {
			return nil
		}
		return ErrLinkDetached
	}
	return c.sendDetachLocked(l, closed, e)
}

// sendDetachLocked sends our detach and ends the link locally; the handles
// are freed when the peer's detach arrives.
func (c *Conn) sendDetachLocked(l *Link, closed bool, e *codec.Error) error {
	err := c.sendLocked(l.sess.localChannel, &codec.Detach{Handle: l.localHandle, Closed: closed, Error: e}, nil)
	l.localErr = e
	l.markDetachedLocked(closed, e)
	l.state = linkDetachSent
	return err
}

// linkErrorLocked closes a link because the peer broke its rules.
func (c *Conn) linkErrorLocked(l *Link, cond codec.Symbol, desc string) error {
	c.log.Info("amqp link error", "link", l.name, "condition", cond, "description", desc)
	return c.sendDetachLocked(l, true, &codec.Error{Condition: cond, Description: desc})
}

// handleDetach takes the peer's detach (§2.6.5).
func (s *Session) handleDetach(d *codec.Detach) error {
	c := s.c
	l := s.byRemote[d.Handle]
	if l == nil {
		return newSessionError(codec.ErrCondUnattachedHandle, fmt.Sprintf("detach on handle %d, which is not attached", d.Handle))
	}
	delete(s.byRemote, d.Handle)
	if l.state == linkDetachSent {
		// The answer to our detach: both ends are gone.
		l.state = linkDetached
		delete(s.byLocal, l.localHandle)
		l.bothDetachedLocked()
		return nil
	}
	l.markDetachedLocked(d.Closed, d.Error)
	c.log.Debug("amqp link detached by peer", "link", l.name, "closed", d.Closed, "error", d.Error)
	l.replyPending = true
	if !l.serving {
		s.answerDetachLocked(l)
		return nil
	}
	// Answer once the handler has let go of the link, so that a peer that
	// has its answer sees the link's state gone: a client that closes a
	// durable subscription and attaches the same name again must get a new
	// one, not the old one the handler was still tearing down. The local
	// handle stays taken until then. A handler that does not return in
	// time does not hold the peer forever.
	l.replyTimer = time.AfterFunc(closeTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		s.answerDetachLocked(l)
	})
	return nil
}

// answerDetachLocked sends our detach answering the peer's, if it still
// waits for one, and frees the local handle. An ended session needs no
// answer: its end detached every link.
func (s *Session) answerDetachLocked(l *Link) {
	if !l.replyPending {
		return
	}
	l.replyPending = false
	if l.replyTimer != nil {
		l.replyTimer.Stop() // links come and go: don't keep one timer each
	}
	delete(s.byLocal, l.localHandle)
	l.bothDetachedLocked()
	c := s.c
	if c.localChan[s.localChannel] != s || s.endSent || s.endPending || c.closeSent || c.ended {
		return
	}
	_ = c.sendLocked(s.localChannel, &codec.Detach{Handle: l.localHandle, Closed: l.closed}, nil)
}

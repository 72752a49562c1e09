package engine

import (
	"context"
	"sync"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// linkState is where a link is in its attach/detach life (AMQP 1.0 §2.6.1).
type linkState uint8

const (
	linkAttaching  linkState = iota // peer's attach seen, Handler.Attach running
	linkAttached                    // both attaches exchanged
	linkDetachSent                  // our detach sent, waiting for the peer's
	linkDetached                    // both detaches exchanged (or connection gone)
)

// Link is one attached AMQP link as the server sees it. The Handler receives
// it in Attach, where the Set methods shape the server's reply, and then
// through Sender.Link or Receiver.Link.
//
// The getters for what the peer asked for (Name, Role, Source, Target,
// settle modes, properties, capabilities) return the peer's attach and never
// change. The Set methods only have an effect while Attach runs.
type Link struct {
	conn *Conn
	sess *Session

	// From the peer's attach; read-only after construction.
	name          string
	role          Role
	remoteHandle  uint32
	remoteSource  *codec.Source
	remoteTarget  *codec.Target
	sndSettleMode SenderSettleMode
	rcvSettleMode ReceiverSettleMode
	remoteProps   codec.Map
	remoteOffered []codec.Symbol
	remoteDesired []codec.Symbol
	peerMaxMsg    uint64 // peer's max-message-size, 0 = unlimited
	// remoteCoordinator is the peer's transaction coordinator terminus
	// (§4.2), in place of a target: on a link the peer attached to ours
	// (Config.Coordinator), or in its answer to ours.
	remoteCoordinator *codec.Coordinator

	// The reply; written by Attach (reader goroutine) before the link is
	// published, read-only afterwards.
	localSource   *codec.Source
	localTarget   *codec.Target
	localOffered  []codec.Symbol
	localDesired  []codec.Symbol
	localProps    codec.Map
	localMaxMsg   uint64
	creditWindow  uint32
	localHandle   uint32
	sourceSet     bool
	targetSet     bool
	replySndMode  SenderSettleMode
	replyRcvMode  ReceiverSettleMode
	inAttachPhase bool

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the link is detached
	once   sync.Once

	// Guarded by conn.mu.
	state         linkState
	changed       chan struct{} // closed and replaced on every state change
	deliveryCount uint32
	linkCredit    uint32
	drain         bool
	closed        bool         // the detach that ended the link had closed=true
	detachErr     *codec.Error // error carried by the peer's detach, if any
	localErr      *codec.Error // error we sent in our detach, if any
	serving       bool         // the handler's ServeSender/ServeReceiver runs
	replyPending  bool         // the peer detached; our answer waits for serving to end
	replyTimer    *time.Timer  // answers anyway after closeTimeout

	sender   *Sender
	receiver *Receiver

	// Links we attached (Session.AttachSender, AttachReceiver).
	creditAfterUse  bool                     // see AttachOptions.CreditAfterUse
	newDelivery     func() *IncomingDelivery // see AttachOptions.NewDelivery
	remoteHandleSet bool                     // the peer's attach has come
	attached        chan struct{}            // closed when the peer's attach answered ours
	abandoned       bool                     // the attach's caller gave up: detach on the answer

	// answered is made on demand (CloseLink) and closed once both ends
	// have detached, or the session or connection ended.
	answered   chan struct{}
	answerDone bool
	// endedWithSession: the link ended because its session or connection
	// did, not by a detach.
	endedWithSession bool
}

// answeredChanLocked returns the channel closed once both ends have
// detached. conn.mu must be held.
func (l *Link) answeredChanLocked() <-chan struct{} {
	if l.answered == nil {
		l.answered = make(chan struct{})
		if l.answerDone {
			close(l.answered)
		}
	}
	return l.answered
}

// bothDetachedLocked records that both ends have detached. conn.mu must be
// held.
func (l *Link) bothDetachedLocked() {
	if l.answerDone {
		return
	}
	l.answerDone = true
	if l.answered != nil {
		close(l.answered)
	}
}

// Name returns the link name from the peer's attach. Together with the peer's
// container id it identifies the link across reconnects (durable
// subscriptions use it).
func (l *Link) Name() string { return l.name }

// Role returns the server's role on the link: RoleSender when the peer
// attached a receiver, RoleReceiver when the peer attached a sender.
func (l *Link) Role() Role { return l.role }

// Handle returns the handle the peer chose for the link on its session.
func (l *Link) Handle() uint32 { return l.remoteHandle }

// Conn returns the connection the link belongs to.
func (l *Link) Conn() *Conn { return l.conn }

// Source returns the source terminus from the peer's attach, or nil. When the
// server is the sender, the source is the node the peer wants to consume
// from (Source().Address; Source().Dynamic asks the server to create one).
// The returned value must not be modified; use SetSource for the reply.
func (l *Link) Source() *codec.Source { return l.remoteSource }

// Target returns the target terminus from the peer's attach, or nil. When the
// server is the receiver, the target is the node the peer sends to. The
// returned value must not be modified; use SetTarget for the reply.
func (l *Link) Target() *codec.Target { return l.remoteTarget }

// Address returns the address of the node on the server's side of the link:
// the source address when the server sends, the target address when it
// receives. It is empty when the peer gave none (or asked for a dynamic
// node).
func (l *Link) Address() string {
	if l.role == RoleSender {
		if l.remoteSource != nil {
			return l.remoteSource.Address
		}
		return ""
	}
	if l.remoteTarget != nil {
		return l.remoteTarget.Address
	}
	return ""
}

// SenderSettleMode returns the snd-settle-mode the peer asked for.
func (l *Link) SenderSettleMode() SenderSettleMode { return l.sndSettleMode }

// ReceiverSettleMode returns the rcv-settle-mode the peer asked for. When the
// server receives with ReceiverSettleSecond, the server's settlement of a
// delivery is sent unsettled and completed when the peer settles.
func (l *Link) ReceiverSettleMode() ReceiverSettleMode { return l.rcvSettleMode }

// Properties returns the link properties from the peer's attach.
func (l *Link) Properties() codec.Map { return l.remoteProps }

// OfferedCapabilities returns the capabilities the peer offered.
func (l *Link) OfferedCapabilities() []codec.Symbol { return l.remoteOffered }

// DesiredCapabilities returns the capabilities the peer desires.
func (l *Link) DesiredCapabilities() []codec.Symbol { return l.remoteDesired }

// MaxMessageSize returns the peer's max-message-size (0 = no limit). The
// server refuses to Send a larger message on this link.
func (l *Link) MaxMessageSize() uint64 { return l.peerMaxMsg }

// SetSource sets the source the server echoes in its attach. Without it the
// peer's source is echoed. Call it from Handler.Attach, e.g. to fill in the
// address of a dynamic node.
func (l *Link) SetSource(s *codec.Source) {
	if l.inAttachPhase {
		l.localSource, l.sourceSet = s, true
	}
}

// SetTarget sets the target the server echoes in its attach. Without it the
// peer's target is echoed. Call it from Handler.Attach.
func (l *Link) SetTarget(t *codec.Target) {
	if l.inAttachPhase {
		l.localTarget, l.targetSet = t, true
	}
}

// SetOfferedCapabilities sets the capabilities offered in the server's
// attach. Call it from Handler.Attach.
func (l *Link) SetOfferedCapabilities(caps ...codec.Symbol) {
	if l.inAttachPhase {
		l.localOffered = caps
	}
}

// SetDesiredCapabilities sets the capabilities desired in the server's
// attach. Call it from Handler.Attach.
func (l *Link) SetDesiredCapabilities(caps ...codec.Symbol) {
	if l.inAttachPhase {
		l.localDesired = caps
	}
}

// SetProperties sets the link properties of the server's attach. Call it
// from Handler.Attach.
func (l *Link) SetProperties(p codec.Map) {
	if l.inAttachPhase {
		l.localProps = p
	}
}

// SetSettleModes sets the settle modes echoed in the server's attach (by
// default the peer's are echoed). A peer is told, not asked: a server that
// cannot honour ReceiverSettleSecond says so here and the peer adapts or
// detaches. Call it from Handler.Attach.
func (l *Link) SetSettleModes(snd SenderSettleMode, rcv ReceiverSettleMode) {
	if l.inAttachPhase {
		l.replySndMode, l.replyRcvMode = snd, rcv
	}
}

// SetMaxMessageSize sets the max-message-size the server announces and
// enforces on a link where it receives (0 = Options.MaxMessageSize). A larger
// message makes the server detach the link with
// amqp:link:message-size-exceeded. Call it from Handler.Attach.
func (l *Link) SetMaxMessageSize(n uint64) {
	if l.inAttachPhase {
		l.localMaxMsg = n
	}
}

// SetCreditWindow chooses how credit is granted on a link where the server
// receives. With n > 0 the server keeps up to n deliveries outstanding
// (credit plus deliveries waiting in Receive), topping credit up as the
// handler receives. With n == 0 the server grants no credit of its own; the
// handler calls Receiver.IssueCredit. The default is Options.CreditWindow.
// Call it from Handler.Attach.
func (l *Link) SetCreditWindow(n uint32) {
	if l.inAttachPhase {
		l.creditWindow = n
	}
}

// Done returns a channel closed once the link is detached, by either side or
// because the connection ended.
func (l *Link) Done() <-chan struct{} { return l.done }

// DetachReason reports how the link ended: closed is the closed flag of the
// peer's detach (true: the peer closed the link and any durable state may be
// discarded; false: the peer only detached it and may re-attach later), and
// err is the error the peer's detach carried, if any. When the link ended
// because the connection ended, closed is false and err describes the
// connection's end; when the server detached it (Link.Detach, Link.Close, a
// refused Attach), closed and err are what the server sent. Before Done is
// closed it returns false, nil.
func (l *Link) DetachReason() (closed bool, err *codec.Error) {
	l.conn.mu.Lock()
	defer l.conn.mu.Unlock()
	if l.state != linkDetached && l.state != linkDetachSent {
		return false, nil
	}
	return l.closed, l.detachErr
}

// Detach detaches the link from the server's side without closing it
// (closed=false), telling the peer it may re-attach later. err, when not
// nil, is sent in the detach (a *codec.Error as is, other errors as
// amqp:internal-error). It does not wait for the peer's answering detach.
func (l *Link) Detach(err error) error { return l.conn.detachLink(l, false, ToCodecError(err)) }

// Close closes the link from the server's side (detach with closed=true).
// err, when not nil, is sent in the detach. It does not wait for the peer's
// answering detach.
func (l *Link) Close(err error) error { return l.conn.detachLink(l, true, ToCodecError(err)) }

// markDetachedLocked ends the link's life locally: wakes waiters, cancels the
// handler's context. conn.mu must be held.
func (l *Link) markDetachedLocked(closed bool, err *codec.Error) {
	if l.state == linkDetached || l.state == linkDetachSent {
		return
	}
	l.state = linkDetached
	l.closed, l.detachErr = closed, err
	l.signalLocked()
	if l.sender != nil {
		l.sender.linkEndedLocked()
	}
	if l.receiver != nil {
		l.receiver.linkEndedLocked()
	}
	l.once.Do(func() {
		close(l.done)
		l.cancel()
	})
}

// signalLocked wakes everything waiting for a change on this link.
// conn.mu must be held.
func (l *Link) signalLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// SessionOpen reports whether l's session is still known to the
// connection: false once both ends have ended it. Tests use it to see
// whether an end was answered. (A function, not a method: the methods of
// Link are the server's API.)
func SessionOpen(l *Link) bool {
	c := l.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[l.sess.remoteChannel] == l.sess
}

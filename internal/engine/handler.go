package engine

import "context"

// Handler is what a messaging server built on this package implements. The
// server owns the wire (frames, sessions, flow control, settlement
// bookkeeping); the Handler decides which links exist and what flows on them.
//
// Methods are called concurrently: Attach for every link of every connection,
// ServeSender and ServeReceiver each on their own goroutine, one per link.
type Handler interface {
	// Attach is called for every link the peer attaches, before the server
	// answers. The handler inspects the link (name, role, source, target,
	// capabilities, the connection it belongs to) and may change what is
	// echoed back with the Link's Set methods: fill in a dynamic address,
	// offer capabilities, lower the settle modes, set the credit window.
	//
	// Returning nil accepts the link; the server then replies with its
	// attach and calls ServeSender or ServeReceiver on a new goroutine.
	// Returning an error refuses it: the server replies with an attach
	// carrying a nil terminus followed by a closing detach carrying the
	// error. A *codec.Error is sent as is; any other error is sent as
	// amqp:internal-error with the error's text as description.
	//
	// Attach runs on the connection's reader goroutine: nothing else is read
	// from that connection until it returns, so it should return promptly.
	// ctx is cancelled when the connection ends.
	Attach(ctx context.Context, l *Link) error

	// ServeSender runs while a link on which the server sends (the peer is
	// the receiver) is attached. It typically loops: wait for credit, send
	// a message, look at its outcome. ctx is cancelled when the link
	// detaches or the connection ends; ServeSender must then return.
	//
	// When ServeSender returns while the link is still attached, the server
	// closes the link (detach with closed=true, no error). When the peer
	// detaches the link or ends its session, the server answers once
	// ServeSender has returned (at most 2 s later), so that the answer
	// tells the peer the handler let go of the link: a re-attach with the
	// same name starts afresh. Deliveries the peer had not settled by the
	// time the link ended are reported by Sender.Unsettled, so a broker
	// can requeue them.
	ServeSender(ctx context.Context, s *Sender)

	// ServeReceiver runs while a link on which the server receives (the
	// peer is the sender) is attached. It typically loops over
	// Receiver.Receive and settles each delivery. ctx is cancelled when
	// the link detaches or the connection ends; ServeReceiver must then
	// return (deliveries already buffered remain available from Receive
	// until it reports the end of the link).
	//
	// When ServeReceiver returns while the link is still attached, the
	// server closes the link (detach with closed=true, no error). The
	// peer's detach is answered once ServeReceiver has returned, as for
	// ServeSender. When the peer ends the session, the server answers once
	// the Serve function of each of its links has returned (at most 2 s
	// later), so that the answer tells the peer every message it sent was
	// processed.
	ServeReceiver(ctx context.Context, r *Receiver)
}

// Role is the role of the server's end of a link (AMQP 1.0 §2.8.1). It is
// the opposite of the role the peer states in its attach.
type Role uint8

const (
	// RoleSender means the server sends on the link: the peer attached a
	// receiver and the Handler's ServeSender runs.
	RoleSender Role = iota
	// RoleReceiver means the server receives on the link: the peer
	// attached a sender and the Handler's ServeReceiver runs.
	RoleReceiver
)

// String returns "sender" or "receiver".
func (r Role) String() string {
	if r == RoleReceiver {
		return "receiver"
	}
	return "sender"
}

// SenderSettleMode is the snd-settle-mode of a link (AMQP 1.0 §3.8.2).
type SenderSettleMode uint8

const (
	// SenderSettleUnsettled: the sender sends every delivery unsettled.
	SenderSettleUnsettled SenderSettleMode = 0
	// SenderSettleSettled: the sender sends every delivery pre-settled.
	SenderSettleSettled SenderSettleMode = 1
	// SenderSettleMixed: the sender chooses per delivery (the default).
	SenderSettleMixed SenderSettleMode = 2
)

// ReceiverSettleMode is the rcv-settle-mode of a link (AMQP 1.0 §3.8.3).
type ReceiverSettleMode uint8

const (
	// ReceiverSettleFirst: the receiver settles as soon as it sends its
	// outcome (the default).
	ReceiverSettleFirst ReceiverSettleMode = 0
	// ReceiverSettleSecond: the receiver sends its outcome unsettled and
	// settles only after the sender has settled.
	ReceiverSettleSecond ReceiverSettleMode = 1
)

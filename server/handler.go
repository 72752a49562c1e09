package server

import (
	"context"

	"github.com/amqgo/amq/internal/engine"
)

// Handler is what a messaging server built on this package implements;
// see the methods of the interface for what each is called for. The
// server owns the wire (frames, sessions, flow control, settlement
// bookkeeping); the Handler decides which links exist and what flows on
// them.
type Handler = engine.Handler

// HandlerFuncs adapts plain functions to the Handler interface. A nil field
// gets a default:
//
//   - AttachFunc nil: every link is accepted as the peer proposed it.
//   - ServeSenderFunc nil: the server never sends (it answers drain
//     requests at once); the link stays attached until the peer detaches
//     it.
//   - ServeReceiverFunc nil: every message received is accepted (unsettled
//     ones) and dropped.
//
// The zero HandlerFuncs is therefore a sink that accepts everything, which
// is the Handler used when Options.Handler is nil.
type HandlerFuncs struct {
	AttachFunc        func(ctx context.Context, l *Link) error
	ServeSenderFunc   func(ctx context.Context, s *Sender)
	ServeReceiverFunc func(ctx context.Context, r *Receiver)
}

var _ Handler = HandlerFuncs{}

// Attach calls h.AttachFunc, or accepts the link when it is nil.
func (h HandlerFuncs) Attach(ctx context.Context, l *Link) error {
	if h.AttachFunc == nil {
		return nil
	}
	return h.AttachFunc(ctx, l)
}

// ServeSender calls h.ServeSenderFunc, or, when it is nil, answers drain
// requests until the link ends.
func (h HandlerFuncs) ServeSender(ctx context.Context, s *Sender) {
	if h.ServeSenderFunc == nil {
		for {
			select {
			case <-s.Flowed():
				if s.Draining() {
					_ = s.Drained()
				}
			case <-ctx.Done():
				return
			}
		}
	}
	h.ServeSenderFunc(ctx, s)
}

// ServeReceiver calls h.ServeReceiverFunc, or accepts and drops every
// message when it is nil.
func (h HandlerFuncs) ServeReceiver(ctx context.Context, r *Receiver) {
	if h.ServeReceiverFunc == nil {
		Discard(ctx, r)
		return
	}
	h.ServeReceiverFunc(ctx, r)
}

// Discard receives from r until the link ends, accepting every delivery the
// peer did not pre-settle and dropping the messages. It is the default
// ServeReceiver of HandlerFuncs.
func Discard(ctx context.Context, r *Receiver) {
	for {
		d, err := r.Receive(ctx)
		if err != nil {
			return
		}
		_ = d.Accept()
	}
}

// Role is the role of the server's end of a link (AMQP 1.0 §2.8.1): the
// opposite of the role the peer states in its attach.
type Role = engine.Role

// The roles of the server's end of a link.
const (
	// RoleSender means the server sends on the link: the peer attached a
	// receiver and the Handler's ServeSender runs.
	RoleSender = engine.RoleSender
	// RoleReceiver means the server receives on the link: the peer
	// attached a sender and the Handler's ServeReceiver runs.
	RoleReceiver = engine.RoleReceiver
)

// SenderSettleMode is the snd-settle-mode of a link (AMQP 1.0 §3.8.2).
type SenderSettleMode = engine.SenderSettleMode

// The sender settle modes.
const (
	// SenderSettleUnsettled: the sender sends every delivery unsettled.
	SenderSettleUnsettled = engine.SenderSettleUnsettled
	// SenderSettleSettled: the sender sends every delivery pre-settled.
	SenderSettleSettled = engine.SenderSettleSettled
	// SenderSettleMixed: the sender chooses per delivery (the default).
	SenderSettleMixed = engine.SenderSettleMixed
)

// ReceiverSettleMode is the rcv-settle-mode of a link (AMQP 1.0 §3.8.3).
type ReceiverSettleMode = engine.ReceiverSettleMode

// The receiver settle modes.
const (
	// ReceiverSettleFirst: the receiver settles as soon as it sends its
	// outcome (the default).
	ReceiverSettleFirst = engine.ReceiverSettleFirst
	// ReceiverSettleSecond: the receiver sends its outcome unsettled and
	// settles only after the sender has settled.
	ReceiverSettleSecond = engine.ReceiverSettleSecond
)

package main

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/goamqpws"
)

// An engine is one client library's side of the workload: the senders'
// connection and the receiver's connection to the peer.
type engine interface {
	// newSender attaches a sending link and returns its send loop.
	newSender(ctx context.Context, b *bench) (func(ctx context.Context, b *bench, id int), error)
	// newReceiver attaches the receiving link.
	newReceiver(ctx context.Context, b *bench) (receiver, error)
	// close closes the links and the connections.
	close(ctx context.Context) error
}

// receiver returns the body of the next message, having settled (or
// arranged to settle) the previous one.
type receiver interface {
	receive(ctx context.Context) ([]byte, error)
}

// sendOps are one engine's three ways to send, for sendLoop. R is the
// engine's receipt type, kept concrete so that neither engine pays for
// boxing it.
type sendOps[R any] struct {
	send  func(ctx context.Context, body []byte) error // until settled, or written when pre-settled
	async func(ctx context.Context, body []byte) (R, error)
	wait  func(ctx context.Context, r R) error
	// tx sends bodies in one transaction and commits it (nil: the engine
	// has no transactions).
	tx func(ctx context.Context, bodies [][]byte) error
}

// amqEngine runs the workload on package amq.
type amqEngine struct {
	send, recv *amq.Client
	receivers  []*amq.Receiver
}

func dialAMQ(ctx context.Context, cfg config, url string, onState func(amq.StateEvent)) (*amq.Client, error) {
	opts := &amq.ConnectOptions{
		User:          cfg.user,
		Password:      cfg.password,
		OnStateChange: onState,
		// Each sender has at most one send waiting for a reconnect.
		MaxPendingSends: cfg.senders + amq.DefaultMaxPendingSends,
	}
	if cfg.chaos {
		// A connection that lived until the next cut was a good one: its
		// loss starts the reconnect schedule again (an immediate first
		// attempt), as a loss after the default 5 s would. Otherwise each
		// cut would find the schedule further along, and the reconnect
		// time measured would be mostly the growing back-off delay.
		opts.ReconnectResetAfter = cfg.chaosEvery / 2
	}
	return amq.Dial(ctx, url, opts)
}

func newAMQEngine(ctx context.Context, cfg config, url string, onSendState, onRecvState func(amq.StateEvent)) (*amqEngine, error) {
	send, err := dialAMQ(ctx, cfg, url, onSendState)
	if err != nil {
		return nil, err
	}
	recv, err := dialAMQ(ctx, cfg, url, onRecvState)
	if err != nil {
		send.Close()
		return nil, err
	}
	return &amqEngine{send: send, recv: recv}, nil
}

func (e *amqEngine) newSender(ctx context.Context, b *bench) (func(context.Context, *bench, int), error) {
	s, err := e.send.NewSender(ctx, b.cfg.address, &amq.SenderOptions{Presettled: b.cfg.presettled})
	if err != nil {
		return nil, err
	}
	msg := amq.NewMessage(nil) // reused: Send and SendAsync encode it before they return
	ops := sendOps[*amq.Receipt]{
		send: func(ctx context.Context, body []byte) error {
			setBody(msg, body)
			return s.Send(ctx, msg)
		},
		async: func(ctx context.Context, body []byte) (*amq.Receipt, error) {
			setBody(msg, body)
			return s.SendAsync(ctx, msg)
		},
		wait: func(ctx context.Context, r *amq.Receipt) error { return r.Wait(ctx) },
		tx: func(ctx context.Context, bodies [][]byte) error {
			// The transaction's sends are all in flight at once
			// (SendAsync); the commit waits for them.
			return e.send.BeginFunc(ctx, func(tx *amq.Tx) error {
				for _, body := range bodies {
					if _, err := tx.SendAsync(ctx, s, amq.NewMessage(body)); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	return func(ctx context.Context, b *bench, id int) { sendLoop(ctx, b, id, ops) }, nil
}

// setBody makes body the body of msg. The send loop passes the same
// buffer every time, and boxing it into Body again would allocate.
func setBody(msg *amq.Message, body []byte) {
	if b, ok := msg.Body.([]byte); ok && len(b) == len(body) && len(b) > 0 && &b[0] == &body[0] {
		return
	}
	msg.Body = body
}

// amqReceiver receives with Receive, which takes each message off the link
// on the calling goroutine (and accepts the previous one), as the raw
// engine does with go-amqp's Receive and AcceptMessage.
type amqReceiver struct{ r *amq.Receiver }

func (r amqReceiver) receive(ctx context.Context) ([]byte, error) {
	d, err := r.r.Receive(ctx)
	if err != nil {
		return nil, err
	}
	body, ok := d.Message.Body.([]byte)
	if !ok {
		return nil, nil // not ours: counted as stale
	}
	return body, nil
}

func (e *amqEngine) newReceiver(ctx context.Context, b *bench) (receiver, error) {
	r, err := e.recv.NewReceiver(ctx, b.cfg.address, &amq.ReceiverOptions{Credit: b.cfg.credit})
	if err != nil {
		return nil, err
	}
	e.receivers = append(e.receivers, r)
	return amqReceiver{r}, nil
}

func (e *amqEngine) close(ctx context.Context) error {
	var errs []error
	for _, r := range e.receivers {
		if err := r.Close(ctx); err != nil && !errors.Is(err, amq.ErrClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, e.send.Close(), e.recv.Close())
	return errors.Join(errs...)
}

// rawEngine runs the workload on github.com/Azure/go-amqp directly: one
// connection for the senders, each sender on its own session (as amq
// does), and one connection for the receiver.
type rawEngine struct {
	send, recv *amqp.Conn
}

func dialRaw(ctx context.Context, cfg config, url string) (*amqp.Conn, error) {
	sasl := amqp.SASLTypeAnonymous()
	if cfg.user != "" {
		sasl = amqp.SASLTypePlain(cfg.user, cfg.password)
	}
	return goamqpws.Dial(ctx, url, &amqp.ConnOptions{SASLType: sasl})
}

func newRawEngine(ctx context.Context, cfg config, url string) (*rawEngine, error) {
	send, err := dialRaw(ctx, cfg, url)
	if err != nil {
		return nil, err
	}
	recv, err := dialRaw(ctx, cfg, url)
	if err != nil {
		send.Close()
		return nil, err
	}
	return &rawEngine{send: send, recv: recv}, nil
}

func (e *rawEngine) newSender(ctx context.Context, b *bench) (func(context.Context, *bench, int), error) {
	sess, err := e.send.NewSession(ctx, nil)
	if err != nil {
		return nil, err
	}
	mode := amqp.SenderSettleModeMixed
	s, err := sess.NewSender(ctx, b.cfg.address, &amqp.SenderOptions{SettlementMode: &mode})
	if err != nil {
		return nil, err
	}
	var sendOpts *amqp.SendOptions
	if b.cfg.presettled {
		sendOpts = &amqp.SendOptions{Settled: true}
	}
	msg := amqp.NewMessage(nil) // reused: go-amqp encodes it before Send returns, as amq does
	ops := sendOps[amqp.SendReceipt]{
		send: func(ctx context.Context, body []byte) error {
			msg.Data[0] = body
			return s.Send(ctx, msg, sendOpts)
		},
		async: func(ctx context.Context, body []byte) (amqp.SendReceipt, error) {
			msg.Data[0] = body
			return s.SendWithReceipt(ctx, msg, nil)
		},
		wait: func(ctx context.Context, r amqp.SendReceipt) error {
			state, err := r.Wait(ctx)
			if err != nil {
				return err
			}
			if _, ok := state.(*amqp.StateAccepted); !ok {
				return fmt.Errorf("message not accepted: %T %+v", state, state)
			}
			return nil
		},
	}
	return func(ctx context.Context, b *bench, id int) { sendLoop(ctx, b, id, ops) }, nil
}

type rawReceiver struct{ r *amqp.Receiver }

func (r rawReceiver) receive(ctx context.Context) ([]byte, error) {
	msg, err := r.r.Receive(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := r.r.AcceptMessage(ctx, msg); err != nil {
		return nil, err
	}
	return msg.GetData(), nil
}

func (e *rawEngine) newReceiver(ctx context.Context, b *bench) (receiver, error) {
	sess, err := e.recv.NewSession(ctx, nil)
	if err != nil {
		return nil, err
	}
	r, err := sess.NewReceiver(ctx, b.cfg.address, &amqp.ReceiverOptions{Credit: int32(b.cfg.credit)})
	if err != nil {
		return nil, err
	}
	return rawReceiver{r}, nil
}

func (e *rawEngine) close(ctx context.Context) error {
	return errors.Join(e.send.Close(), e.recv.Close())
}

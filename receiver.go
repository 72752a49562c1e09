package amq

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	amqp "github.com/Azure/go-amqp"
)

// selectorFilter is the standard JMS selector filter (AMQP filters
// registry: apache.org:selector-filter:string, 0x0000468C:0x00000004).
const selectorFilterCode = 0x0000468C00000004

// Receiver receives messages from one address over its own AMQP link.
//
// Messages reach the application through Receive or the Deliveries
// channel (use one or the other). A goroutine per receiver moves messages
// from the link to the application and keeps the peer supplied with credit:
// it grants ReceiverOptions.Credit at attach and tops the window up
// whenever half of it has been handed to the application, so the number of
// messages buffered in the client never exceeds the window and the link
// never stalls for lack of credit.
//
// Auto-accept (the default, reference 9.4): a delivery the application has
// not settled itself is accepted when the application asks for the next
// delivery (calls Receive again, or receives the next value from
// Deliveries), or when the receiver is closed or detached, whichever comes
// first — the Go counterpart of Proton accepting after on_message returns.
// Set ReceiverOptions.ManualAccept to settle every delivery yourself.
type Receiver struct {
	c       *Client
	address string
	opts    ReceiverOptions
	session *amqp.Session
	link    *amqp.Receiver

	deliveries chan *Delivery
	stop       context.CancelFunc
	pumpDone   chan struct{}
	err        error // why the pump ended; written before pumpDone closes

	mu      sync.Mutex
	pending *Delivery // handed to the application, awaiting auto-accept

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// NewReceiver attaches a receiving link to address and starts delivering
// its messages. With ReceiverOptions.DynamicAddress the address must be
// empty and the peer assigns one, readable with Address.
func (c *Client) NewReceiver(ctx context.Context, address string, opts *ReceiverOptions) (*Receiver, error) {
	o, err := newReceiverConfig(address, opts)
	if err != nil {
		return nil, err
	}
	session, err := c.newSession(ctx, "attach receiver", address)
	if err != nil {
		return nil, err
	}
	ao := &amqp.ReceiverOptions{
		Name:               o.Name,
		Credit:             -1, // credit is managed here; see the Receiver doc
		SourceCapabilities: o.Capabilities,
		Durability:         amqp.Durability(o.Durability),
		ExpiryPolicy:       amqp.ExpiryPolicy(o.ExpiryPolicy),
		SourceDurability:   amqp.Durability(o.Durability),
		SourceExpiryPolicy: amqp.ExpiryPolicy(o.ExpiryPolicy),
		DynamicAddress:     o.DynamicAddress,
		Properties:         o.Properties,
	}
	if o.Selector != "" {
		ao.Filters = append(ao.Filters, amqp.NewLinkFilter("apache.org:selector-filter:string", selectorFilterCode, o.Selector))
	}
	if o.Browse {
		ao.SourceDistributionMode = "copy"
	}
	l, err := session.NewReceiver(ctx, address, ao)
	if err != nil {
		_ = endSession(context.WithoutCancel(ctx), session, c.cfg.CloseTimeout)
		return nil, wrapErr("attach receiver", address, err)
	}
	if o.DynamicAddress {
		address = l.Address()
	}
	if err := l.IssueCredit(uint32(o.Credit)); err != nil {
		_ = endSession(context.WithoutCancel(ctx), session, c.cfg.CloseTimeout)
		return nil, wrapErr("attach receiver", address, err)
	}
	pumpCtx, stop := context.WithCancel(context.Background())
	r := &Receiver{
		c:          c,
		address:    address,
		opts:       o,
		session:    session,
		link:       l,
		deliveries: make(chan *Delivery),
		stop:       stop,
		pumpDone:   make(chan struct{}),
	}
	if err := c.track(r); err != nil {
		stop()
		_ = r.closeLink(ctx, true)
		return nil, fmt.Errorf("amq: attach receiver: %w", err)
	}
	go r.pump(pumpCtx)
	c.cfg.logger.Debug("amq: receiver attached", "address", address, "link", l.LinkName(), "credit", o.Credit)
	return r, nil
}

// Address returns the source address: the one given to NewReceiver, or
// the one the peer assigned for a dynamic receiver.
func (r *Receiver) Address() string { return r.address }

// pump moves messages from the link to the application, one at a time,
// and refills credit as they are taken.
func (r *Receiver) pump(ctx context.Context) {
	defer close(r.pumpDone)
	defer close(r.deliveries)
	window := uint32(r.opts.Credit)
	outstanding := window // credit the peer may still use, as far as we know
	for {
		am, err := r.link.Receive(ctx, nil)
		if err != nil {
			if ctx.Err() != nil {
				r.err = ErrClosed
			} else {
				r.err = wrapErr("receive from", r.address, err)
				r.c.cfg.logger.Warn("amq: receiver ended", "address", r.address, "err", r.err)
			}
			return
		}
		d := &Delivery{Message: messageFromAMQP(am), r: r, am: am}
		select {
		case r.deliveries <- d:
		case <-ctx.Done():
			// Never handed to the application: give it back to the peer
			// unchanged so it goes to another receiver at once.
			r.giveBack(d)
			r.err = ErrClosed
			return
		}
		outstanding--
		if outstanding <= window/2 {
			if err := r.link.IssueCredit(window - outstanding); err == nil {
				outstanding = window
			}
		}
		if !r.opts.ManualAccept {
			if prev := r.swapPending(d); prev != nil {
				prev.autoAccept()
			}
		}
	}
}

func (r *Receiver) giveBack(d *Delivery) {
	if !d.settled.CompareAndSwap(false, true) {
		return
	}
	ctx, cancel := r.c.closeCtx(context.Background())
	defer cancel()
	_ = r.link.ReleaseMessage(ctx, d.am)
}

func (r *Receiver) swapPending(d *Delivery) *Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.pending
	r.pending = d
	return prev
}

// Receive returns the next delivery, blocking until one arrives, ctx ends
// or the receiver ends. After the receiver has ended, Receive returns the
// reason (ErrClosed after Close).
func (r *Receiver) Receive(ctx context.Context) (*Delivery, error) {
	if !r.opts.ManualAccept {
		if prev := r.swapPending(nil); prev != nil {
			prev.autoAccept()
		}
	}
	select {
	case d, ok := <-r.deliveries:
		if !ok {
			return nil, r.Err()
		}
		return d, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("amq: receive from %q: %w", r.address, ctx.Err())
	}
}

// Deliveries returns the channel of incoming deliveries. It is closed when
// the receiver ends; Err then says why. Ranging over it is the idiomatic
// consumer loop.
func (r *Receiver) Deliveries() <-chan *Delivery { return r.deliveries }

// Err returns why the receiver ended: nil while it is running, ErrClosed
// after Close or Detach, or the *Error that ended the link.
func (r *Receiver) Err() error {
	select {
	case <-r.pumpDone:
		return r.err
	default:
		return nil
	}
}

// Close closes the link: the peer discards the terminus, which ends a
// durable subscription. The delivery awaiting auto-accept is accepted
// first; messages prefetched but not yet handed to the application are
// released back to the peer.
func (r *Receiver) Close(ctx context.Context) error {
	return r.end(ctx, true, true)
}

// Detach detaches the link without closing the terminus: a durable
// subscription (ReceiverOptions.Durable) stays on the peer and keeps
// collecting messages until a receiver with the same ContainerID and Name
// re-attaches, or one closes it (reference 8.2).
func (r *Receiver) Detach(ctx context.Context) error {
	return r.end(ctx, false, true)
}

func (r *Receiver) closeForClient(ctx context.Context) error {
	// A client closing its connection detaches its links without closing
	// them, as Proton does, so durable subscriptions survive.
	return r.end(ctx, false, false)
}

func (r *Receiver) end(ctx context.Context, closeTerminus, untrack bool) error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		if untrack {
			r.c.untrack(r)
		}
		r.stop()
		<-r.pumpDone
		if !r.opts.ManualAccept {
			if prev := r.swapPending(nil); prev != nil {
				prev.autoAccept()
			}
		}
		r.closeErr = r.closeLink(ctx, closeTerminus)
	})
	return r.closeErr
}

// closeLink detaches the link by ending its session: ending a session
// detaches its links (AMQP 1.0 section 2.5.2), and unlike a detach, every
// peer answers an end — RabbitMQ 3.10 never answers a detach — so the
// peer's end confirms it has processed everything before it. For a
// non-durable terminus a detach and a close have the same effect. A durable
// terminus is only discarded by a detach with closed=true, so Close sends
// one first and waits for its answer within ctx.
func (r *Receiver) closeLink(ctx context.Context, closeTerminus bool) error {
	ctx, cancel := r.c.closeCtx(ctx)
	defer cancel()
	var err error
	if closeTerminus && r.durable() {
		err = r.link.Close(ctx)
	}
	if serr := endSession(ctx, r.session, r.c.cfg.CloseTimeout); serr != nil {
		r.c.cfg.logger.Debug("amq: session end not confirmed", "address", r.address, "err", serr)
	}
	if err != nil && !isCleanClose(err) {
		return wrapErr("close receiver", r.address, err)
	}
	r.c.cfg.logger.Debug("amq: receiver closed", "address", r.address, "closed", closeTerminus)
	return nil
}

// durable reports whether the source terminus outlives the link.
func (r *Receiver) durable() bool {
	return r.opts.Durability != DurabilityNone || r.opts.ExpiryPolicy == ExpiryNever
}

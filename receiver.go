package amq

import (
	"context"
	"fmt"
	"sync"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/google/uuid"
)

// selectorFilterCode is the standard JMS selector filter (AMQP filters
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
//
// A Receiver survives reconnects: it is re-attached with the same link
// name and source, and the Deliveries channel stays open. Deliveries
// received on the lost connection can no longer be settled (their Accept
// returns ErrDeliveryLost); the peer redelivers them. A dynamic receiver
// gets a new address from the peer on each re-attach.
type Receiver struct {
	c    *Client
	name string
	opts ReceiverOptions

	mu      sync.Mutex
	address string
	conn    *amqp.Conn
	session *amqp.Session
	link    *amqp.Receiver // nil while the connection is down
	gen     uint64
	changed chan struct{} // closed and replaced when link changes or the receiver ends
	healing bool          // a goroutine is re-attaching the link (recover)
	healCtx context.Context
	failErr error
	pending *Delivery // handed to the application, awaiting auto-accept

	deliveries chan *Delivery
	stop       context.CancelFunc
	pumpDone   chan struct{}
	err        error // why the pump ended; written before pumpDone closes

	// acceptCtx bounds auto-accepts: it ends ConnectOptions.CloseTimeout
	// after the receiver starts ending, so that an accept stuck on a peer
	// that reads nothing cannot hold Close up, without a timer per message.
	acceptCtx    context.Context
	acceptCancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// NewReceiver attaches a receiving link to address and starts delivering
// its messages. With ReceiverOptions.DynamicAddress the address must be
// empty and the peer assigns one, readable with Address. While the client
// is reconnecting, NewReceiver waits for the connection (within ctx).
func (c *Client) NewReceiver(ctx context.Context, address string, opts *ReceiverOptions) (*Receiver, error) {
	o, err := newReceiverConfig(address, opts)
	if err != nil {
		return nil, err
	}
	r := &Receiver{
		c:          c,
		name:       o.Name,
		opts:       o,
		address:    address,
		changed:    make(chan struct{}),
		deliveries: make(chan *Delivery),
		pumpDone:   make(chan struct{}),
	}
	r.acceptCtx, r.acceptCancel = context.WithCancel(context.Background())
	if r.name == "" {
		r.name = "amq-receiver-" + uuid.NewString()
	}
	for {
		conn, gen, err := c.connection(ctx)
		if err != nil {
			return nil, fmt.Errorf("amq: attach receiver %q: %w", address, err)
		}
		session, l, err := r.attach(ctx, conn)
		if err != nil {
			if connLost(conn) && ctx.Err() == nil {
				continue
			}
			return nil, err
		}
		r.conn, r.session, r.link, r.gen = conn, session, l, c.newLinkGen()
		if r.opts.DynamicAddress {
			r.address = l.Address()
		}
		if err := c.track(r, gen); err != nil {
			_ = endSession(context.WithoutCancel(ctx), session, c.cfg.CloseTimeout)
			if err == errStale {
				continue
			}
			return nil, fmt.Errorf("amq: attach receiver %q: %w", address, err)
		}
		break
	}
	pumpCtx, stop := context.WithCancel(context.Background())
	r.stop, r.healCtx = stop, pumpCtx
	go r.pump(pumpCtx)
	c.cfg.logger.Debug("amq: receiver attached", "address", r.address, "link", r.name, "credit", o.Credit)
	return r, nil
}

// attach begins a session on conn, attaches the link and grants credit.
func (r *Receiver) attach(ctx context.Context, conn *amqp.Conn) (*amqp.Session, *amqp.Receiver, error) {
	address := r.address
	if r.opts.DynamicAddress {
		address = ""
	}
	session, err := conn.NewSession(ctx, nil)
	if err != nil {
		return nil, nil, wrapErr("attach receiver", address, err)
	}
	ao := &amqp.ReceiverOptions{
		Name:               r.name,
		Credit:             -1, // credit is managed here; see the Receiver doc
		SourceCapabilities: r.opts.Capabilities,
		SourceDurability:   amqp.Durability(r.opts.Durability),
		SourceExpiryPolicy: amqp.ExpiryPolicy(r.opts.ExpiryPolicy),
		DynamicAddress:     r.opts.DynamicAddress,
		Properties:         r.opts.Properties,
	}
	if r.opts.Selector != "" {
		ao.Filters = append(ao.Filters, amqp.NewLinkFilter("apache.org:selector-filter:string", selectorFilterCode, r.opts.Selector))
	}
	if r.opts.Browse {
		ao.SourceDistributionMode = "copy"
	}
	l, err := session.NewReceiver(ctx, address, ao)
	if err == nil {
		err = l.IssueCredit(uint32(r.opts.Credit))
	}
	if err != nil {
		_ = endSession(context.WithoutCancel(ctx), session, r.c.cfg.CloseTimeout)
		return nil, nil, wrapErr("attach receiver", address, err)
	}
	return session, l, nil
}

// Address returns the source address: the one given to NewReceiver, or
// the one the peer assigned for a dynamic receiver.
func (r *Receiver) Address() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.address
}

// current returns the attached link of a generation newer than after,
// waiting while the connection is down.
func (r *Receiver) current(ctx context.Context, after uint64) (*amqp.Receiver, *amqp.Conn, uint64, error) {
	for {
		r.mu.Lock()
		if r.failErr != nil {
			err := r.failErr
			r.mu.Unlock()
			return nil, nil, 0, err
		}
		if r.link != nil && r.gen > after {
			l, conn, gen := r.link, r.conn, r.gen
			r.mu.Unlock()
			return l, conn, gen, nil
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, 0, ErrClosed
		}
	}
}

// pump moves messages from the link to the application and keeps the peer
// supplied with credit. When the connection drops it waits for the
// re-attached link and carries on.
//
// Credit (AMQP 1.0 section 2.6.7) is granted in one flow at a time, and
// only once the peer has used all of the previous grant: then a flow can
// never overlap messages the peer has in flight. RabbitMQ 3.10 counts such
// in-flight messages twice and sends more than the credit granted; go-amqp's
// uint32 credit then wraps, its next flow grants nothing, and the link
// stalls for good. Arrived messages wait in a local buffer, so the next
// grant goes out while the application works through the previous one, and
// the grant is computed from what actually arrived, which also corrects
// for a peer that sent too much.
func (r *Receiver) pump(ctx context.Context) {
	defer close(r.pumpDone)
	defer close(r.deliveries)
	window := int64(r.opts.Credit)
	var (
		after uint64
		buf   deliveryQueue
		last  *amqp.Receiver // the link of the latest generation
	)
	defer func() {
		// Never handed to the application: give them back unchanged so
		// they go to another receiver at once, with those still waiting
		// in go-amqp's queue.
		if last != nil {
			for am := last.Prefetched(); am != nil; am = last.Prefetched() {
				buf.push(r.newDelivery(last, am))
			}
		}
		for d := buf.pop(); d != nil; d = buf.pop() {
			r.giveBack(d)
		}
	}()
	for {
		l, conn, gen, err := r.current(ctx, after)
		if err != nil {
			r.err = err
			return
		}
		after, last = gen, l
		granted, arrived := window, int64(0) // attach granted the window
		topUp := func() {
			outstanding := granted - arrived
			if outstanding > 0 || int64(buf.len()) > window/2 {
				return
			}
			// grant - outstanding is what go-amqp adds to its own
			// (possibly wrapped) count, so the flow carries exactly
			// window - buffered.
			grant := window - int64(buf.len()) - outstanding
			if err := l.IssueCredit(uint32(grant)); err == nil {
				granted += grant
			}
		}
		for {
			if buf.len() == 0 {
				am, err := l.Receive(ctx, nil)
				if err != nil {
					if ctx.Err() != nil {
						r.err = ErrClosed
						return
					}
					if connLost(conn) {
						break // wait for the re-attached link
					}
					if linkLost(err) {
						r.recover(gen)
						break
					}
					r.err = wrapErr("receive from", r.Address(), err)
					r.c.cfg.logger.Warn("amq: receiver ended", "address", r.Address(), "err", r.err)
					return
				}
				buf.push(r.newDelivery(l, am))
				arrived++
			}
			// Each Prefetched call wakes go-amqp's link goroutine, even
			// when it returns nothing. Only a buffer at most half full can
			// let topUp grant credit, so only then does the count of
			// arrivals need to be current; until then the messages wait
			// in go-amqp's queue, in order, behind the buffered ones.
			if int64(buf.len()) <= window/2 {
				for am := l.Prefetched(); am != nil; am = l.Prefetched() {
					buf.push(r.newDelivery(l, am))
					arrived++
				}
			}
			topUp()
			d := buf.peek()
			if t := r.c.trace; t != nil && d.span == nil {
				t.startProcess(r, d)
			}
			select {
			case r.deliveries <- d:
				buf.pop()
			case <-ctx.Done():
				r.err = ErrClosed
				return
			}
			topUp()
			if !r.opts.ManualAccept {
				if prev := r.swapPending(d); prev != nil {
					prev.autoAccept()
				}
			}
		}
	}
}

// newDelivery converts a received message. The Delivery and its Message
// are one allocation: they live and die together.
func (r *Receiver) newDelivery(l *amqp.Receiver, am *amqp.Message) *Delivery {
	dm := &struct {
		d Delivery
		m Message
	}{}
	dm.m.fromAMQP(am)
	dm.d.Message, dm.d.r, dm.d.link, dm.d.am = &dm.m, r, l, am
	return &dm.d
}

// deliveryQueue is a FIFO of deliveries that arrived but were not yet
// handed to the application.
type deliveryQueue struct {
	items []*Delivery
	head  int
}

func (q *deliveryQueue) len() int { return len(q.items) - q.head }

func (q *deliveryQueue) push(d *Delivery) { q.items = append(q.items, d) }

func (q *deliveryQueue) peek() *Delivery { return q.items[q.head] }

func (q *deliveryQueue) pop() *Delivery {
	if q.len() == 0 {
		return nil
	}
	d := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return d
}

func (r *Receiver) giveBack(d *Delivery) {
	if !d.settled.CompareAndSwap(false, true) {
		return
	}
	if d.span != nil {
		d.span.End()
	}
	ctx, cancel := r.c.closeCtx(context.Background())
	defer cancel()
	_ = d.link.ReleaseMessage(ctx, d.am)
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
		return nil, fmt.Errorf("amq: receive from %q: %w", r.Address(), ctx.Err())
	}
}

// Deliveries returns the channel of incoming deliveries. It is closed when
// the receiver ends; Err then says why. Ranging over it is the idiomatic
// consumer loop.
func (r *Receiver) Deliveries() <-chan *Delivery { return r.deliveries }

// Err returns why the receiver ended: nil while it is running, ErrClosed
// after Close or Detach, or the error that ended the link.
func (r *Receiver) Err() error {
	select {
	case <-r.pumpDone:
		return r.err
	default:
		return nil
	}
}

// reattach attaches the link again on a new connection.
func (r *Receiver) reattach(ctx context.Context, conn *amqp.Conn, _ uint64) error {
	session, l, err := r.attach(ctx, conn)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.installLocked(ctx, conn, session, l)
	return nil
}

func (r *Receiver) installLocked(ctx context.Context, conn *amqp.Conn, session *amqp.Session, l *amqp.Receiver) {
	if r.failErr != nil {
		_ = endSession(context.WithoutCancel(ctx), session, r.c.cfg.CloseTimeout)
		return
	}
	r.conn, r.session, r.link, r.gen = conn, session, l, r.c.newLinkGen()
	if r.opts.DynamicAddress {
		r.address = l.Address()
	}
	r.signalLocked()
}

// recover re-attaches the link of version gen on the current connection,
// in the background, after the peer ended its session or forced it closed
// (see Sender.heal). The pump waits for the new link.
func (r *Receiver) recover(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failErr != nil || r.gen != gen || r.healing {
		return
	}
	r.healing = true
	r.link = nil
	ctx := r.healCtx
	go func() {
		defer func() {
			r.mu.Lock()
			r.healing = false
			r.mu.Unlock()
		}()
		healLink(ctx, r.c, "receiver", r.Address(), func(ctx context.Context, conn *amqp.Conn) error {
			session, l, err := r.attach(ctx, conn)
			if err != nil {
				return err
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.gen != gen {
				_ = endSession(context.WithoutCancel(ctx), session, r.c.cfg.CloseTimeout)
				return nil
			}
			r.installLocked(ctx, conn, session, l)
			return nil
		}, r.fail)
	}()
}

func (r *Receiver) signalLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Receiver) connectionLost() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.link = nil
}

func (r *Receiver) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failErr == nil {
		r.failErr = err
		r.signalLocked()
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
		if untrack {
			r.c.untrack(r)
		}
		// The accept in progress and the one of the delivery awaiting
		// auto-accept get CloseTimeout between them. acceptCtx is not
		// cancelled sooner: an application goroutine may still be
		// auto-accepting in Receive.
		time.AfterFunc(r.c.cfg.CloseTimeout, r.acceptCancel)
		r.stop()
		<-r.pumpDone
		if !r.opts.ManualAccept {
			if prev := r.swapPending(nil); prev != nil {
				prev.autoAccept()
			}
		}
		r.mu.Lock()
		l, session, conn := r.link, r.session, r.conn
		r.link = nil
		if r.failErr == nil {
			r.failErr = fmt.Errorf("amq: receive from %q: %w", r.address, ErrClosed)
			r.signalLocked()
		}
		r.mu.Unlock()
		if l != nil {
			r.closeErr = r.closeLink(ctx, l, session, conn, closeTerminus)
		}
	})
	return r.closeErr
}

// closeLink ends the link's session, after a closing detach when
// closeTerminus is set (see Client.detachAndEnd). Ending a session detaches
// its links without closing them (AMQP 1.0 section 2.5.2), which is what
// Detach and Client.Close want: a durable subscription survives it.
func (r *Receiver) closeLink(ctx context.Context, l *amqp.Receiver, session *amqp.Session, conn *amqp.Conn, closeTerminus bool) error {
	ctx, cancel := r.c.closeCtx(ctx)
	defer cancel()
	var err error
	if closeTerminus {
		err = r.c.detachAndEnd(ctx, conn, r.name, l.Close, session)
	} else if err = endSession(ctx, session, r.c.cfg.CloseTimeout); err != nil {
		r.c.cfg.logger.Debug("amq: session end not confirmed", "address", r.Address(), "err", err)
		err = nil
	}
	if err != nil {
		return wrapErr("close receiver", r.Address(), err)
	}
	r.c.cfg.logger.Debug("amq: receiver closed", "address", r.Address(), "closed", closeTerminus)
	return nil
}

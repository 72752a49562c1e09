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
// channel (use one or the other). Receive takes them off the link on the
// caller's goroutine; Deliveries starts a goroutine that does the same and
// sends them on the channel. Either way the peer is kept supplied with
// credit: ReceiverOptions.Credit is granted at attach and the window is
// topped up whenever half of it has been handed to the application, so the
// number of messages buffered in the client never exceeds the window and
// the link never stalls for lack of credit.
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

	mu       sync.Mutex
	address  string
	conn     *amqp.Conn
	session  *amqp.Session
	link     *amqp.Receiver // nil while the connection is down
	gen      uint64
	changed  chan struct{} // closed and replaced when link changes or the receiver ends
	healPace healPace      // paces re-attaches across losses (recover)
	failErr  error         // why the receiver ended: closed, or failed for good
	pending  *Delivery     // handed to the application, awaiting auto-accept

	// fetchSem is held by whoever takes messages off the link (a Receive
	// call or the Deliveries pump); it guards fetch.
	fetchSem chan struct{}
	fetch    fetchState

	// life ends when the receiver starts ending; it interrupts Receive and
	// the pump, and bounds re-attaching.
	life context.Context
	stop context.CancelFunc

	deliveries chan *Delivery
	pumpOnce   sync.Once     // starts the pump, or (in end) rules it out
	pumpDone   chan struct{} // nil if the pump never started

	// acceptCtx bounds auto-accepts: it ends ConnectOptions.CloseTimeout
	// after the receiver starts ending, so that an accept stuck on a peer
	// that reads nothing cannot hold Close up, without a timer per message.
	acceptCtx    context.Context
	acceptCancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// fetchState is the taking of messages off the link: the link of the
// latest generation seen, the credit accounting for it, and the messages
// that arrived but were not yet handed to the application.
type fetchState struct {
	link    *amqp.Receiver // nil: wait for a link newer than after
	conn    *amqp.Conn
	after   uint64
	last    *amqp.Receiver // the latest link, even once lost: Close gives its messages back
	granted int64          // credit granted on link, in total
	arrived int64          // messages that arrived on link
	buf     deliveryQueue
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
		fetchSem:   make(chan struct{}, 1),
		deliveries: make(chan *Delivery),
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
	r.life, r.stop = context.WithCancel(context.Background())
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
// waiting while the connection is down, until ctx ends or the receiver
// ends.
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
			return nil, nil, 0, r.ctxErr(ctx)
		case <-r.life.Done():
			return nil, nil, 0, r.Err()
		}
	}
}

// ctxErr is the error of a Receive whose ctx ended.
func (r *Receiver) ctxErr(ctx context.Context) error {
	return fmt.Errorf("amq: receive from %q: %w", r.Address(), ctx.Err())
}

// next takes the next delivery off the link and keeps the peer supplied
// with credit. When the connection drops it waits for the re-attached
// link and carries on. Only one goroutine at a time takes messages off
// the link (fetchSem); the others wait their turn.
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
func (r *Receiver) next(ctx context.Context) (*Delivery, error) {
	select {
	case r.fetchSem <- struct{}{}:
	case <-ctx.Done():
		return nil, r.ctxErr(ctx)
	case <-r.life.Done():
		return nil, r.Err()
	}
	defer func() { <-r.fetchSem }()
	if r.life.Err() != nil {
		return nil, r.Err()
	}
	f := &r.fetch
	for f.buf.len() == 0 {
		if f.link == nil {
			l, conn, gen, err := r.current(ctx, f.after)
			if err != nil {
				return nil, err
			}
			f.link, f.conn, f.after, f.last = l, conn, gen, l
			f.granted, f.arrived = int64(r.opts.Credit), 0 // attach granted the window
		}
		am, err := r.receive(ctx, f.link)
		if err == nil {
			f.buf.push(r.newDelivery(f.link, am))
			f.arrived++
			break
		}
		switch {
		case r.life.Err() != nil:
			return nil, r.Err()
		case ctx.Err() != nil:
			return nil, r.ctxErr(ctx)
		case connLost(f.conn):
			f.link = nil // wait for the re-attached link
		case linkLost(err):
			r.recover(f.after)
			f.link = nil
		default:
			err = wrapErr("receive from", r.Address(), err)
			r.c.cfg.logger.Warn("amq: receiver ended", "address", r.Address(), "err", err)
			r.fail(err)
			return nil, r.Err()
		}
	}
	// Each Prefetched call wakes go-amqp's link goroutine, even when it
	// returns nothing. Only a buffer at most half full can let topUp grant
	// credit, so only then does the count of arrivals need to be current;
	// until then the messages wait in go-amqp's queue, in order, behind
	// the buffered ones.
	window := int64(r.opts.Credit)
	if f.link != nil && int64(f.buf.len()) <= window/2 {
		for am := f.link.Prefetched(); am != nil; am = f.link.Prefetched() {
			f.buf.push(r.newDelivery(f.link, am))
			f.arrived++
		}
	}
	d := f.buf.pop()
	r.topUp()
	if t := r.c.trace; t != nil && d.span == nil {
		t.startProcess(r, d)
	}
	return d, nil
}

// receive waits for the next message on l, until ctx ends or the receiver
// ends.
func (r *Receiver) receive(ctx context.Context, l *amqp.Receiver) (*amqp.Message, error) {
	if ctx.Done() == nil || ctx == r.life {
		return l.Receive(r.life, nil)
	}
	both, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(r.life, cancel)
	defer stop()
	return l.Receive(both, nil)
}

// topUp grants the link the credit that brings the messages buffered and
// in flight back to the window, once the peer has used all of the
// previous grant and at most half the window is buffered.
func (r *Receiver) topUp() {
	f := &r.fetch
	window := int64(r.opts.Credit)
	outstanding := f.granted - f.arrived
	if f.link == nil || outstanding > 0 || int64(f.buf.len()) > window/2 {
		return
	}
	// grant - outstanding is what go-amqp adds to its own (possibly
	// wrapped) count, so the flow carries exactly window - buffered.
	grant := window - int64(f.buf.len()) - outstanding
	if err := f.link.IssueCredit(uint32(grant)); err == nil {
		f.granted += grant
	}
}

// pump feeds the Deliveries channel, started by the first call of
// Deliveries.
func (r *Receiver) pump() {
	defer close(r.pumpDone)
	defer close(r.deliveries)
	for {
		d, err := r.next(r.life)
		if err != nil {
			return // Err says why
		}
		select {
		case r.deliveries <- d:
		case <-r.life.Done():
			r.giveBack(d)
			return
		}
		if !r.opts.ManualAccept {
			if prev := r.swapPending(d); prev != nil {
				prev.autoAccept()
			}
		}
	}
}

// giveBackBuffered releases what arrived but was never handed to the
// application, with what still waits in go-amqp's queue, so it goes to
// another receiver at once. fetchSem is held.
func (r *Receiver) giveBackBuffered() {
	f := &r.fetch
	if f.last != nil {
		for am := f.last.Prefetched(); am != nil; am = f.last.Prefetched() {
			f.buf.push(r.newDelivery(f.last, am))
		}
	}
	for d := f.buf.pop(); d != nil; d = f.buf.pop() {
		r.giveBack(d)
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
	d, err := r.next(ctx)
	if err != nil {
		return nil, err
	}
	if !r.opts.ManualAccept {
		if prev := r.swapPending(d); prev != nil {
			prev.autoAccept() // left by a concurrent Receive
		}
	}
	return d, nil
}

// Deliveries returns the channel of incoming deliveries. It is closed when
// the receiver ends; Err then says why. Ranging over it is the idiomatic
// consumer loop. The first call starts the goroutine that feeds it.
func (r *Receiver) Deliveries() <-chan *Delivery {
	r.pumpOnce.Do(func() {
		r.pumpDone = make(chan struct{})
		go r.pump()
	})
	return r.deliveries
}

// Err returns why the receiver ended: nil while it is running, ErrClosed
// after Close or Detach, or the error that ended the link.
func (r *Receiver) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failErr
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
// (see Sender.heal). Receive and the pump wait for the new link.
func (r *Receiver) recover(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failErr != nil || r.gen != gen || r.link == nil {
		return // already being replaced; see Sender.lostLocked
	}
	r.link = nil
	ctx := r.life
	go func() {
		healLink(ctx, r.c, &r.healPace, "receiver", r.Address(), func(ctx context.Context, conn *amqp.Conn) error {
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
		r.fail(fmt.Errorf("amq: receive from %q: %w", r.Address(), ErrClosed))
		r.stop()
		r.pumpOnce.Do(func() { close(r.deliveries) }) // no pump: none may start
		if r.pumpDone != nil {
			<-r.pumpDone
		}
		r.fetchSem <- struct{}{} // kept: nothing takes messages off the link again
		r.giveBackBuffered()
		if !r.opts.ManualAccept {
			if prev := r.swapPending(nil); prev != nil {
				prev.autoAccept()
			}
		}
		r.mu.Lock()
		l, session, conn := r.link, r.session, r.conn
		r.link = nil
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

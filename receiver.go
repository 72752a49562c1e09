package amq

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

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
	conn     *engine.Conn
	session  *engine.Session
	link     *engine.Receiver // nil while the connection is down
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
	pumping    atomic.Bool   // Deliveries was called (Drain refuses then)

	// acceptCtx bounds auto-accepts: it ends ConnectOptions.CloseTimeout
	// after the receiver starts ending, so that an accept stuck on a peer
	// that reads nothing cannot hold Close up, without a timer per message.
	acceptCtx    context.Context
	acceptCancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

// fetchState is the taking of messages off the link: the link of the
// latest generation seen. The engine keeps what arrived and grants credit
// as it is taken (see attach).
type fetchState struct {
	link  *engine.Receiver // nil: wait for a link newer than after
	conn  *engine.Conn
	after uint64
	last  *engine.Receiver // the latest link, even once lost: Close gives its messages back
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
			r.address = dynamicAddress(l)
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
//
// Credit (AMQP 1.0 section 2.6.7) is the engine's window of
// ReceiverOptions.Credit: it is granted at attach and again whenever the
// application has taken half of it, counting what arrived and was not yet
// taken, so the client never holds more than the window. A new grant goes
// out only once the peer has used all of the previous one: then a flow
// never overlaps messages in flight, which RabbitMQ 3.10 would count twice
// and answer with more messages than granted.
func (r *Receiver) attach(ctx context.Context, conn *engine.Conn) (*engine.Session, *engine.Receiver, error) {
	address := r.address
	if r.opts.DynamicAddress {
		address = ""
	}
	session, err := engine.NewSession(ctx, conn)
	if err != nil {
		return nil, nil, wrapErr("attach receiver", address, err)
	}
	src := &codec.Source{
		Address:      address,
		Dynamic:      r.opts.DynamicAddress,
		Capabilities: symbols(r.opts.Capabilities),
		Durable:      codec.Durability(r.opts.Durability),
		ExpiryPolicy: codec.ExpiryPolicy(r.opts.ExpiryPolicy),
	}
	src.Filter, _ = sourceFilter(&r.opts)
	if r.opts.DynamicAddress {
		src.DynamicNodeProperties, _ = annotationsToCodec("ReceiverOptions.DynamicNodeProperties", r.opts.DynamicNodeProperties)
	}
	switch {
	case r.opts.Browse:
		src.DistributionMode = codec.DistributionCopy
	case r.opts.Move:
		src.DistributionMode = codec.DistributionMove
	}
	var sndMode *codec.SenderSettleMode
	if r.opts.Presettled {
		settled := codec.SenderSettleModeSettled
		sndMode = &settled
	}
	l, err := session.AttachReceiver(ctx, &engine.AttachOptions{
		Name:           r.name,
		Source:         src,
		Target:         &codec.Target{},
		SndSettleMode:  sndMode,
		Properties:     linkProperties(r.opts.Properties),
		CreditWindow:   uint32(r.opts.Credit),
		CreditAfterUse: true,
		NewDelivery:    newDeliveryMemory,
	})
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
func (r *Receiver) current(ctx context.Context, after uint64) (*engine.Receiver, *engine.Conn, uint64, error) {
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

// next takes the next delivery off the link. When the connection drops
// it waits for the re-attached link and carries on. Only one goroutine at
// a time takes messages off the link (fetchSem); the others wait their
// turn.
func (r *Receiver) next(ctx context.Context) (*Delivery, error) {
	select {
	case r.fetchSem <- struct{}{}: // the usual case, without a three-way select
	default:
		select {
		case r.fetchSem <- struct{}{}:
		case <-ctx.Done():
			return nil, r.ctxErr(ctx)
		case <-r.life.Done():
			return nil, r.Err()
		}
	}
	defer func() { <-r.fetchSem }()
	if r.life.Err() != nil {
		return nil, r.Err()
	}
	f := &r.fetch
	for {
		if f.link == nil {
			l, conn, gen, err := r.current(ctx, f.after)
			if err != nil {
				return nil, err
			}
			f.link, f.conn, f.after, f.last = l, conn, gen, l
		}
		in, err := r.receive(ctx, f.link)
		if err == nil {
			d, ok := r.newDelivery(in)
			if !ok {
				continue // undecodable: rejected, see newDelivery
			}
			if t := r.c.trace; t != nil {
				t.startProcess(r, d)
			}
			return d, nil
		}
		switch {
		case r.life.Err() != nil:
			return nil, r.Err()
		case ctx.Err() != nil:
			return nil, r.ctxErr(ctx)
		case connLost(f.conn):
			f.link = nil // wait for the re-attached link
		case linkLost(f.link.Link()):
			r.recover(f.after)
			f.link = nil
		default:
			err = linkEndErr("receive from", r.Address(), f.link.Link())
			r.c.cfg.logger.Warn("amq: receiver ended", "address", r.Address(), "err", err)
			r.fail(err)
			return nil, r.Err()
		}
	}
}

// receive waits for the next message on l, until ctx ends or the receiver
// ends.
func (r *Receiver) receive(ctx context.Context, l *engine.Receiver) (*engine.IncomingDelivery, error) {
	if ctx.Done() == nil || ctx == r.life {
		return l.Receive(r.life)
	}
	return engine.ReceiveUntil(ctx, l, r.life.Done(), r.life.Err)
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
// application, so it goes to another receiver at once, and stops granting
// credit. fetchSem is held.
func (r *Receiver) giveBackBuffered() {
	if r.fetch.last == nil {
		return
	}
	for _, in := range engine.TakeBuffered(r.fetch.last) {
		if !in.Settled() {
			_ = in.Release()
		}
	}
}

// deliveryMemory is everything of one received message: the engine's
// delivery, the Delivery and Message handed out, and room to decode in.
// The engine allocates it when the first transfer arrives
// (newDeliveryMemory): one allocation for all of them.
type deliveryMemory struct {
	in   engine.IncomingDelivery
	d    Delivery
	m    Message
	cm   codec.Message
	room [1][]byte
}

func newDeliveryMemory() *engine.IncomingDelivery {
	dm := &deliveryMemory{}
	return engine.WithOwner(&dm.in, dm)
}

// newDelivery decodes a received message. The Delivery and its Message
// are one allocation: they live and die together. A message that cannot
// be decoded is rejected with amqp:decode-error (the peer dead-letters or
// drops it; redelivering it would stall the receiver for good) and ok is
// false.
func (r *Receiver) newDelivery(in *engine.IncomingDelivery) (d *Delivery, ok bool) {
	dm, _ := engine.DeliveryOwner(in).(*deliveryMemory)
	if dm == nil {
		dm = &deliveryMemory{}
	}
	// The payload is this delivery's own and never changes: the body can
	// share it rather than be copied.
	dm.cm.Data = dm.room[:0:1]
	if err := codec.UnmarshalMessageAliasing(&dm.cm, in.Payload()); err != nil {
		r.c.cfg.logger.Warn("amq: rejecting a message that cannot be decoded", "address", r.Address(), "err", err)
		if !in.Settled() {
			_ = in.Reject(&codec.Error{Condition: codec.ErrCondDecodeError, Description: err.Error()})
		}
		return nil, false
	}
	dm.m.fromCodec(&dm.cm)
	dm.cm = codec.Message{} // what the Message needs it has taken
	dm.d.Message, dm.d.r, dm.d.in = &dm.m, r, in
	return &dm.d, true
}

func (r *Receiver) giveBack(d *Delivery) {
	if !d.settled.CompareAndSwap(false, true) {
		return
	}
	if d.span != nil {
		d.span.End()
	}
	if !d.in.Settled() {
		_ = d.in.Release()
	}
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
// reason (ErrClosed after Close). A message the peer aborts (it gave up
// sending it midway, AMQP 1.0 section 2.6.14) never reaches Receive: what
// arrived of it is dropped.
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
		r.pumping.Store(true)
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
func (r *Receiver) reattach(ctx context.Context, conn *engine.Conn, _ uint64) error {
	session, l, err := r.attach(ctx, conn)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.installLocked(ctx, conn, session, l)
	return nil
}

func (r *Receiver) installLocked(ctx context.Context, conn *engine.Conn, session *engine.Session, l *engine.Receiver) {
	if r.failErr != nil {
		_ = endSession(context.WithoutCancel(ctx), session, r.c.cfg.CloseTimeout)
		return
	}
	r.conn, r.session, r.link, r.gen = conn, session, l, r.c.newLinkGen()
	if r.opts.DynamicAddress {
		r.address = dynamicAddress(l)
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
	cause := linkEndErr("receive from", r.address, r.link.Link())
	r.link = nil
	ctx := r.life
	go func() {
		healLink(ctx, r.c, &r.healPace, "receiver", r.Address(), cause, func(ctx context.Context, conn *engine.Conn) error {
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
func (r *Receiver) closeLink(ctx context.Context, l *engine.Receiver, session *engine.Session, conn *engine.Conn, closeTerminus bool) error {
	ctx, cancel := r.c.closeCtx(ctx)
	defer cancel()
	var err error
	if closeTerminus {
		err = r.c.detachAndEnd(ctx, conn, l.Link(), session)
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

// dynamicAddress is the address the peer gave a dynamic source.
func dynamicAddress(l *engine.Receiver) string {
	if src := engine.RemoteSource(l.Link()); src != nil {
		return src.Address
	}
	return ""
}

// symbols converts capabilities.
func symbols(ss []string) []codec.Symbol {
	if len(ss) == 0 {
		return nil
	}
	out := make([]codec.Symbol, len(ss))
	for i, s := range ss {
		out[i] = codec.Symbol(s)
	}
	return out
}

// linkProperties converts a link's properties (symbol keys, §2.7.3); a
// value the type map cannot send is left out (the options were checked
// when the link was created).
func linkProperties(p map[string]any) codec.Map {
	m, _ := annotationsToCodec("link property", p)
	return m
}

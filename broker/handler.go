package broker

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// Filters of a source the broker applies (Apache's registry of AMQP
// filter types): the JMS selector, and JMS no-local, which Qpid JMS sends
// under the name "no-local" with a string value; the broker looks at the
// descriptor only.
const (
	selectorFilterCode   uint64       = 0x0000468C00000004
	selectorFilterSymbol codec.Symbol = "apache.org:selector-filter:string"
	noLocalFilterCode    uint64       = 0x0000468C00000003
	noLocalFilterSymbol  codec.Symbol = "apache.org:no-local-filter:list"
)

// Handler returns the server.Handler that serves the broker's nodes, for a
// server.Listen of your own (Listen does this for you). Set the server's
// Options.Transactions for it to serve transaction coordinators.
func (b *Broker) Handler() server.Handler { return (*handler)(b) }

// handler is the Broker seen from package server.
type handler Broker

var _ server.Handler = (*handler)(nil)

// linkStates carries what Attach resolved to the link's Serve goroutine.
var linkStates sync.Map // *server.Link → *pendingLink

// pendingLink is a link attached but not yet served. If the connection ends
// before the server starts serving it, release undoes the attach, so that
// no consumer, private subscription or dynamic node is left behind.
type pendingLink struct {
	state any // *outLink, *inLink or *coordLink
	stop  func() bool
}

func (b *Broker) holdLink(ctx context.Context, l *server.Link, state any) {
	p := &pendingLink{state: state}
	linkStates.Store(l, p)
	p.stop = context.AfterFunc(ctx, func() {
		if _, ok := linkStates.LoadAndDelete(l); ok {
			switch st := state.(type) {
			case *outLink:
				st.close(false)
			case *inLink:
				st.end()
				b.leaveConn(l.Conn(), st, nil)
			}
		}
	})
}

// takeLink hands the state of an attached link to its Serve goroutine.
func takeLink(l *server.Link) any {
	v, ok := linkStates.LoadAndDelete(l)
	if !ok {
		return nil
	}
	p := v.(*pendingLink)
	p.stop()
	return p.state
}

// inLink is the broker side of a sending link: where its messages go.
type inLink struct {
	n      *node // nil: anonymous relay, routed by each message's "to"
	origin any   // the link's connection, for no-local subscriptions

	// A discharge waits until the link has stored what arrived before it
	// (flush): kick interrupts the link's wait for a delivery, and waiters
	// are released once the queued deliveries are stored.
	kick    chan struct{} // cap 1
	mu      sync.Mutex
	waiters []chan struct{}
	ended   bool
}

// Attach resolves the node of a link, creating it on demand, and shapes the
// reply: the node's address (for dynamic nodes) and its kind capability.
func (h *handler) Attach(ctx context.Context, l *server.Link) error {
	b := (*Broker)(h)
	if engine.LinkCoordinator(l) != nil {
		return b.attachCoordinator(ctx, l)
	}
	if l.Role() == server.RoleReceiver {
		return b.attachIncoming(ctx, l)
	}
	return b.attachOutgoing(ctx, l)
}

func (b *Broker) attachIncoming(ctx context.Context, l *server.Link) error {
	t := l.Target()
	if t == nil {
		return &codec.Error{Condition: codec.ErrCondInvalidField, Description: "link has no target"}
	}
	if t.Dynamic {
		return &codec.Error{Condition: codec.ErrCondNotImplemented, Description: "dynamic targets are not supported; use a dynamic source"}
	}
	in := &inLink{kick: make(chan struct{}, 1), origin: l.Conn()}
	reply := *t
	if t.Address != "" {
		n, err := b.node(t.Address, kindOf(t.Capabilities))
		if err != nil {
			return toAMQPError(err)
		}
		in.n = n
		reply.Capabilities = withKind(t.Capabilities, n.kind)
	}
	l.SetTarget(&reply)
	// Registered before the peer hears of the link, so that a discharge
	// waits for its first transfers too.
	b.joinConn(l.Conn(), in, nil)
	b.holdLink(ctx, l, in)
	return nil
}

func (b *Broker) attachOutgoing(ctx context.Context, l *server.Link) error {
	src := l.Source()
	if src == nil {
		return &codec.Error{Condition: codec.ErrCondInvalidField, Description: "link has no source"}
	}
	spec := sourceSpec{
		address:   src.Address,
		kind:      kindOf(src.Capabilities),
		dynamic:   src.Dynamic,
		durable:   src.Durable != codec.DurabilityNone || src.ExpiryPolicy == codec.ExpiryNever,
		browse:    src.DistributionMode == codec.DistributionCopy,
		container: l.Conn().ContainerID(),
		link:      l.Name(),
	}
	if !spec.dynamic && spec.address == "" {
		return &codec.Error{Condition: codec.ErrCondInvalidField, Description: "source has no address"}
	}
	filter, err := filtersOf(src.Filter)
	if err != nil {
		return err
	}
	spec.selector = filter.sel
	if filter.noLocal != nil {
		spec.noLocal = l.Conn()
	}
	ol, err := b.openOutLink(spec)
	if err != nil {
		return toAMQPError(err)
	}
	reply := *src
	reply.Address = ol.address
	reply.Capabilities = withKind(src.Capabilities, ol.n.kind)
	reply.Filter = filter.echo // only the filters in force (§3.5.3)
	if ol.n.kind == kindTopic {
		reply.DistributionMode = ""
		if filter.noLocal != nil {
			reply.Filter = append(reply.Filter, *filter.noLocal)
		}
	}
	l.SetSource(&reply)
	b.holdLink(ctx, l, ol)
	b.log.Debug("outgoing link attached", "address", ol.address, "link", l.Name(),
		"durable", spec.durable, "dynamic", spec.dynamic)
	return nil
}

// parsedFilter is what the broker applies of a source's filter set: the
// selector, with the entry to echo back, and the no-local entry, echoed
// only where it is in force (a topic).
type parsedFilter struct {
	sel     *Selector
	echo    codec.Map
	noLocal *codec.MapEntry
}

// filtersOf finds a JMS selector and the JMS no-local filter among the
// filters of a source. Other filter types are ignored (and not echoed,
// telling the peer they are not in force).
func filtersOf(f codec.Map) (parsedFilter, error) {
	var pf parsedFilter
	for i, e := range f {
		d, ok := e.Value.(codec.Described)
		if !ok {
			continue
		}
		switch d.Descriptor {
		case noLocalFilterCode, noLocalFilterSymbol:
			pf.noLocal = &f[i]
			continue
		case selectorFilterCode, selectorFilterSymbol:
		default:
			continue
		}
		text, ok := d.Value.(string)
		if !ok {
			return pf, &codec.Error{Condition: codec.ErrCondInvalidField, Description: "selector filter value is not a string"}
		}
		sel, err := ParseSelector(text)
		if err != nil {
			return pf, &codec.Error{Condition: codec.ErrCondInvalidField, Description: err.Error()}
		}
		pf.sel = sel
		pf.echo = codec.Map{e}
	}
	return pf, nil
}

// kindOf reads the node kind from terminus capabilities.
func kindOf(caps []codec.Symbol) nodeKind {
	for _, c := range caps {
		switch c {
		case "queue":
			return kindQueue
		case "topic":
			return kindTopic
		}
	}
	return kindUnset
}

// withKind returns caps with the queue/topic capability set to the node's
// real kind.
func withKind(caps []codec.Symbol, k nodeKind) []codec.Symbol {
	out := slices.DeleteFunc(slices.Clone(caps), func(c codec.Symbol) bool {
		return c == "queue" || c == "topic"
	})
	return append(out, codec.Symbol(k.capability()))
}

// toAMQPError maps broker errors to the AMQP conditions peers see.
func toAMQPError(err error) *codec.Error {
	var ce *codec.Error
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, errFull):
		return &codec.Error{Condition: codec.ErrCondResourceLimitExceeded, Description: "node is full"}
	case errors.Is(err, errTooLarge), errors.Is(err, errTooManyNodes), errors.Is(err, errBrokerFull),
		errors.Is(err, errTxnFull), errors.Is(err, errTooManyTxns):
		return &codec.Error{Condition: codec.ErrCondResourceLimitExceeded, Description: err.Error()}
	case errors.Is(err, errTxnUnknown):
		return &codec.Error{Condition: codec.ErrCondTransactionUnknownID, Description: err.Error()}
	case errors.Is(err, errDeleted):
		return &codec.Error{Condition: codec.ErrCondNotFound, Description: "node was deleted"}
	case errors.Is(err, ErrClosed):
		return &codec.Error{Condition: codec.ErrCondNotFound, Description: "broker is closed"}
	}
	return &codec.Error{Condition: codec.ErrCondInternalError, Description: err.Error()}
}

// ServeReceiver stores each message the peer sends. Unsettled transfers
// are settled accepted once stored, or rejected with the reason they could
// not be (amqp:resource-limit-exceeded when the node, or the broker, is
// full). A link to the transaction coordinator is served by
// serveCoordinator.
func (h *handler) ServeReceiver(ctx context.Context, r *server.Receiver) {
	b := (*Broker)(h)
	switch st := takeLink(r.Link()).(type) {
	case *inLink:
		b.serveIncoming(ctx, r, st)
	case *coordLink:
		b.serveCoordinator(ctx, r, st)
	}
}

// errKicked interrupts an incoming link's wait: a discharge waits for it.
var errKicked = errors.New("broker: flush requested")

func kicked() error { return errKicked }

// noWait is a context that has ended: Receive with it takes a delivery
// already queued, and does not wait for one.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (b *Broker) serveIncoming(ctx context.Context, r *server.Receiver, in *inLink) {
	conn := r.Link().Conn()
	defer b.leaveConn(conn, in, nil) // joined at attach
	defer in.end()
	for {
		d, err := engine.ReceiveUntil(ctx, r, in.kick, kicked)
		if errors.Is(err, errKicked) {
			in.drain(func() bool {
				d, _ := r.Receive(noWait)
				if d != nil {
					b.receive(conn, in, d)
				}
				return d != nil
			})
			continue
		}
		if err != nil {
			return
		}
		b.receive(conn, in, d)
	}
}

// receive stores one message and settles it.
func (b *Broker) receive(conn *server.Conn, in *inLink, d *server.IncomingDelivery) {
	if ts, ok := engine.TransferState(d).(*codec.TransactionalState); ok {
		b.receiveInTxn(conn, in, d, ts)
		return
	}
	err := b.store(in, d)
	if d.Settled() {
		if err != nil {
			b.log.Debug("pre-settled message dropped", "error", err)
		}
		return
	}
	if err != nil {
		_ = d.Reject(toAMQPError(err))
	} else {
		_ = d.Accept()
	}
}

// receiveInTxn puts a message sent in a transaction (§4.4.1) aside in it:
// settled with the transactional state and accepted, it reaches its node
// at commit. A transaction the connection does not have rejects it with
// amqp:transaction:unknown-id; one that cannot take it rejects it (in
// the transactional state) and will not commit.
func (b *Broker) receiveInTxn(conn *server.Conn, in *inLink, d *server.IncomingDelivery, ts *codec.TransactionalState) {
	t := b.lookupTxn(ts.TxnID, conn)
	var err error
	if t == nil {
		err = errTxnUnknown
	} else {
		w := newWireMessage(d.Payload())
		w.origin = in.origin
		var n *node
		if n, err = b.target(in, w); err != nil {
			t.fail(err)
		} else {
			err = t.post(n, &w.message, b.lim)
		}
	}
	if d.Settled() {
		if err != nil {
			b.log.Debug("pre-settled transactional message dropped", "error", err)
		}
		return
	}
	switch {
	case errors.Is(err, errTxnUnknown):
		_ = d.Settle(unknownTxn(ts.TxnID))
	case err != nil:
		_ = d.Settle(&codec.TransactionalState{TxnID: t.id, Outcome: &codec.Rejected{Error: toAMQPError(err)}})
	default:
		_ = d.Settle(&codec.TransactionalState{TxnID: t.id, Outcome: &codec.Accepted{}})
	}
}

func (b *Broker) store(in *inLink, d *server.IncomingDelivery) error {
	// The server reads a single-frame payload into a slice of its own,
	// of exactly its length: keep it as is.
	w := newWireMessage(d.Payload())
	w.origin = in.origin
	m := &w.message
	if in.n != nil {
		return in.n.publish(m)
	}
	to, err := relayAddress(w)
	if err != nil {
		return err
	}
	return b.publishTo(to, m)
}

// target is the node a message goes to: the link's, or on an anonymous
// relay the one its "to" names (created if need be).
func (b *Broker) target(in *inLink, w *wireMessage) (*node, error) {
	if in.n != nil {
		return in.n, nil
	}
	to, err := relayAddress(w)
	if err != nil {
		return nil, err
	}
	return b.node(to, kindUnset)
}

// relayAddress is the "to" of a message on an anonymous-relay link
// (§3.2.4), which routes by it.
func relayAddress(w *wireMessage) (string, error) {
	dm, err := w.decoded()
	if err != nil {
		return "", &codec.Error{Condition: codec.ErrCondDecodeError, Description: err.Error()}
	}
	if dm.Properties == nil || dm.Properties.To == nil || *dm.Properties.To == "" {
		return "", &codec.Error{Condition: codec.ErrCondInvalidField, Description: "message on an anonymous link has no \"to\" address"}
	}
	return *dm.Properties.To, nil
}

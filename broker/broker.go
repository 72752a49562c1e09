package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/amqgo/amq/server"
)

// ErrClosed is returned by operations on a closed Broker.
var ErrClosed = errors.New("broker: closed")

// Broker is an in-memory AMQP 1.0 broker: its nodes, their messages and its
// durable subscriptions. It is safe for concurrent use. Serve it with
// Listen, or hand Handler to a server of your own.
type Broker struct {
	opts Options
	lim  limits
	log  *slog.Logger
	id   string // prefix of dynamic node addresses

	// mu guards the registries below. Links resolve their node once, at
	// attach, so mu is never taken per message.
	mu      sync.RWMutex
	nodes   map[string]*node
	durable map[string]*subscription
	closed  bool

	dynSeq atomic.Uint64

	// Transactions (txn.go, coordinator.go): txMu guards txns, the open
	// transactions by id, and conns, the serving links of each connection
	// that may carry transactional work. Taken per transactional message,
	// never per plain one.
	txMu   sync.RWMutex
	txns   map[string]*txn
	conns  map[*server.Conn]*connLinks
	txnSeq atomic.Uint64

	lnMu sync.Mutex
	srv  *server.Server // set by Listen
}

var brokerSeq atomic.Uint64

// New returns a broker with no nodes. opts may be nil.
func New(opts *Options) *Broker {
	o, lim := opts.resolve()
	return &Broker{
		opts:    o,
		lim:     lim,
		log:     o.Logger,
		id:      "amq.tmp." + strconv.FormatUint(brokerSeq.Add(1), 10),
		nodes:   make(map[string]*node),
		durable: make(map[string]*subscription),
		txns:    make(map[string]*txn),
		conns:   make(map[*server.Conn]*connLinks),
	}
}

// QueueDepth returns the number of messages waiting on the node at address
// (not counting those sent to a consumer and not yet settled, counting
// those a consumer's link has not sent yet); for a topic, the sum over its
// subscriptions. Messages sent in a transaction count from its commit on,
// and those a consumer settled in one are not waiting until its rollback.
// It is 0 for a node that does not exist.
func (b *Broker) QueueDepth(address string) int {
	name, _ := splitAddress(address)
	b.mu.RLock()
	n := b.nodes[name]
	b.mu.RUnlock()
	if n == nil {
		return 0
	}
	return n.depth()
}

// Close stops the listener started by Listen, if any, then deletes every
// node, dropping their messages and detaching their links. It is safe to
// call more than once.
func (b *Broker) Close() error {
	err := b.stopListener()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return err
	}
	b.closed = true
	nodes := b.nodes
	b.nodes = map[string]*node{}
	b.durable = map[string]*subscription{}
	b.mu.Unlock()
	for _, n := range nodes {
		n.delete()
	}
	return err
}

// node returns the node for address, creating it with kind when it does not
// exist. An existing node keeps its kind.
func (b *Broker) node(address string, kind nodeKind) (*node, error) {
	name, k := splitAddress(address)
	if k != kindUnset {
		kind = k
	}
	if name == "" {
		return nil, fmt.Errorf("broker: empty address")
	}
	b.mu.RLock()
	n, closed := b.nodes[name], b.closed
	b.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if n != nil {
		return n, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if n = b.nodes[name]; n == nil {
		if b.lim.maxNodes >= 0 && len(b.nodes) >= b.lim.maxNodes {
			return nil, errTooManyNodes
		}
		n = newNode(name, kind, b.lim)
		b.nodes[name] = n
		b.log.Debug("node created", "address", name, "kind", n.kind.capability())
	}
	return n, nil
}

// dynamicNode creates a temporary queue with a fresh address (§3.5.3
// dynamic).
func (b *Broker) dynamicNode() (*node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.lim.maxNodes >= 0 && len(b.nodes) >= b.lim.maxNodes {
		return nil, errTooManyNodes
	}
	for {
		name := b.id + "." + strconv.FormatUint(b.dynSeq.Add(1), 10)
		if b.nodes[name] != nil {
			continue
		}
		n := newNode(name, kindQueue, b.lim)
		n.dynamic = true
		b.nodes[name] = n
		return n, nil
	}
}

// deleteNode removes n from the registry and deletes it.
func (b *Broker) deleteNode(n *node) {
	b.mu.Lock()
	if b.nodes[n.name] == n {
		delete(b.nodes, n.name)
	}
	b.mu.Unlock()
	n.delete()
}

// publish stores m on the node at address, creating a queue if needed: the
// path of messages sent on an anonymous-relay link, addressed by their "to".
func (b *Broker) publishTo(address string, m *message) error {
	n, err := b.node(address, kindUnset)
	if err != nil {
		return err
	}
	return n.publish(m)
}

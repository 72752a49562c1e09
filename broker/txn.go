package broker

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// Local transactions (AMQP 1.0 chapter 4). A transaction is declared on a
// link to the coordinator (coordinator.go) and belongs to that link's
// connection: its work comes from any link of that connection, and is of
// two kinds. A transactional transfer into a node (posting, §4.4.1) puts
// the message aside in the transaction, in no queue. A transactional
// outcome of a delivery the broker sent (retirement, §4.4.2) takes the
// item from its consumer into the transaction: still held by its queue,
// not waiting, so that nobody else gets it. The discharge then applies all
// of it, under the lock of every queue it touches at once, so that
// consumers see the whole commit or nothing of it; or rolls it back: the
// posted messages are dropped, the retired items redelivered.

var (
	// errTxnUnknown: no open transaction of the connection has that id
	// (never declared, discharged, or another connection's).
	errTxnUnknown = errors.New("broker: unknown transaction")
	// errTxnFull: the transaction holds as many messages or bytes as a
	// node may.
	errTxnFull = errors.New("broker: transaction is full")
	// errTooManyTxns: the connection has Options.MaxTransactions open.
	errTooManyTxns = errors.New("broker: too many open transactions on the connection")
)

// txn is one open transaction.
type txn struct {
	id    []byte
	conn  *server.Conn
	owner *coordLink // its end rolls the transaction back

	mu      sync.Mutex
	done    bool  // discharged: it takes no more work
	failed  error // the first work refused: a commit then rolls back
	sends   []txnSend
	bytes   int64   // of sends' messages (the node bound MaxQueueBytes)
	charged int64   // of sends, reserved from total (message.charge)
	total   *budget // the broker's (Options.MaxTotalBytes)
	acks    []txnAck
}

// txnSend is a message posted in a transaction, and its node.
type txnSend struct {
	n *node
	m *message
}

// txnAck is a delivered item retired in a transaction, with the outcome
// that applies at commit.
type txnAck struct {
	q    *queue
	it   *item
	o    outcome
	link string // the consumer's, for undeliverable-here
}

// declare opens a transaction owned by co, within the connection's bound.
func (b *Broker) declare(co *coordLink) (*txn, error) {
	b.txMu.Lock()
	defer b.txMu.Unlock()
	cl := b.conns[co.conn]
	if cl == nil {
		// Only a coordinator that has stopped serving is not registered.
		return nil, errors.New("broker: the coordinator link has ended")
	}
	if b.lim.maxTxns >= 0 && cl.open >= b.lim.maxTxns {
		return nil, errTooManyTxns
	}
	// A counter is unique within the broker; it need not be secret, since
	// a transaction answers only to its own connection.
	t := &txn{id: binary.BigEndian.AppendUint64(nil, b.txnSeq.Add(1)), conn: co.conn, owner: co}
	b.txns[string(t.id)] = t
	co.txns[string(t.id)] = t
	cl.open++
	return t, nil
}

// lookupTxn returns the open transaction id of conn, or nil.
func (b *Broker) lookupTxn(id []byte, conn *server.Conn) *txn {
	b.txMu.RLock()
	t := b.txns[string(id)]
	b.txMu.RUnlock()
	if t == nil || t.conn != conn {
		return nil
	}
	return t
}

// takeTxn removes the open transaction id of conn from the registry, for
// its discharge, and returns it (nil when there is none).
func (b *Broker) takeTxn(id []byte, conn *server.Conn) *txn {
	b.txMu.Lock()
	defer b.txMu.Unlock()
	t := b.txns[string(id)]
	if t == nil || t.conn != conn {
		return nil
	}
	b.forgetTxnLocked(t)
	return t
}

func (b *Broker) forgetTxnLocked(t *txn) {
	delete(b.txns, string(t.id))
	delete(t.owner.txns, string(t.id))
	if cl := b.conns[t.conn]; cl != nil {
		cl.open--
	}
}

// post puts m, sent to n, in the transaction. A message the transaction
// cannot take is refused, and makes the transaction fail at commit: the
// controller must not commit a part of what it meant.
func (t *txn) post(n *node, m *message, lim limits) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errTxnUnknown
	}
	size := m.size()
	var err error
	switch {
	case lim.maxBytes >= 0 && size > lim.maxBytes:
		err = errTooLarge
	case lim.maxMsgs >= 0 && len(t.sends) >= lim.maxMsgs,
		lim.maxBytes >= 0 && t.bytes+size > lim.maxBytes:
		err = fmt.Errorf("%w: it holds %d messages of %d bytes, and takes at most %d of %d",
			errTxnFull, len(t.sends), t.bytes, lim.maxMsgs, lim.maxBytes)
	}
	if err == nil {
		t.total = lim.total
		err = t.total.reserve(m.charge())
	}
	if err != nil {
		t.failLocked(err)
		return err
	}
	t.sends = append(t.sends, txnSend{n, m})
	t.bytes += size
	t.charged += m.charge()
	return nil
}

// fail marks the transaction rollback-only, keeping the first reason.
func (t *txn) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failLocked(err)
}

func (t *txn) failLocked(err error) {
	if t.failed == nil && !t.done {
		t.failed = err
	}
}

// end closes the transaction to new work and hands over what it holds.
// The bytes its sends reserved from the broker's budget are given back:
// a commit reserves again for the copies it puts.
func (t *txn) end() (sends []txnSend, acks []txnAck, failed error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	sends, acks, failed = t.sends, t.acks, t.failed
	t.sends, t.acks = nil, nil
	t.total.release(t.charged)
	t.bytes, t.charged = 0, 0
	return sends, acks, failed
}

// enlist applies a transactional outcome of a delivery c sent: the item
// leaves the consumer (a detach no longer requeues it) for the
// transaction. An outcome in a transaction the connection does not have
// (never declared, or already discharged) counts as one rolled back: the
// item is redelivered with its delivery-count raised. The peer settled
// the delivery, so there is no one to tell.
func (b *Broker) enlist(conn *server.Conn, c *consumer, it *item, ts *codec.TransactionalState) {
	if it.browsed {
		return
	}
	o := outcomeOf(ts.Outcome)
	if _, nested := ts.Outcome.(*codec.TransactionalState); nested {
		o = outcome{kind: outcomeReleased}
	}
	if t := b.lookupTxn(ts.TxnID, conn); t != nil {
		t.mu.Lock()
		if !t.done {
			q := c.q
			q.mu.Lock()
			if _, ok := c.inflight[it]; ok {
				delete(c.inflight, it)
				t.acks = append(t.acks, txnAck{q: q, it: it, o: o, link: c.link})
			}
			q.mu.Unlock()
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
	}
	c.settle(it, rolledBack)
}

// rolledBack is what a rollback does to a retired item: it was delivered,
// and the attempt failed (as a released item's would not have).
var rolledBack = outcome{kind: outcomeModified, deliveryFailed: true}

// rollback undoes a transaction's work: the posted messages are dropped,
// the retired items go back to their queues for redelivery.
func rollback(acks []txnAck) {
	for _, a := range acks {
		a.q.mu.Lock()
		a.q.applyLocked(a.it, rolledBack, a.link)
		a.q.mu.Unlock()
	}
}

// commit applies a transaction's work, all of it or, when some queue has
// no room for its part, none (the caller then rolls it back). The locks
// of every topic and queue involved are held together, taken in lockSeq
// order, topics first as node.publish does: consumers and QueueDepth see
// the state before the commit or after it, never a part of it. The
// broker's budget (Options.MaxTotalBytes) must have room for what the
// commit puts, less what it retires.
func commit(sends []txnSend, acks []txnAck) error {
	var (
		topics []*node
		seen   map[*node]bool
	)
	for _, s := range sends {
		if s.n.kind == kindTopic && !seen[s.n] {
			if seen == nil {
				seen = make(map[*node]bool)
			}
			seen[s.n] = true
			topics = append(topics, s.n)
		}
	}
	slices.SortFunc(topics, func(a, b *node) int { return cmp.Compare(a.id, b.id) })
	for _, n := range topics {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.deleted {
			return fmt.Errorf("topic %q: %w", n.name, errDeleted)
		}
	}

	// Where each message goes: its queue, or every matching subscription
	// of its topic (chosen now, as a publish at this moment would).
	type put struct {
		q     *queue
		m     *message
		topic bool // a subscription's copy: skipped if it has just ended
	}
	puts := make([]put, 0, len(sends))
	for _, s := range sends {
		if s.n.kind != kindTopic {
			puts = append(puts, put{q: s.n.q, m: s.m})
			continue
		}
		for _, sub := range s.n.subs {
			if sub.takes(s.m) {
				puts = append(puts, put{q: sub.q, m: s.m, topic: true})
			}
		}
	}
	// The change in each queue's held messages and bytes: what is put,
	// less what accepted or rejected outcomes take away.
	type delta struct {
		msgs, adds int
		bytes      int64
		queueNode  bool // a queue node's own: a deleted one fails the commit
	}
	deltas := make(map[*queue]*delta)
	get := func(q *queue) *delta {
		d := deltas[q]
		if d == nil {
			d = &delta{}
			deltas[q] = d
		}
		return d
	}
	for _, p := range puts {
		d := get(p.q)
		d.msgs++
		d.adds++
		d.bytes += p.m.size()
		d.queueNode = d.queueNode || !p.topic
	}
	var freed int64 // by accepts and rejects, from the broker's budget
	for _, a := range acks {
		d := get(a.q)
		if a.o.kind == outcomeAccepted || a.o.kind == outcomeRejected {
			d.msgs--
			d.bytes -= a.it.m.size()
			freed += a.it.m.charge()
		}
	}
	queues := make([]*queue, 0, len(deltas))
	for q := range deltas {
		queues = append(queues, q)
	}
	slices.SortFunc(queues, func(a, b *queue) int { return cmp.Compare(a.id, b.id) })
	for _, q := range queues {
		q.mu.Lock()
		defer q.mu.Unlock()
	}
	for _, q := range queues {
		d := deltas[q]
		if d.adds == 0 {
			continue
		}
		if q.deleted {
			if d.queueNode {
				return fmt.Errorf("node %q: %w", q.name, errDeleted)
			}
			continue
		}
		if q.lim.maxMsgs >= 0 && q.held+d.msgs > q.lim.maxMsgs ||
			q.lim.maxBytes >= 0 && q.bytes+d.bytes > q.lim.maxBytes {
			return fmt.Errorf("node %q: %w", q.name, errFull)
		}
	}
	// The broker-wide bound: what the commit puts, less what it retires.
	// (Every node shares the broker's budget.)
	var adds int64
	for _, p := range puts {
		if !p.q.deleted {
			adds += p.m.charge()
		}
	}
	if adds > 0 {
		if err := sends[0].n.total.reserveNet(adds, freed); err != nil {
			return err
		}
	}

	// Everything fits: apply.
	for _, a := range acks {
		a.q.applyLocked(a.it, a.o, a.link)
	}
	for _, p := range puts {
		if !p.q.deleted {
			p.q.appendLocked(p.m)
		}
	}
	for _, q := range queues {
		if deltas[q].adds > 0 {
			q.scanAll = true // more than the newest item is new
			q.dispatchLocked()
		}
	}
	return nil
}

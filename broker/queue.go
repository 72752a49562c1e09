package broker

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
)

var (
	// errFull: the node is at its bound (amqp:resource-limit-exceeded).
	errFull = errors.New("broker: node is full")
	// errDeleted: the node was deleted (a dynamic node whose link closed, or
	// the broker closed).
	errDeleted = errors.New("broker: node deleted")
	// errTooLarge: one message is larger than the node's byte bound.
	errTooLarge = errors.New("broker: message larger than the node's byte bound")
	// errTooManyNodes: creating a node would exceed Options.MaxNodes.
	errTooManyNodes = errors.New("broker: too many nodes")
	// errBrokerFull: the messages of all nodes are at the broker's bound,
	// Options.MaxTotalBytes (amqp:resource-limit-exceeded, as errFull).
	errBrokerFull = errors.New("broker: the broker holds as many bytes of messages as it may")
)

// budget counts the bytes of the messages the whole broker holds, against
// Options.MaxTotalBytes. A queue reserves a message's bytes before it
// holds it and releases them when it drops it (forgetLocked); a
// transaction reserves what is sent in it until its discharge. Methods on
// a nil budget count nothing.
type budget struct {
	max  int64 // <0: unbounded
	used atomic.Int64
}

func (b *budget) reserve(n int64) error { return b.reserveNet(n, 0) }

// reserveNet reserves add bytes if the count, less free bytes the caller
// is about to release, stays within the bound. (A commit adds messages
// and drops those its accepts retire.)
func (b *budget) reserveNet(add, free int64) error {
	if b == nil {
		return nil
	}
	for {
		u := b.used.Load()
		if b.max >= 0 && add > free && u+add-free > b.max {
			return errBrokerFull
		}
		if b.used.CompareAndSwap(u, u+add) {
			return nil
		}
	}
}

func (b *budget) release(n int64) {
	if b != nil {
		b.used.Add(-n)
	}
}

// queue is an ordered buffer of items with competing consumers. It backs a
// queue node, each subscription of a topic node, and each dynamic node.
//
// Everything in it is guarded by mu, one lock per queue: unrelated queues
// never contend.
type queue struct {
	mu   sync.Mutex
	id   uint64 // lock order, for a commit that holds several queues
	name string
	lim  limits

	items []*item // waiting items are items[head:], sorted by seq
	head  int
	seq   uint64

	held  int   // waiting + delivered-unsettled (what the bounds count)
	bytes int64 // bytes of the held items

	consumers []*consumer
	rr        int // next consumer to consider, for round-robin

	// scanAll says the next dispatch must consider every waiting item, not
	// just the newest: some event (credit, a new consumer, a requeue) may
	// have made an item that nobody could take takeable.
	scanAll bool
	deleted bool
}

// lockSeq numbers queues and nodes: a commit that locks several takes
// them in this order, so that two commits cannot deadlock.
var lockSeq atomic.Uint64

func newQueue(name string, lim limits) *queue {
	return &queue{id: lockSeq.Add(1), name: name, lim: lim}
}

// depth is the number of messages waiting (not delivered): on the queue,
// or handed to a consumer's inbox ahead of its link sending them. The
// inbox counts because an item there can still go back: a consumer whose
// credit the peer revoked (go-amqp's drain asks with credit 0, and the
// server answers it at once) returns it when its link goroutine notices.
func (q *queue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items) - q.head
	for _, c := range q.consumers {
		for _, it := range c.inbox {
			if !it.browsed {
				n++
			}
		}
	}
	return n
}

// roomLocked reports whether one more message of size bytes fits.
func (q *queue) roomLocked(size int64) error {
	if q.deleted {
		return errDeleted
	}
	if q.lim.maxBytes >= 0 && size > q.lim.maxBytes {
		return errTooLarge
	}
	if q.lim.maxMsgs >= 0 && q.held+1 > q.lim.maxMsgs {
		return errFull
	}
	if q.lim.maxBytes >= 0 && q.bytes+size > q.lim.maxBytes {
		return errFull
	}
	return nil
}

func (q *queue) room(size int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.roomLocked(size)
}

// publish appends a copy of m, or refuses it when the queue or the broker
// is at its bound.
func (q *queue) publish(m *message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.roomLocked(m.size()); err != nil {
		return err
	}
	if err := q.lim.total.reserve(m.charge()); err != nil {
		return err
	}
	q.appendLocked(m)
	q.dispatchLocked()
	return nil
}

// publishReserved appends a copy of m whose room the caller checked and
// whose bytes it reserved from the broker's budget, unless the queue was
// deleted meanwhile: the reservation is then given back.
func (q *queue) publishReserved(m *message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted {
		q.lim.total.release(m.charge())
		return
	}
	q.appendLocked(m)
	q.dispatchLocked()
}

// appendLocked adds a copy of m at the tail, room permitting or not: the
// caller checked, and reserved its bytes from the broker's budget. A
// dispatch after appending more than one item must look at them all
// (scanAll).
func (q *queue) appendLocked(m *message) {
	q.seq++
	q.held++
	q.bytes += m.size()
	q.items = append(q.items, &item{m: m, seq: q.seq})
}

// forget drops a held item for good (accepted, rejected, or dropped).
func (q *queue) forgetLocked(it *item) {
	q.held--
	q.bytes -= it.m.size()
	q.lim.total.release(it.m.charge())
}

// requeueLocked puts a delivered item back among the waiting ones, at the
// place its seq gives it: the head, for an item older than all waiting ones.
func (q *queue) requeueLocked(it *item) {
	if q.deleted {
		q.forgetLocked(it)
		return
	}
	w := q.items[q.head:]
	i := sort.Search(len(w), func(i int) bool { return w[i].seq > it.seq })
	if i == 0 && q.head > 0 {
		q.head--
		q.items[q.head] = it
	} else {
		at := q.head + i
		q.items = append(q.items, nil)
		copy(q.items[at+1:], q.items[at:])
		q.items[at] = it
	}
	q.scanAll = true
}

// removeAtLocked removes the waiting item at absolute index i. It never
// moves the items before i, so a scan going forward stays valid.
func (q *queue) removeAtLocked(i int) {
	if i == q.head {
		q.items[i] = nil
		q.head++
		return
	}
	copy(q.items[i:], q.items[i+1:])
	q.items[len(q.items)-1] = nil
	q.items = q.items[:len(q.items)-1]
}

// compactLocked reclaims the consumed prefix once it is the larger half.
func (q *queue) compactLocked() {
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
		return
	}
	if q.head > 32 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
}

// dispatchLocked hands waiting items to consumers with room for them:
// browsers get copies, competing consumers take items round-robin.
func (q *queue) dispatchLocked() {
	if len(q.consumers) == 0 || q.head == len(q.items) {
		q.scanAll = false
		return
	}
	for _, c := range q.consumers {
		if c.browse && c.want > 0 {
			q.browseLocked(c)
		}
	}
	from := len(q.items) - 1
	if q.scanAll {
		from = q.head
		q.scanAll = false
	}
	defer q.compactLocked()
	for i := from; i < len(q.items); {
		it := q.items[i]
		c := q.pickLocked(it)
		if c == nil {
			if !q.anyWantingLocked() {
				return
			}
			i++
			continue
		}
		wasHead := i == q.head
		q.removeAtLocked(i)
		if wasHead {
			i = q.head
		}
		c.giveLocked(it)
	}
}

// pickLocked chooses, round-robin, a competing consumer that wants an item
// and may take it.
func (q *queue) pickLocked(it *item) *consumer {
	n := len(q.consumers)
	for k := 0; k < n; k++ {
		j := (q.rr + k) % n
		c := q.consumers[j]
		if c.browse || c.want <= 0 || !c.accepts(it) {
			continue
		}
		q.rr = (j + 1) % n
		return c
	}
	return nil
}

func (q *queue) anyWantingLocked() bool {
	for _, c := range q.consumers {
		if !c.browse && c.want > 0 {
			return true
		}
	}
	return false
}

// browseLocked gives browser c copies of the waiting items after its cursor.
func (q *queue) browseLocked(c *consumer) {
	w := q.items[q.head:]
	i := sort.Search(len(w), func(i int) bool { return w[i].seq > c.cursor })
	for ; i < len(w) && c.want > 0; i++ {
		it := w[i]
		c.cursor = it.seq
		if !c.accepts(it) {
			continue
		}
		cp := *it
		cp.browsed = true
		if ann := it.annotations(); ann != nil {
			cp.x = &itemExtra{annotations: ann}
		} else {
			cp.x = nil
		}
		c.giveLocked(&cp)
	}
}

// deleteQueue drops every item it holds, waiting or delivered, and ends
// every consumer. A delivered item settled later is not there to settle;
// one a transaction has retired is dropped at its discharge (requeueLocked
// of a deleted queue).
func (q *queue) deleteQueue() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deleted = true
	for _, it := range q.items[q.head:] {
		q.forgetLocked(it)
	}
	q.items, q.head = nil, 0
	for _, c := range q.consumers {
		for _, it := range c.inbox {
			if !it.browsed {
				q.forgetLocked(it)
			}
		}
		for it := range c.inflight {
			q.forgetLocked(it)
		}
		c.inbox = nil
		clear(c.inflight)
		c.endLocked()
	}
	q.consumers = nil
}

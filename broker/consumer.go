package broker

import (
	"context"
	"errors"
	"maps"
)

// errDetached: the consumer was detached or its queue deleted.
var errDetached = errors.New("broker: consumer detached")

// consumer is one outgoing link reading a queue. The glue's per-link
// goroutine calls next in a loop and settle as outcomes arrive; the queue
// pushes items into inbox under its lock, so a hand-off costs one lock and
// at most one channel signal, never a goroutine.
type consumer struct {
	q      *queue
	link   string    // link identity, for undeliverable-here
	sel    *Selector // nil: every message
	browse bool      // distribution-mode copy: read without consuming
	cursor uint64    // browse: seq of the last item seen

	// Guarded by q.mu.
	want     int                // items it may still be given
	inbox    []*item            // given, not yet taken by next
	inflight map[*item]struct{} // taken by next, not yet settled
	ended    bool

	signal chan struct{} // cap 1: inbox became non-empty
	done   chan struct{} // closed when ended
}

// attach adds a consumer to q. link identifies the link (for
// undeliverable-here); sel may be nil.
func (q *queue) attach(link string, sel *Selector, browse bool) (*consumer, error) {
	c := &consumer{
		q:        q,
		link:     link,
		sel:      sel,
		browse:   browse,
		inflight: make(map[*item]struct{}),
		signal:   make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted {
		return nil, errDeleted
	}
	q.consumers = append(q.consumers, c)
	return c, nil
}

func (c *consumer) accepts(it *item) bool {
	if it.isExcluded(c.link) {
		return false
	}
	return c.sel == nil || c.sel.match(it.m.p)
}

func (c *consumer) giveLocked(it *item) {
	c.inbox = append(c.inbox, it)
	c.want--
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// setCreditLocked records that the link has credit for this many more
// deliveries. Items given beyond it go back to the queue.
func (c *consumer) setCreditLocked(credit int) {
	w := credit - len(c.inbox)
	if w < 0 {
		for i, it := range c.inbox[credit:] {
			if !it.browsed {
				c.q.requeueLocked(it)
			} else if i == 0 {
				c.cursor = it.seq - 1 // browse these again later
			}
		}
		clear(c.inbox[credit:])
		c.inbox = c.inbox[:credit]
		w = 0
	}
	grew := w > c.want
	c.want = w
	if grew || c.q.scanAll {
		c.q.scanAll = true
		c.q.dispatchLocked()
	}
}

// setCredit is setCreditLocked for callers outside the lock, such as the
// glue when a drain completes.
func (c *consumer) setCredit(credit int) {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	if !c.ended {
		c.setCreditLocked(max(credit, 0))
	}
}

// poll returns the next item if one can be had at once with the given link
// credit, nil otherwise.
func (c *consumer) poll(credit int) (*item, error) {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	if c.ended {
		return nil, errDetached
	}
	c.setCreditLocked(max(credit, 0))
	return c.takeLocked(), nil
}

func (c *consumer) takeLocked() *item {
	if len(c.inbox) == 0 {
		return nil
	}
	it := c.inbox[0]
	c.inbox[0] = nil
	c.inbox = c.inbox[1:]
	if len(c.inbox) == 0 {
		c.inbox = nil // let the backing array go; append starts afresh
	}
	if !it.browsed {
		c.inflight[it] = struct{}{}
	}
	return it
}

// next waits for the next item the link may send with the given credit
// (which must be positive), and counts it as delivered-unsettled until
// settle. It returns nil, nil when wake fires first (the glue passes the
// link's flow notifications, to notice drain requests), errDetached once the
// consumer is detached or its queue deleted, and ctx.Err() when ctx ends.
func (c *consumer) next(ctx context.Context, credit int, wake <-chan struct{}) (*item, error) {
	for {
		it, err := c.poll(credit)
		if it != nil || err != nil {
			return it, err
		}
		select {
		case <-c.signal:
		case <-c.done:
		case <-wake:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// outcomeKind is the terminal delivery state a receiver chose (§3.4).
type outcomeKind int

const (
	outcomeAccepted outcomeKind = iota
	outcomeRejected
	outcomeReleased
	outcomeModified
)

// outcome is a receiver's settlement of one delivery.
type outcome struct {
	kind              outcomeKind
	deliveryFailed    bool           // modified: raise delivery-count
	undeliverableHere bool           // modified: not to this link again
	annotations       map[string]any // modified: merged into message-annotations
}

// settle applies a receiver's outcome to an item next returned. Settling an
// item twice, or after the consumer was detached, does nothing: the item
// was already requeued.
func (c *consumer) settle(it *item, o outcome) {
	if it.browsed {
		return
	}
	q := c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	c.settleLocked(it, o)
}

// settlement is one outcome for settleAll.
type settlement struct {
	it *item
	o  outcome
}

// settleAll is settle for a batch of outcomes, under one lock.
func (c *consumer) settleAll(batch []settlement) {
	if len(batch) == 0 {
		return
	}
	q := c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range batch {
		if !s.it.browsed {
			c.settleLocked(s.it, s.o)
		}
	}
}

func (c *consumer) settleLocked(it *item, o outcome) {
	if _, ok := c.inflight[it]; !ok {
		return
	}
	delete(c.inflight, it)
	c.q.applyLocked(it, o, c.link)
}

// applyLocked gives a delivered item the fate its outcome says: gone for
// good, or back among the waiting ones. link is the link it was delivered
// on (for undeliverable-here). It is the end of a settlement, and of a
// transactional one at commit.
func (q *queue) applyLocked(it *item, o outcome, link string) {
	switch o.kind {
	case outcomeReleased:
		// §3.4.4: released does not count as a failed delivery attempt.
		q.requeueLocked(it)
		q.dispatchLocked()
	case outcomeModified:
		if o.deliveryFailed {
			it.deliveryCount++
		}
		if o.undeliverableHere {
			x := it.extra()
			x.excluded = append(x.excluded, link)
		}
		if len(o.annotations) > 0 {
			x := it.extra()
			if x.annotations == nil {
				x.annotations = make(map[string]any, len(o.annotations))
			}
			maps.Copy(x.annotations, o.annotations)
		}
		q.requeueLocked(it)
		q.dispatchLocked()
	default: // accepted, rejected (no dead-letter queue: dropped)
		q.forgetLocked(it)
	}
}

// detach removes the consumer from its queue. Items it was given but never
// sent go back unchanged; items sent but not settled go back with their
// delivery-count raised, since the receiver may have seen them (§3.2.1).
func (c *consumer) detach() {
	q := c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if c.ended {
		return
	}
	for i, x := range q.consumers {
		if x == c {
			q.consumers = append(q.consumers[:i], q.consumers[i+1:]...)
			if q.rr > i {
				q.rr--
			}
			if q.rr >= len(q.consumers) {
				q.rr = 0
			}
			break
		}
	}
	for it := range c.inflight {
		it.deliveryCount++
		q.requeueLocked(it)
	}
	for _, it := range c.inbox {
		if !it.browsed {
			q.requeueLocked(it)
		}
	}
	c.inflight, c.inbox = nil, nil
	c.endLocked()
	q.scanAll = true
	q.dispatchLocked()
}

// endLocked marks the consumer ended and wakes its goroutine.
func (c *consumer) endLocked() {
	if !c.ended {
		c.ended = true
		c.want = 0
		close(c.done)
	}
}

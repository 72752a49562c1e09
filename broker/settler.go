package broker

import (
	"slices"
	"sync"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// settler applies the peer's outcomes of one link's unsettled deliveries.
// It is one goroutine per link (never one per message, nor a channel per
// message): woken by the link's Settlements signal, it takes the settled
// deliveries from the front of the send order, which is where outcomes
// usually come from, and hands them to the consumer in one batch. The
// link's SettledCount tells it when the peer settled some out of order:
// only then does it look past the oldest delivery still unsettled.
//
// Outcomes in a transaction (§4.4.2) go to the transaction instead of the
// consumer. A discharge waits (flush) until the settler has taken those
// the peer sent before it.
type settler struct {
	b    *Broker
	conn *server.Conn
	c    *consumer
	s    *server.Sender

	mu       sync.Mutex
	pending  []pendingDelivery // send order
	batch    []settlement      // scratch for sweep
	txnBatch []txnSettlement   // scratch for sweep
	taken    uint64            // settled deliveries taken off pending
	added    chan struct{}     // cap 1: pending grew
	flushes  chan flushWait
	quit     chan struct{}
	done     chan struct{}
}

// flushWait is a flush waiting for the settler to have taken target
// settled deliveries.
type flushWait struct {
	target uint64
	done   chan struct{}
}

// txnSettlement is an outcome in a transaction, for settleAll's batch.
type txnSettlement struct {
	it *item
	ts *codec.TransactionalState
}

type pendingDelivery struct {
	d  *server.OutgoingDelivery
	it *item
}

func newSettler(b *Broker, c *consumer, s *server.Sender) *settler {
	return &settler{
		b:       b,
		conn:    s.Link().Conn(),
		c:       c,
		s:       s,
		added:   make(chan struct{}, 1),
		flushes: make(chan flushWait),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

func (st *settler) add(d *server.OutgoingDelivery, it *item) {
	st.mu.Lock()
	st.pending = append(st.pending, pendingDelivery{d, it})
	st.mu.Unlock()
	select {
	case st.added <- struct{}{}:
	default:
	}
}

// stop makes run apply every outcome already known and return. Deliveries
// still without an outcome stay delivered-unsettled in the consumer, whose
// detach requeues them.
func (st *settler) stop() {
	close(st.quit)
	<-st.done
}

func (st *settler) run() {
	defer close(st.done)
	var flushes []flushWait
	for {
		st.sweep(true)
		taken := st.takenCount()
		if st.s.SettledCount() > taken {
			// Settled out of order (or before add): look at them all.
			st.sweep(false)
			taken = st.takenCount()
		}
		if len(flushes) > 0 {
			flushes = slices.DeleteFunc(flushes, func(f flushWait) bool {
				if f.target <= taken {
					close(f.done)
					return true
				}
				return false
			})
		}
		select {
		case <-st.s.Settlements():
		case <-st.added:
		case f := <-st.flushes:
			flushes = append(flushes, f)
		case <-st.quit:
			st.sweep(false)
			return
		}
	}
}

func (st *settler) takenCount() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.taken
}

// sweep applies the outcomes that have arrived. With headOnly it stops at
// the first delivery still waiting (the common in-order case is then
// O(settled), whatever the number pending); otherwise it looks at every
// pending delivery. The outcomes found are applied to the consumer in one
// batch. A delivery lost with its link stays delivered-unsettled, for the
// consumer's detach to requeue. Only run calls it, so the head cannot
// change under run's feet.
func (st *settler) sweep(headOnly bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	batch, txnBatch := st.batch[:0], st.txnBatch[:0]
	take := func(p pendingDelivery) bool {
		state, finished, lost := p.d.Result()
		if !finished {
			return false
		}
		if !lost {
			if ts, ok := state.(*codec.TransactionalState); ok {
				txnBatch = append(txnBatch, txnSettlement{p.it, ts})
			} else {
				batch = append(batch, settlement{p.it, outcomeOf(state)})
			}
			st.taken++
		}
		return true
	}
	if headOnly {
		i := 0
		for i < len(st.pending) && take(st.pending[i]) {
			i++
		}
		clear(st.pending[:i])
		st.pending = st.pending[i:]
	} else {
		keep := st.pending[:0]
		for _, p := range st.pending {
			if !take(p) {
				keep = append(keep, p)
			}
		}
		clear(st.pending[len(keep):])
		st.pending = keep
	}
	st.c.settleAll(batch)
	clear(batch)
	st.batch = batch[:0]
	for _, x := range txnBatch {
		st.b.enlist(st.conn, st.c, x.it, x.ts)
	}
	clear(txnBatch)
	st.txnBatch = txnBatch[:0]
}

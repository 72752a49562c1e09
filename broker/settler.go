package broker

import (
	"sync"

	"github.com/amqgo/amq/server"
)

// settler applies the peer's outcomes of one link's unsettled deliveries.
// It is one goroutine per link (never one per message, nor a channel per
// message): woken by the link's Settlements signal, it takes the settled
// deliveries from the front of the send order, which is where outcomes
// usually come from, and hands them to the consumer in one batch. The
// link's SettledCount tells it when the peer settled some out of order:
// only then does it look past the oldest delivery still unsettled.
type settler struct {
	c *consumer
	s *server.Sender

	mu      sync.Mutex
	pending []pendingDelivery // send order
	batch   []settlement      // scratch for sweep
	taken   uint64            // settled deliveries taken off pending
	added   chan struct{}     // cap 1: pending grew
	quit    chan struct{}
	done    chan struct{}
}

type pendingDelivery struct {
	d  *server.OutgoingDelivery
	it *item
}

func newSettler(c *consumer, s *server.Sender) *settler {
	return &settler{
		c:     c,
		s:     s,
		added: make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
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
	for {
		st.sweep(true)
		if st.s.SettledCount() > st.takenCount() {
			// Settled out of order (or before add): look at them all.
			st.sweep(false)
		}
		select {
		case <-st.s.Settlements():
		case <-st.added:
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
	batch := st.batch[:0]
	take := func(p pendingDelivery) bool {
		state, finished, lost := p.d.Result()
		if !finished {
			return false
		}
		if !lost {
			batch = append(batch, settlement{p.it, outcomeOf(state)})
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
}

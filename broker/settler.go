package broker

import (
	"sync"
	"time"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// sweepDelay is how long the settler waits on the oldest unsettled delivery
// before also looking at the younger ones, which peers may settle out of
// order.
const sweepDelay = 20 * time.Millisecond

// settler applies the peer's outcomes of one link's unsettled deliveries.
// It is one goroutine per link (never one per message): it waits on the
// oldest delivery's outcome, which is where outcomes usually come from,
// and sweeps the others when the oldest is held.
type settler struct {
	c *consumer

	mu      sync.Mutex
	pending []pendingDelivery // send order
	added   chan struct{}     // cap 1: pending grew
	quit    chan struct{}
	done    chan struct{}
}

type pendingDelivery struct {
	d  *server.OutgoingDelivery
	it *item
}

func newSettler(c *consumer) *settler {
	return &settler{
		c:     c,
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
	var timer *time.Timer
	var tick <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		st.mu.Lock()
		var head *pendingDelivery
		if len(st.pending) > 0 {
			head = &st.pending[0]
		}
		many := len(st.pending) > 1
		st.mu.Unlock()
		var oc <-chan codec.DeliveryState
		if head != nil {
			oc = head.d.Outcome()
		}
		if many && tick == nil {
			if timer == nil {
				timer = time.NewTimer(sweepDelay)
			} else {
				timer.Reset(sweepDelay)
			}
			tick = timer.C
		}
		select {
		case state, ok := <-oc:
			st.mu.Lock()
			st.apply(st.pending[0], state, ok)
			st.pending[0] = pendingDelivery{}
			st.pending = st.pending[1:]
			st.mu.Unlock()
			st.sweep(true)
		case <-tick:
			tick = nil
			st.sweep(false)
		case <-st.added:
		case <-st.quit:
			st.sweep(false)
			return
		}
	}
}

// apply hands one outcome to the consumer. ok false means the delivery was
// lost with its link: it stays delivered-unsettled, for detach to requeue.
func (st *settler) apply(p pendingDelivery, state codec.DeliveryState, ok bool) {
	if ok {
		st.c.settle(p.it, outcomeOf(state))
	}
}

// sweep applies the outcomes that have arrived. With headOnly it stops at
// the first delivery still waiting (the common in-order case is then
// O(settled)); otherwise it looks at every pending delivery. Only run calls
// it, so the head cannot change under run's feet.
func (st *settler) sweep(headOnly bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	keep := st.pending[:0]
	for i, p := range st.pending {
		if headOnly && len(keep) > 0 {
			keep = append(keep, st.pending[i:]...)
			break
		}
		select {
		case state, ok := <-p.d.Outcome():
			st.apply(p, state, ok)
		default:
			keep = append(keep, p)
		}
	}
	clear(st.pending[len(keep):])
	st.pending = keep
}

package broker

import (
	"errors"
	"testing"
	"unsafe"
)

// budgeted is limits with only the broker-wide bound, of max bytes.
func budgeted(max int64) limits {
	return limits{maxMsgs: -1, maxBytes: -1, total: &budget{max: max}}
}

// unit is what one held test message (testMsg: 10 bytes) charges the
// broker's budget, bookkeeping included.
var unit = testMsg(0).charge()

func TestBudgetSharedByQueues(t *testing.T) {
	lim := budgeted(2*unit + unit/2)
	q1, q2 := newQueue("q1", lim), newQueue("q2", lim)
	for _, q := range []*queue{q1, q1} {
		if err := q.publish(testMsg(1)); err != nil {
			t.Fatal(err)
		}
	}
	// Each queue is far from a bound of its own; together they are full.
	if err := q2.publish(testMsg(2)); !errors.Is(err, errBrokerFull) {
		t.Fatalf("err = %v, want errBrokerFull", err)
	}
	if err := toAMQPError(errBrokerFull); err.Condition != "amqp:resource-limit-exceeded" {
		t.Fatalf("condition %s", err.Condition)
	}
	// Delivered but unsettled messages still count; settled ones do not.
	c, _ := q1.attach("c", nil, false)
	it := mustPoll(t, c, 1)
	if err := q2.publish(testMsg(2)); !errors.Is(err, errBrokerFull) {
		t.Fatalf("err = %v while unsettled, want errBrokerFull", err)
	}
	c.settle(it, outcome{kind: outcomeReleased})
	if err := q2.publish(testMsg(2)); !errors.Is(err, errBrokerFull) {
		t.Fatalf("err = %v after release, want errBrokerFull", err)
	}
	it = mustPoll(t, c, 1)
	c.settle(it, outcome{kind: outcomeAccepted})
	if err := q2.publish(testMsg(2)); err != nil {
		t.Fatalf("after accept: %v", err)
	}
	if u := lim.total.used.Load(); u != 2*unit {
		t.Fatalf("used %d, want %d", u, 2*unit)
	}
}

func TestBudgetReleasedByDelete(t *testing.T) {
	lim := budgeted(-1) // unbounded still counts
	q := newQueue("q", lim)
	for i := range 4 {
		_ = q.publish(testMsg(i))
	}
	c, _ := q.attach("c", nil, false)
	_ = mustPoll(t, c, 2) // one in flight, one in the inbox
	b, _ := q.attach("browser", nil, true)
	_ = mustPoll(t, b, 4) // browsed copies count nothing
	if u := lim.total.used.Load(); u != 4*unit {
		t.Fatalf("used %d, want %d", u, 4*unit)
	}
	q.deleteQueue()
	if u := lim.total.used.Load(); u != 0 {
		t.Fatalf("used %d after delete, want 0", u)
	}
	c.detach() // nothing left to requeue or count
	if u := lim.total.used.Load(); u != 0 {
		t.Fatalf("used %d after detach, want 0", u)
	}
}

func TestBudgetTopicAllOrNothing(t *testing.T) {
	b := New(&Options{MaxTotalBytes: 2*unit + unit/2})
	defer b.Close()
	for _, l := range []string{"s1", "s2"} {
		if _, err := b.openOutLink(sourceSpec{address: "t", kind: kindTopic, container: "c", link: l}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.publishTo("t", testMsg(1)); err != nil {
		t.Fatal(err)
	}
	// Two more copies would make four units: neither subscription gets one.
	if err := b.publishTo("t", testMsg(2)); !errors.Is(err, errBrokerFull) {
		t.Fatalf("err = %v, want errBrokerFull", err)
	}
	if d := b.QueueDepth("t"); d != 2 {
		t.Fatalf("depth %d, want 2", d)
	}
	if u := b.lim.total.used.Load(); u != 2*unit {
		t.Fatalf("used %d, want %d", u, 2*unit)
	}
	_ = b.Close()
	if u := b.lim.total.used.Load(); u != 0 {
		t.Fatalf("used %d after Close, want 0", u)
	}
}

func TestBudgetTransactions(t *testing.T) {
	b := New(&Options{MaxTotalBytes: 4*unit + unit/2})
	defer b.Close()
	n, err := b.node("q", kindQueue)
	if err != nil {
		t.Fatal(err)
	}
	// What a transaction holds counts from its send on.
	tx := &txn{}
	for i := range 4 {
		if err := tx.post(n, testMsg(i), b.lim); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.publish(testMsg(9)); !errors.Is(err, errBrokerFull) {
		t.Fatalf("plain send beside a transaction of four messages: err = %v, want errBrokerFull", err)
	}
	if err := tx.post(n, testMsg(9), b.lim); !errors.Is(err, errBrokerFull) {
		t.Fatalf("fifth send in the transaction: err = %v, want errBrokerFull", err)
	}
	// A rolled-back transaction gives its bytes back.
	_, _, failed := tx.end()
	if !errors.Is(failed, errBrokerFull) {
		t.Fatalf("failed = %v", failed)
	}
	if u := b.lim.total.used.Load(); u != 0 {
		t.Fatalf("used %d after rollback, want 0", u)
	}

	// A commit puts its messages within the bound, counting the room its
	// own accepts make. (At its discharge a transaction gives back what
	// its sends held, and the commit takes room for them again.)
	tx = &txn{}
	for i := range 3 {
		_ = tx.post(n, testMsg(i), b.lim)
	}
	sends, acks, _ := tx.end()
	if err := commit(sends, acks); err != nil {
		t.Fatal(err)
	}
	c, _ := n.q.attach("c", nil, false)
	it := mustPoll(t, c, 1)
	tx = &txn{}
	if err := tx.post(n, testMsg(3), b.lim); err != nil {
		t.Fatal(err)
	}
	delete(c.inflight, it) // as enlist does
	tx.acks = append(tx.acks, txnAck{q: n.q, it: it, o: outcome{kind: outcomeAccepted}, link: "c"})
	sends, acks, _ = tx.end()
	if err := n.publish(testMsg(4)); err != nil { // 40 bytes held
		t.Fatal(err)
	}
	if err := commit(sends, acks); err != nil {
		t.Fatalf("commit of one message retiring one onto four of 4.5: %v", err)
	}
	if u := b.lim.total.used.Load(); u != 4*unit {
		t.Fatalf("used %d, want %d", u, 4*unit)
	}
	// One that does not fit fails, and changes nothing.
	for range 2 {
		c.settle(mustPoll(t, c, 1), outcome{kind: outcomeAccepted})
	}
	tx = &txn{}
	_ = tx.post(n, testMsg(5), b.lim)
	sends, acks, _ = tx.end()
	if err := n.publish(testMsg(6)); err != nil { // 30 bytes held
		t.Fatal(err)
	}
	if err := n.publish(testMsg(7)); err != nil { // 40
		t.Fatal(err)
	}
	if err := commit(sends, acks); !errors.Is(err, errBrokerFull) {
		t.Fatalf("commit of one message onto four of 4.5: err = %v, want errBrokerFull", err)
	}
	if u, d := b.lim.total.used.Load(), n.depth(); u != 4*unit || d != 4 {
		t.Fatalf("used %d, depth %d after a refused commit, want %d and 4", u, d, 4*unit)
	}
}

// A message the broker holds costs memory beyond its bytes; the budget
// counts it, so that empty messages cannot fill memory unseen. Without the
// overhead, a bound of ten messages' worth would take any number of them.
func TestBudgetCountsEmptyMessages(t *testing.T) {
	lim := budgeted(10 * heldOverhead)
	q := newQueue("q", lim)
	empty := func() *message { return &message{p: sized(0)} }
	for i := range 10 {
		if err := q.publish(empty()); err != nil {
			t.Fatalf("empty message %d: %v", i, err)
		}
	}
	if err := q.publish(empty()); !errors.Is(err, errBrokerFull) {
		t.Fatalf("11th empty message: err = %v, want errBrokerFull", err)
	}
}

// sized is a payload of n bytes and no fields.
type sized int64

func (s sized) size() int64                 { return int64(s) }
func (sized) field(string) (v any, ok bool) { return nil, false }

// heldOverhead must cover what holding a message allocates besides its
// bytes: the item, its slot in the queue's slice, and the wire message.
func TestHeldOverheadCoversBookkeeping(t *testing.T) {
	book := unsafe.Sizeof(item{}) + unsafe.Sizeof((*item)(nil)) + unsafe.Sizeof(wireMessage{})
	if uintptr(heldOverhead) < book {
		t.Fatalf("heldOverhead %d, bookkeeping %d bytes", heldOverhead, book)
	}
}

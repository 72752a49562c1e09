package broker

import (
	"errors"
	"testing"
)

// budgeted is limits with only the broker-wide bound, of max bytes.
func budgeted(max int64) limits {
	return limits{maxMsgs: -1, maxBytes: -1, total: &budget{max: max}}
}

func TestBudgetSharedByQueues(t *testing.T) {
	lim := budgeted(25)
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
	if u := lim.total.used.Load(); u != 20 {
		t.Fatalf("used %d, want 20", u)
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
	if u := lim.total.used.Load(); u != 40 {
		t.Fatalf("used %d, want 40", u)
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
	b := New(&Options{MaxTotalBytes: 25})
	defer b.Close()
	for _, l := range []string{"s1", "s2"} {
		if _, err := b.openOutLink(sourceSpec{address: "t", kind: kindTopic, container: "c", link: l}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.publishTo("t", testMsg(1)); err != nil {
		t.Fatal(err)
	}
	// Two more copies would make 40 bytes: neither subscription gets one.
	if err := b.publishTo("t", testMsg(2)); !errors.Is(err, errBrokerFull) {
		t.Fatalf("err = %v, want errBrokerFull", err)
	}
	if d := b.QueueDepth("t"); d != 2 {
		t.Fatalf("depth %d, want 2", d)
	}
	if u := b.lim.total.used.Load(); u != 20 {
		t.Fatalf("used %d, want 20", u)
	}
	_ = b.Close()
	if u := b.lim.total.used.Load(); u != 0 {
		t.Fatalf("used %d after Close, want 0", u)
	}
}

func TestBudgetTransactions(t *testing.T) {
	b := New(&Options{MaxTotalBytes: 45})
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
		t.Fatalf("plain send beside a transaction of 40 bytes: err = %v, want errBrokerFull", err)
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
		t.Fatalf("commit of 10 bytes retiring 10 onto 40 of 45: %v", err)
	}
	if u := b.lim.total.used.Load(); u != 40 {
		t.Fatalf("used %d, want 40", u)
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
		t.Fatalf("commit of 10 bytes onto 40 of 45: err = %v, want errBrokerFull", err)
	}
	if u, d := b.lim.total.used.Load(), n.depth(); u != 40 || d != 4 {
		t.Fatalf("used %d, depth %d after a refused commit, want 40 and 4", u, d)
	}
}

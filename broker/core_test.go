package broker

import (
	"context"
	"errors"
	"testing"
	"time"
)

// props is a payload for core tests: selector fields straight from a map.
type props map[string]any

// size is the "_size" entry, 10 without one.
func (p props) size() int64 {
	if n, ok := p["_size"].(int64); ok {
		return n
	}
	return 10
}

func (p props) field(name string) (any, bool) {
	v, ok := p[name]
	if !ok {
		return nil, false
	}
	return normalizeValue(v)
}

func testMsg(id int, kv ...any) *message {
	p := props{"id": id}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i].(string)] = kv[i+1]
	}
	return &message{p: p}
}

func idOf(t *testing.T, it *item) int {
	t.Helper()
	if it == nil {
		t.Fatal("no item")
	}
	return it.m.p.(props)["id"].(int)
}

// testCtx bounds every blocking call of a test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustNext(t *testing.T, c *consumer, credit int) *item {
	t.Helper()
	it, err := c.next(testCtx(t), credit, nil)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return it
}

func mustPoll(t *testing.T, c *consumer, credit int) *item {
	t.Helper()
	it, err := c.poll(credit)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return it
}

func unbounded() limits { return limits{maxMsgs: -1, maxBytes: -1} }

func TestQueueFIFOAndDepth(t *testing.T) {
	q := newQueue("q", unbounded())
	for i := range 5 {
		if err := q.publish(testMsg(i)); err != nil {
			t.Fatal(err)
		}
	}
	if d := q.depth(); d != 5 {
		t.Fatalf("depth = %d, want 5", d)
	}
	c, _ := q.attach("l1", nil, false)
	for i := range 5 {
		it := mustNext(t, c, 1)
		if got := idOf(t, it); got != i {
			t.Fatalf("got %d, want %d", got, i)
		}
		c.settle(it, outcome{kind: outcomeAccepted})
	}
	if d := q.depth(); d != 0 {
		t.Fatalf("depth = %d, want 0", d)
	}
	if q.held != 0 || q.bytes != 0 {
		t.Fatalf("held=%d bytes=%d after accepting all", q.held, q.bytes)
	}
}

// A message handed to a consumer's inbox but not yet taken by its link is
// still waiting: it counts in depth, and goes back to the queue when the
// consumer's credit is revoked before the link sends it.
func TestDepthCountsInboxUntilTaken(t *testing.T) {
	q := newQueue("q", unbounded())
	c, _ := q.attach("l", nil, false)
	c.setCredit(3) // the link had credit 3 ...
	_ = q.publish(testMsg(1))
	if d := q.depth(); d != 1 {
		t.Fatalf("depth = %d with the message in the inbox, want 1", d)
	}
	c.setCredit(0) // ... which the peer revoked (go-amqp's drain)
	if d := q.depth(); d != 1 {
		t.Fatalf("depth = %d after credit went, want 1", d)
	}
	if got := idOf(t, mustPoll(t, c, 1)); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
	if d := q.depth(); d != 0 {
		t.Fatalf("depth = %d once taken, want 0", d)
	}
}

func TestQueueRoundRobin(t *testing.T) {
	q := newQueue("q", unbounded())
	a, _ := q.attach("a", nil, false)
	b, _ := q.attach("b", nil, false)
	a.setCredit(10)
	b.setCredit(10)
	for i := range 6 {
		_ = q.publish(testMsg(i))
	}
	var ga, gb []int
	for range 3 {
		ga = append(ga, idOf(t, mustPoll(t, a, 10)))
		gb = append(gb, idOf(t, mustPoll(t, b, 10)))
	}
	if ga[0] != 0 || ga[1] != 2 || ga[2] != 4 || gb[0] != 1 || gb[1] != 3 || gb[2] != 5 {
		t.Fatalf("a got %v, b got %v; want alternation", ga, gb)
	}
}

func TestQueueNoCreditNoDelivery(t *testing.T) {
	q := newQueue("q", unbounded())
	idle, _ := q.attach("idle", nil, false)
	busy, _ := q.attach("busy", nil, false)
	_ = idle // never grants credit
	busy.setCredit(100)
	for i := range 4 {
		_ = q.publish(testMsg(i))
	}
	for i := range 4 {
		if got := idOf(t, mustPoll(t, busy, 100)); got != i {
			t.Fatalf("got %d want %d", got, i)
		}
	}
	if it := mustPoll(t, idle, 0); it != nil {
		t.Fatal("consumer without credit got a message")
	}
}

func TestQueueBounds(t *testing.T) {
	q := newQueue("q", limits{maxMsgs: 3, maxBytes: 25})
	for i := range 2 {
		if err := q.publish(testMsg(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.publish(testMsg(9)); !errors.Is(err, errFull) {
		t.Fatalf("third 10-byte message over 25 bytes: err = %v, want errFull", err)
	}
	big := &message{p: props{"_size": int64(26)}}
	if err := q.publish(big); !errors.Is(err, errTooLarge) {
		t.Fatalf("err = %v, want errTooLarge", err)
	}
	// Delivered but unsettled messages still count.
	c, _ := q.attach("c", nil, false)
	it := mustPoll(t, c, 1)
	if err := q.publish(testMsg(9)); !errors.Is(err, errFull) {
		t.Fatalf("err = %v, want errFull while unsettled", err)
	}
	c.settle(it, outcome{kind: outcomeAccepted})
	if err := q.publish(testMsg(9)); err != nil {
		t.Fatalf("after settle: %v", err)
	}

	q2 := newQueue("q2", limits{maxMsgs: 2, maxBytes: -1})
	_ = q2.publish(testMsg(1))
	_ = q2.publish(testMsg(2))
	if err := q2.publish(testMsg(3)); !errors.Is(err, errFull) {
		t.Fatalf("count bound: err = %v", err)
	}
}

func TestReleasedGoesBackToHead(t *testing.T) {
	q := newQueue("q", unbounded())
	for i := range 3 {
		_ = q.publish(testMsg(i))
	}
	c, _ := q.attach("c", nil, false)
	first := mustPoll(t, c, 1)
	c.setCredit(0)
	c.settle(first, outcome{kind: outcomeReleased})
	again := mustPoll(t, c, 1)
	if idOf(t, again) != 0 || again.deliveryCount != 0 {
		t.Fatalf("got id %d count %d, want 0/0", idOf(t, again), again.deliveryCount)
	}
}

func TestModifiedSemantics(t *testing.T) {
	q := newQueue("q", unbounded())
	_ = q.publish(testMsg(0))
	a, _ := q.attach("a", nil, false)
	b, _ := q.attach("b", nil, false)

	it := mustPoll(t, a, 1)
	a.setCredit(0)
	a.settle(it, outcome{kind: outcomeModified, deliveryFailed: true,
		annotations: map[string]any{"x-opt-k": "v"}})
	it = mustPoll(t, a, 1)
	if it.deliveryCount != 1 || it.annotations()["x-opt-k"] != "v" {
		t.Fatalf("count=%d ann=%v", it.deliveryCount, it.annotations())
	}
	a.setCredit(0)
	// Not failed: count unchanged. Undeliverable here: never to a again.
	a.settle(it, outcome{kind: outcomeModified, undeliverableHere: true,
		annotations: map[string]any{"x-opt-j": int64(2)}})
	if got := mustPoll(t, a, 5); got != nil {
		t.Fatal("undeliverable-here item went back to the same link")
	}
	it = mustPoll(t, b, 1)
	if it == nil || it.deliveryCount != 1 || it.annotations()["x-opt-k"] != "v" || it.annotations()["x-opt-j"] != int64(2) {
		t.Fatalf("b got %+v", it)
	}
}

func TestDetachRequeuesWithCount(t *testing.T) {
	q := newQueue("q", unbounded())
	for i := range 3 {
		_ = q.publish(testMsg(i))
	}
	a, _ := q.attach("a", nil, false)
	sent := mustPoll(t, a, 3) // id 0 taken (sent), 1 and 2 still in inbox
	_ = sent
	a.detach()
	if d := q.depth(); d != 3 {
		t.Fatalf("depth after detach = %d, want 3", d)
	}
	b, _ := q.attach("b", nil, false)
	want := []uint32{1, 0, 0} // only the sent one counts as a failed attempt
	for i := range 3 {
		it := mustPoll(t, b, 3)
		if idOf(t, it) != i || it.deliveryCount != want[i] {
			t.Fatalf("item %d: id %d count %d", i, idOf(t, it), it.deliveryCount)
		}
	}
	// Settling after detach is harmless.
	a.settle(sent, outcome{kind: outcomeAccepted})
	if _, err := a.next(testCtx(t), 1, nil); !errors.Is(err, errDetached) {
		t.Fatalf("next after detach: %v", err)
	}
}

func TestBrowseDoesNotConsume(t *testing.T) {
	q := newQueue("q", unbounded())
	for i := range 3 {
		_ = q.publish(testMsg(i))
	}
	br, _ := q.attach("br", nil, true)
	for i := range 3 {
		it := mustPoll(t, br, 10)
		if idOf(t, it) != i {
			t.Fatalf("browse got %d want %d", idOf(t, it), i)
		}
		br.settle(it, outcome{kind: outcomeAccepted})
	}
	if it := mustPoll(t, br, 10); it != nil {
		t.Fatal("browser saw a message twice")
	}
	if d := q.depth(); d != 3 {
		t.Fatalf("depth = %d after browsing, want 3", d)
	}
	_ = q.publish(testMsg(3))
	if it := mustPoll(t, br, 10); idOf(t, it) != 3 {
		t.Fatal("browser missed a new message")
	}
}

func TestQueueSelector(t *testing.T) {
	q := newQueue("q", unbounded())
	red, err := ParseSelector("color = 'red'")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := q.attach("r", red, false)
	any, _ := q.attach("any", nil, false)
	_ = q.publish(testMsg(0, "color", "blue"))
	_ = q.publish(testMsg(1, "color", "red"))
	if it := mustPoll(t, r, 5); idOf(t, it) != 1 {
		t.Fatalf("selector consumer got %d", idOf(t, it))
	}
	if it := mustPoll(t, any, 5); idOf(t, it) != 0 {
		t.Fatalf("other consumer got %d", idOf(t, it))
	}
}

func TestNextWakesOnPublish(t *testing.T) {
	q := newQueue("q", unbounded())
	c, _ := q.attach("c", nil, false)
	got := make(chan int, 1)
	go func() {
		it, err := c.next(context.Background(), 1, nil)
		if err != nil {
			got <- -1
			return
		}
		got <- it.m.p.(props)["id"].(int)
	}()
	_ = q.publish(testMsg(7))
	if v := <-got; v != 7 {
		t.Fatalf("got %d", v)
	}
}

func TestDeleteEndsConsumers(t *testing.T) {
	q := newQueue("q", unbounded())
	c, _ := q.attach("c", nil, false)
	errc := make(chan error, 1)
	go func() { _, err := c.next(context.Background(), 1, nil); errc <- err }()
	q.deleteQueue()
	if err := <-errc; !errors.Is(err, errDetached) {
		t.Fatalf("err = %v", err)
	}
	if err := q.publish(testMsg(1)); !errors.Is(err, errDeleted) {
		t.Fatalf("publish after delete: %v", err)
	}
}

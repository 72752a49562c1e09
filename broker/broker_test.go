package broker

import (
	"errors"
	"testing"
)

func TestTopicFanoutAndSelector(t *testing.T) {
	b := New(nil)
	defer b.Close()
	red, _ := ParseSelector("color = 'red'")
	all, err := b.openOutLink(sourceSpec{address: "t", kind: kindTopic, container: "c", link: "all"})
	if err != nil {
		t.Fatal(err)
	}
	reds, _ := b.openOutLink(sourceSpec{address: "t", kind: kindTopic, selector: red, container: "c", link: "red"})
	_ = b.publishTo("t", testMsg(1, "color", "red"))
	_ = b.publishTo("t", testMsg(2, "color", "blue"))
	if d := b.QueueDepth("t"); d != 3 {
		t.Fatalf("topic depth %d, want 3 copies", d)
	}
	if idOf(t, mustPoll(t, all.c, 5)) != 1 || idOf(t, mustPoll(t, all.c, 5)) != 2 {
		t.Fatal("subscriber missed a copy")
	}
	if idOf(t, mustPoll(t, reds.c, 5)) != 1 || mustPoll(t, reds.c, 5) != nil {
		t.Fatal("selector subscription got the wrong copies")
	}
	// A private subscription ends with its link.
	reds.close(false)
	all.c.setCredit(0)
	_ = b.publishTo("t", testMsg(3, "color", "red"))
	if d := b.QueueDepth("t"); d != 1 {
		t.Fatalf("depth %d after private subscription closed, want 1", d)
	}
}

func TestTopicFullSubscriptionRefuses(t *testing.T) {
	b := New(&Options{MaxQueueMessages: 1})
	defer b.Close()
	_, _ = b.openOutLink(sourceSpec{address: "t", kind: kindTopic, container: "c", link: "l"})
	if err := b.publishTo("t", testMsg(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.publishTo("t", testMsg(2)); !errors.Is(err, errFull) {
		t.Fatalf("err = %v, want errFull", err)
	}
	// With no subscriber a topic drops messages (nobody to keep them for).
	if err := b.publishTo("empty-topic", testMsg(1)); err != nil {
		t.Fatal(err)
	}
}

func TestDurableSubscriptionLifecycle(t *testing.T) {
	b := New(nil)
	defer b.Close()
	spec := sourceSpec{address: "t", kind: kindTopic, durable: true, container: "c1", link: "sub"}
	l, err := b.openOutLink(spec)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.publishTo("t", testMsg(1))
	it := mustPoll(t, l.c, 1) // sent, not settled
	_ = it
	l.close(false) // detach: the subscription stays
	_ = b.publishTo("t", testMsg(2))
	if d := b.QueueDepth("t"); d != 2 {
		t.Fatalf("depth %d while detached, want 2", d)
	}
	l2, _ := b.openOutLink(spec)
	first := mustPoll(t, l2.c, 5)
	if idOf(t, first) != 1 || first.deliveryCount != 1 {
		t.Fatalf("resumed with id %d count %d", idOf(t, first), first.deliveryCount)
	}
	if idOf(t, mustPoll(t, l2.c, 5)) != 2 {
		t.Fatal("missed the message sent while detached")
	}
	l2.close(true) // close: the subscription ends
	_ = b.publishTo("t", testMsg(3))
	if d := b.QueueDepth("t"); d != 0 {
		t.Fatalf("depth %d after close", d)
	}
	b.mu.RLock()
	n := len(b.durable)
	b.mu.RUnlock()
	if n != 0 {
		t.Fatalf("%d durable subscriptions left", n)
	}
}

func TestDynamicNode(t *testing.T) {
	b := New(nil)
	defer b.Close()
	l1, _ := b.openOutLink(sourceSpec{dynamic: true, container: "c", link: "a"})
	l2, _ := b.openOutLink(sourceSpec{dynamic: true, container: "c", link: "b"})
	if l1.address == "" || l1.address == l2.address {
		t.Fatalf("dynamic addresses %q and %q", l1.address, l2.address)
	}
	if err := b.publishTo(l1.address, testMsg(1)); err != nil {
		t.Fatal(err)
	}
	if idOf(t, mustPoll(t, l1.c, 1)) != 1 {
		t.Fatal("reply not delivered")
	}
	l1.close(true)
	b.mu.RLock()
	_, exists := b.nodes[l1.address]
	b.mu.RUnlock()
	if exists {
		t.Fatal("dynamic node outlived its link")
	}
}

func TestAddressPrefixes(t *testing.T) {
	b := New(nil)
	defer b.Close()
	l, _ := b.openOutLink(sourceSpec{address: "/topic/news", container: "c", link: "l"})
	if l.n.kind != kindTopic || l.address != "news" {
		t.Fatalf("kind %v address %q", l.n.kind, l.address)
	}
	// The node keeps its kind whatever later links ask.
	n, _ := b.node("news", kindQueue)
	if n.kind != kindTopic {
		t.Fatal("node changed kind")
	}
}

func TestClosedBroker(t *testing.T) {
	b := New(nil)
	_ = b.Close()
	if _, err := b.node("q", kindQueue); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxNodes(t *testing.T) {
	b := New(&Options{MaxNodes: 2})
	defer b.Close()
	for _, a := range []string{"a", "b", "a"} {
		if _, err := b.node(a, kindQueue); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.node("c", kindQueue); !errors.Is(err, errTooManyNodes) {
		t.Fatalf("err = %v", err)
	}
	if _, err := b.dynamicNode(); !errors.Is(err, errTooManyNodes) {
		t.Fatalf("dynamic: err = %v", err)
	}
}

package broker

import (
	"strings"
	"sync"
)

// nodeKind is the distribution a node gives its messages.
type nodeKind int

const (
	kindUnset nodeKind = iota // no capability given: queue on creation
	kindQueue
	kindTopic
)

// capability is the terminus capability that names the kind (§3.5.3 leaves
// these to brokers; "queue" and "topic" are the common spelling).
func (k nodeKind) capability() string {
	if k == kindTopic {
		return "topic"
	}
	return "queue"
}

// splitAddress reads RabbitMQ-style "/queue/NAME" and "/topic/NAME"
// addresses as node NAME with that kind.
func splitAddress(addr string) (name string, kind nodeKind) {
	switch {
	case strings.HasPrefix(addr, "/queue/"):
		return addr[len("/queue/"):], kindQueue
	case strings.HasPrefix(addr, "/topic/"):
		return addr[len("/topic/"):], kindTopic
	}
	return addr, kindUnset
}

// node is a named queue or topic.
type node struct {
	id      uint64 // lock order (lockSeq)
	name    string
	kind    nodeKind
	dynamic bool
	q       *queue  // queue nodes (and dynamic nodes)
	total   *budget // the broker's (Options.MaxTotalBytes)

	// Topic nodes: mu guards subs and scratch, and serialises publishers so
	// that a copy goes to every subscription or to none.
	mu      sync.Mutex
	subs    []*subscription
	scratch []*subscription
	deleted bool
}

// subscription is one subscriber's queue on a topic.
type subscription struct {
	key string // durable: container id + link name; "" when not durable
	n   *node
	q   *queue
	sel *Selector // applied on publish, so unselected copies are never held
	// noLocal is the subscriber's connection when it asked for no-local:
	// messages published on it are not copied here. nil otherwise.
	noLocal any
}

// takes reports whether a message published on the topic is copied to the
// subscription: it matches the selector and, for a no-local one, came
// from another connection.
func (s *subscription) takes(m *message) bool {
	if s.noLocal != nil && m.origin == s.noLocal {
		return false
	}
	return s.sel == nil || s.sel.match(m.p)
}

func newNode(name string, kind nodeKind, lim limits) *node {
	if kind == kindUnset {
		kind = kindQueue
	}
	n := &node{id: lockSeq.Add(1), name: name, kind: kind, total: lim.total}
	if kind == kindQueue {
		n.q = newQueue(name, lim)
	}
	return n
}

// publish stores m on the node: once on a queue, once per matching
// subscription on a topic. A topic refuses the message when any matching
// subscription is full, so no subscriber silently misses it.
func (n *node) publish(m *message) error {
	if n.kind == kindQueue {
		return n.q.publish(m)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return errDeleted
	}
	match := n.scratch[:0]
	for _, s := range n.subs {
		if !s.takes(m) {
			continue
		}
		if err := s.q.room(m.size()); err != nil {
			clear(match)
			n.scratch = match
			return err
		}
		match = append(match, s)
	}
	// One reservation for all the copies, so that a topic's message goes
	// to every matching subscription or to none.
	if err := n.total.reserve(int64(len(match)) * m.charge()); err != nil {
		clear(match)
		n.scratch = match
		return err
	}
	for _, s := range match {
		// Only this goroutine adds to the subscription queues (we hold
		// n.mu), so the room checked above is still there.
		s.q.publishReserved(m)
	}
	clear(match)
	n.scratch = match
	return nil
}

// depth counts the messages waiting on the node (on a topic, in all its
// subscriptions).
func (n *node) depth() int {
	if n.kind == kindQueue {
		return n.q.depth()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	d := 0
	for _, s := range n.subs {
		d += s.q.depth()
	}
	return d
}

func (n *node) addSub(s *subscription) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return errDeleted
	}
	n.subs = append(n.subs, s)
	return nil
}

func (n *node) removeSub(s *subscription) {
	n.mu.Lock()
	for i, x := range n.subs {
		if x == s {
			n.subs = append(n.subs[:i], n.subs[i+1:]...)
			break
		}
	}
	n.mu.Unlock()
	s.q.deleteQueue()
}

// delete ends the node: its queues are dropped and their consumers ended.
func (n *node) delete() {
	if n.kind == kindQueue {
		n.q.deleteQueue()
		return
	}
	n.mu.Lock()
	subs := n.subs
	n.subs = nil
	n.deleted = true
	n.mu.Unlock()
	for _, s := range subs {
		s.q.deleteQueue()
	}
}

package broker

// sourceSpec is what a receiving link asked for in its source (§3.5.3),
// reduced to what the broker acts on.
type sourceSpec struct {
	address   string
	kind      nodeKind // from the queue/topic capability
	dynamic   bool
	durable   bool // durable != none or expiry-policy never
	browse    bool // distribution-mode copy
	selector  *Selector
	noLocal   any // the receiver's connection, when it asked for no-local
	container string
	link      string
}

func linkKey(container, link string) string { return container + "\x00" + link }

// outLink is the broker side of a receiving link: where its messages come
// from.
type outLink struct {
	b       *Broker
	n       *node
	sub     *subscription // topic links
	c       *consumer
	address string // the node's address, echoed in the attach reply
}

// openOutLink resolves (or creates) the node a receiver reads and adds a
// consumer to it.
func (b *Broker) openOutLink(spec sourceSpec) (*outLink, error) {
	var (
		n   *node
		err error
	)
	if spec.dynamic {
		n, err = b.dynamicNode()
	} else {
		n, err = b.node(spec.address, spec.kind)
	}
	if err != nil {
		return nil, err
	}
	l := &outLink{b: b, n: n, address: n.name}
	key := linkKey(spec.container, spec.link)
	q, sel, browse := n.q, spec.selector, spec.browse
	if n.kind == kindTopic {
		browse = false
		if l.sub, err = b.subscribe(n, spec, key); err != nil {
			return nil, err
		}
		q, sel = l.sub.q, nil // the subscription applies the selector
	}
	if l.c, err = q.attach(key, sel, browse); err != nil {
		if l.sub != nil && l.sub.key == "" {
			n.removeSub(l.sub)
		}
		return nil, err
	}
	return l, nil
}

// subscribe returns the subscription of a receiver on topic n: the durable
// one named by key when the source is durable (created on first use), else
// a new private one.
func (b *Broker) subscribe(n *node, spec sourceSpec, key string) (*subscription, error) {
	if !spec.durable {
		s := &subscription{n: n, q: newQueue(n.name, b.lim), sel: spec.selector, noLocal: spec.noLocal}
		return s, n.addSub(s)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if s := b.durable[key]; s != nil {
		if s.n == n {
			n.mu.Lock()
			s.sel = spec.selector // a re-attach may change the selector
			s.noLocal = spec.noLocal
			n.mu.Unlock()
			return s, nil
		}
		// Same subscription name on another topic: the old one ends, as
		// JMS does when a durable subscriber changes topic.
		delete(b.durable, key)
		s.n.removeSub(s)
	}
	s := &subscription{key: key, n: n, q: newQueue(n.name, b.lim), sel: spec.selector, noLocal: spec.noLocal}
	if err := n.addSub(s); err != nil {
		return nil, err
	}
	b.durable[key] = s
	return s, nil
}

// close ends the link. closed is the detach's closed flag: a durable
// subscription survives a detach without it (and a lost connection) and
// ends with it. Private subscriptions and dynamic nodes end either way.
func (l *outLink) close(closed bool) {
	l.c.detach()
	switch {
	case l.n.dynamic:
		l.b.deleteNode(l.n)
	case l.sub != nil && l.sub.key == "":
		l.n.removeSub(l.sub)
	case l.sub != nil && closed:
		l.b.mu.Lock()
		if l.b.durable[l.sub.key] == l.sub {
			delete(l.b.durable, l.sub.key)
		}
		l.b.mu.Unlock()
		l.n.removeSub(l.sub)
	}
}

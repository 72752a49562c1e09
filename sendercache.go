package amq

import (
	"context"
	"fmt"
	"sync"
)

// maxCachedSenders bounds the senders Client.Send keeps open, one per
// address; past it the least recently used one is closed.
const maxCachedSenders = 64

// senderCache holds the senders behind Client.Send.
type senderCache struct {
	c       *Client
	mu      sync.Mutex
	senders map[string]*cachedSender
	tick    uint64
}

type cachedSender struct {
	once sync.Once
	s    *Sender
	err  error
	used uint64
}

func newSenderCache(c *Client) *senderCache {
	return &senderCache{c: c, senders: make(map[string]*cachedSender)}
}

// get returns the sender for address, attaching it on first use. A sender
// whose link has failed is replaced.
func (sc *senderCache) get(ctx context.Context, address string) (*Sender, error) {
	sc.mu.Lock()
	if sc.senders == nil {
		sc.mu.Unlock()
		return nil, fmt.Errorf("amq: Send: %w", ErrClosed)
	}
	sc.tick++
	cs := sc.senders[address]
	if cs != nil && cs.s != nil && cs.s.failed() {
		delete(sc.senders, address)
		cs = nil
	}
	if cs == nil {
		cs = &cachedSender{}
		sc.senders[address] = cs
		sc.evictLocked(ctx)
	}
	cs.used = sc.tick
	sc.mu.Unlock()

	cs.once.Do(func() { cs.s, cs.err = sc.c.NewSender(ctx, address, nil) })
	if cs.err != nil {
		sc.mu.Lock()
		if sc.senders[address] == cs {
			delete(sc.senders, address)
		}
		sc.mu.Unlock()
		return nil, cs.err
	}
	return cs.s, nil
}

func (sc *senderCache) evictLocked(ctx context.Context) {
	if len(sc.senders) <= maxCachedSenders {
		return
	}
	var oldest string
	var min uint64 = ^uint64(0)
	for a, cs := range sc.senders {
		if cs.s != nil && cs.used < min {
			oldest, min = a, cs.used
		}
	}
	if oldest == "" {
		return
	}
	s := sc.senders[oldest].s
	delete(sc.senders, oldest)
	go s.Close(context.WithoutCancel(ctx))
}

// close forgets the cached senders; Client.Close closes their links.
func (sc *senderCache) close() {
	sc.mu.Lock()
	sc.senders = nil
	sc.mu.Unlock()
}

package amq

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// newLinkGen returns a new link version: every attach of every link gets
// a number larger than all before, so "a link newer than the one that
// failed" is a simple comparison.
func (c *Client) newLinkGen() uint64 { return c.linkGen.Add(1) }

// linkLost reports whether l was taken away while its connection lives on,
// in a way that re-attaching can repair: the peer ended the link's
// session, detached the link without closing it (its terminus lives on),
// or detached it with amqp:link:detach-forced. A link the peer closes with
// another condition (not-found, unauthorized-access, resource-deleted, ...)
// or detaches with such an error is not lost but failed. A link still
// attached is not lost.
func linkLost(l *engine.Link) bool {
	end := engine.LinkEndOf(l)
	switch {
	case !end.Ended:
		return false
	case end.WithSession:
		return true
	case end.Err != nil:
		return end.Err.Condition == codec.ErrCondDetachForced
	}
	return !end.Closed
}

// linkEndErr is the error of an operation on a link that ended: the
// peer's detach (or end) error, or that the peer closed the link.
func linkEndErr(op, address string, l *engine.Link) error {
	end := engine.LinkEndOf(l)
	scope := ScopeLink
	if end.WithSession {
		scope = ScopeSession
	}
	if end.Err != nil {
		return wrapErr(op, address, &scopedErr{scope, end.Err})
	}
	return &Error{Scope: scope, Op: op, Address: address}
}

// linkStableAfter is how long a re-attached link must last for its next
// loss to be re-attached at once again; see healPace.
const linkStableAfter = time.Second

// healPace paces the re-attaches of one link across its losses, on a copy
// of the client's reconnect policy (see ReconnectPolicy). A link lost again
// within linkStableAfter of its last re-attach carries on with the schedule
// instead of starting it again with an immediate attempt: a peer that takes
// every new link away at once (a misconfigured node, a queue that cannot be
// served) then sees attaches spaced as the policy says, not a tight loop of
// attach and detach.
type healPace struct {
	mu     sync.Mutex
	policy ReconnectPolicy
	last   time.Time // the last successful re-attach
}

// start begins the re-attach of a loss happening now.
func (p *healPace) start(proto ReconnectPolicy) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.policy == nil || time.Since(p.last) >= linkStableAfter {
		p.policy = clonePolicy(proto)
	}
}

// next is the delay before the next attempt, or false when the policy
// gives up. It is safe for concurrent use: a heal still waiting when a
// reconnect re-attached the link and lost it again shares the schedule
// with the new one.
func (p *healPace) next() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.policy.Next()
}

func (p *healPace) attached() {
	p.mu.Lock()
	p.last = time.Now()
	p.mu.Unlock()
}

// healLink re-attaches a lost link on the current connection, with pace's
// back-off between attempts, until attach succeeds, ctx ends (the link was
// closed), the client ends, the policy gives up, or the peer refuses the
// link for good (then fail ends the link with the peer's error). If the
// connection drops meanwhile it stops: the supervisor re-attaches every
// link after the reconnect.
func healLink(ctx context.Context, c *Client, pace *healPace, kind, address string, cause error, attach func(context.Context, *engine.Conn) error, fail func(error)) {
	pace.start(c.policy)
	for attempt := 1; ; attempt++ {
		delay, ok := pace.next()
		if !ok {
			c.cfg.logger.Warn("amq: link lost; the reconnect policy gives up re-attaching it", "kind", kind, "address", address, "attempts", attempt-1)
			fail(cause)
			return
		}
		if !sleepCtx(ctx, delay) {
			return
		}
		conn, _, err := c.connection(ctx)
		if err != nil {
			return
		}
		actx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
		err = attach(actx, conn)
		cancel()
		if err == nil {
			pace.attached()
			c.cfg.logger.Info("amq: link re-attached", "kind", kind, "address", address, "attempts", attempt)
			return
		}
		if connLost(conn) || ctx.Err() != nil {
			return
		}
		var ae *Error
		if errors.As(err, &ae) && ae.Scope == ScopeLink && ae.Condition != "" && !Retryable(err) {
			c.cfg.logger.Warn("amq: link refused on re-attach", "kind", kind, "address", address, "err", err)
			fail(err)
			return
		}
		c.cfg.logger.Info("amq: re-attaching link failed; retrying", "kind", kind, "address", address, "attempt", attempt, "err", err)
	}
}

package amq

import (
	"context"
	"errors"

	amqp "github.com/Azure/go-amqp"
)

// newLinkGen returns a new link version: every attach of every link gets
// a number larger than all before, so "a link newer than the one that
// failed" is a simple comparison.
func (c *Client) newLinkGen() uint64 { return c.linkGen.Add(1) }

// linkLost reports whether err means a link was taken away while its
// connection lives on, in a way that re-attaching can repair: the peer
// ended the link's session, or detached the link with
// amqp:link:detach-forced. A link the peer refuses or closes with another
// condition (not-found, unauthorized-access, resource-deleted, ...) is not
// lost but failed.
func linkLost(err error) bool {
	var se *amqp.SessionError
	if errors.As(err, &se) {
		return true
	}
	var le *amqp.LinkError
	return errors.As(err, &le) && le.RemoteErr != nil && le.RemoteErr.Condition == amqp.ErrCondDetachForced
}

// healLink re-attaches a lost link on the current connection, with the
// default back-off between attempts, until attach succeeds, ctx ends (the
// link was closed), the client ends, or the peer refuses the link for good
// (then fail ends the link with the peer's error). If the connection drops
// meanwhile it stops: the supervisor re-attaches every link after the
// reconnect.
func healLink(ctx context.Context, c *Client, kind, address string, attach func(context.Context, *amqp.Conn) error, fail func(error)) {
	policy := NewExponentialReconnect(DefaultReconnectInitial, DefaultReconnectMax, 0)
	for attempt := 1; ; attempt++ {
		delay, _ := policy.Next()
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

package amq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/amqgo/amq/internal/engine"
)

// ReconnectPolicy decides how long to wait before each reconnect attempt
// (reference 6.3: the reconnect object with reset() and next()). Reset is
// called when a connection is established and before the first attempt
// after a loss; Next is called before each attempt and returns the delay,
// or false to give up, which fails the Client.
//
// A policy is used by one Client's supervisor goroutine only; it need not
// be safe for concurrent use, but a policy value must not be shared by two
// Clients.
//
// A link the peer takes away while the connection lives on is re-attached
// on a schedule of its own: a copy of the policy, when it implements
// interface{ Clone() ReconnectPolicy } (the policies of this package do),
// otherwise the default schedule. A policy that gives up makes such a link
// fail with the error that ended it.
type ReconnectPolicy interface {
	Reset()
	Next() (delay time.Duration, ok bool)
}

// clonePolicy returns a fresh copy of p for a link's re-attach schedule.
func clonePolicy(p ReconnectPolicy) ReconnectPolicy {
	if c, ok := p.(interface{ Clone() ReconnectPolicy }); ok {
		return c.Clone()
	}
	return NewExponentialReconnect(DefaultReconnectInitial, DefaultReconnectMax, 0)
}

// NoReconnect is a ReconnectPolicy that never reconnects: the Client fails
// when its connection is lost (the reference's reconnect=False).
var NoReconnect ReconnectPolicy = noReconnect{}

type noReconnect struct{}

func (noReconnect) Reset()                      {}
func (noReconnect) Next() (time.Duration, bool) { return 0, false }

// Clone returns NoReconnect.
func (noReconnect) Clone() ReconnectPolicy { return NoReconnect }

// Default reconnect schedule: the first attempt is immediate, the next
// waits about 100ms, and each later one about twice as long as the one
// before, up to 10s; every delay but the first is randomised by ±50% so
// that many clients cut off at once do not reconnect in step. It never
// gives up.
const (
	DefaultReconnectInitial = 100 * time.Millisecond
	DefaultReconnectMax     = 10 * time.Second
)

// NewExponentialReconnect returns the default policy with the given first
// delay and ceiling, and maxAttempts > 0 to give up after that many
// attempts in a row (0: never give up).
func NewExponentialReconnect(initial, max time.Duration, maxAttempts int) ReconnectPolicy {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = initial
	b.MaxInterval = max
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	b.MaxElapsedTime = 0
	return &exponential{b: b, initial: initial, max: max, maxAttempts: maxAttempts}
}

type exponential struct {
	b            *backoff.ExponentialBackOff
	initial, max time.Duration
	attempt      int
	maxAttempts  int
}

// Clone returns a new policy with the same schedule, not started.
func (e *exponential) Clone() ReconnectPolicy {
	return NewExponentialReconnect(e.initial, e.max, e.maxAttempts)
}

func (e *exponential) Reset() {
	e.b.Reset()
	e.attempt = 0
}

func (e *exponential) Next() (time.Duration, bool) {
	e.attempt++
	if e.maxAttempts > 0 && e.attempt > e.maxAttempts {
		return 0, false
	}
	if e.attempt == 1 {
		return 0, true
	}
	return e.b.NextBackOff(), true
}

// The reconnect loop: one supervisor goroutine per Client watches its
// connection and, when it is lost, dials round the URL list with the
// policy above and restores every link (docs/failover.md).

// supervise watches the connection and repairs it when lost.
func (c *Client) supervise() {
	defer close(c.supDone)
	for {
		c.mu.Lock()
		conn, ep := c.conn, c.ep
		c.mu.Unlock()
		select {
		case <-conn.Done():
		case <-c.closing:
			return
		}
		if c.isClosing() {
			return
		}
		var cause error
		if conn.Err() != nil {
			cause = wrapErr("connection to", ep.String(), connEndErr(conn))
		}
		if cause == nil {
			cause = &Error{Scope: ScopeConnection, Op: "connection to", Address: ep.String()}
		}
		c.markDown()
		var ae *Error
		if errors.As(cause, &ae) && ae.Condition == "amqp:connection:forced" {
			c.cfg.logger.Info("amq: connection closed by the peer (forced); reconnecting", "url", ep.String(), "description", ae.Description)
		} else {
			c.cfg.logger.Warn("amq: connection lost", "url", ep.String(), "err", cause)
		}
		c.emit(StateEvent{State: StateDisconnected, URL: ep.String(), Err: cause})
		if !c.reconnect(cause) {
			return
		}
	}
}

// markDown makes every user of the connection wait for the next one.
func (c *Client) markDown() {
	c.mu.Lock()
	c.conn = nil
	c.up = make(chan struct{})
	links := c.linkList()
	c.mu.Unlock()
	for _, l := range links {
		l.connectionLost()
	}
}

func (c *Client) linkList() []link {
	links := make([]link, 0, len(c.links))
	for l := range c.links {
		links = append(links, l)
	}
	return links
}

// reconnect dials round the URL list, starting with the one after the
// lost one, until a connection is made and the links are restored. It
// returns false when the client is closing or has failed.
func (c *Client) reconnect(cause error) bool {
	c.policy.Reset()
	closingCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-closingCtx.Done():
		}
	}()

	idx := c.epIndex
	for attempt := 1; ; attempt++ {
		delay, ok := c.policy.Next()
		if !ok {
			c.fail(fmt.Errorf("amq: reconnect gave up after %d attempts: %w", attempt-1, cause))
			return false
		}
		idx = (idx + 1) % len(c.eps)
		ep := c.eps[idx]
		c.cfg.logger.Info("amq: reconnecting", "url", ep.String(), "attempt", attempt, "delay", delay)
		c.emit(StateEvent{State: StateReconnecting, URL: ep.String(), Attempt: attempt, Delay: delay})
		if !sleepCtx(closingCtx, delay) {
			return false
		}
		conn, err := c.dialOne(closingCtx, ep)
		if err != nil {
			if c.isClosing() {
				return false
			}
			if permanent(err) {
				c.fail(err)
				return false
			}
			cause = err
			c.cfg.logger.Info("amq: reconnect attempt failed", "url", ep.String(), "attempt", attempt, "err", err)
			continue
		}
		if err := c.restore(closingCtx, conn, ep, idx); err != nil {
			_ = conn.Close(nil)
			if c.isClosing() {
				return false
			}
			cause = err
			continue
		}
		c.cfg.logger.Info("amq: reconnected", "url", ep.String(), "attempts", attempt)
		c.emit(StateEvent{State: StateConnected, URL: ep.String(), Attempt: attempt})
		return true
	}
}

// restore re-attaches every link on conn, then publishes conn. A link the
// peer refuses fails alone; a connection that dies meanwhile is an error
// (the caller dials again).
func (c *Client) restore(ctx context.Context, conn *engine.Conn, ep endpoint, idx int) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	// Bump the generation before taking the list: a link that finishes
	// attaching on the old connection after this point sees a stale
	// generation in track and attaches again.
	c.gen++
	gen := c.gen
	links := c.linkList()
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.reattach(ctx, conn, gen); err != nil && !connLost(conn) && ctx.Err() == nil {
				c.cfg.logger.Warn("amq: link refused on re-attach", "err", err)
				l.fail(err)
			}
		}()
	}
	wg.Wait()
	if connLost(conn) {
		return wrapErr("re-attach on", ep.String(), connEndErr(conn))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("amq: re-attaching links on %s: %w", ep, ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.conn, c.ep, c.epIndex = conn, ep, idx
	close(c.up)
	return nil
}

// fail ends the client: reconnecting is off, exhausted, or cannot help.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.failErr != nil || c.closed {
		c.mu.Unlock()
		return
	}
	c.failErr = err
	links := c.linkList()
	c.mu.Unlock()
	for _, l := range links {
		l.fail(err)
	}
	c.cfg.logger.Error("amq: client failed", "err", err)
	c.emit(StateEvent{State: StateFailed, URL: c.URL(), Err: err})
	c.endDone()
}

func (c *Client) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// connEndErr is why conn ended, as a connection-scoped error.
func connEndErr(conn *engine.Conn) error {
	err := conn.Err()
	if err == nil {
		err = engine.ErrConnClosed
	}
	return &scopedErr{ScopeConnection, err}
}

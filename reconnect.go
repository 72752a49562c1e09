package amq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// ReconnectPolicy decides how long to wait before each reconnect attempt
// (reference 6.3: the reconnect object with reset() and next()). Next is
// called before each attempt and returns the delay, or false to give up,
// which fails the Client. Reset starts the schedule afresh: Dial calls it
// before its first attempt, and the client calls it when it loses a
// connection that stayed up for at least ConnectOptions.ReconnectResetAfter.
// A connection lost sooner does not reset the schedule: it counts as one
// more failed attempt, so a peer that closes every connection as soon as
// it is open is dialled at the policy's growing delays, not in a tight
// loop. (The reference resets on every successful open.)
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
// gives up. The schedule starts afresh only after a connection that stayed
// up for DefaultReconnectResetAfter (ConnectOptions.ReconnectResetAfter).
const (
	DefaultReconnectInitial    = 100 * time.Millisecond
	DefaultReconnectMax        = 10 * time.Second
	DefaultReconnectResetAfter = 5 * time.Second
)

// ErrClosedByPeer is the cause of the *Error a Client ends with when the
// peer closed its connection without an error (a close frame with no
// error field, AMQP 1.0 section 2.7.9): a deliberate goodbye, not a loss,
// so by default the client does not reconnect (see ReconnectOnLoss).
// Test for it with errors.Is(client.Err(), amq.ErrClosedByPeer).
var ErrClosedByPeer = errors.New("amq: the peer closed the connection without an error")

// ReconnectOnLoss is the reference's rule for when to reconnect, and what
// a nil ConnectOptions.ReconnectOn means. It reports true for a lost
// connection: a network or TLS failure, a connection that ended without
// a close frame, a peer that sent nothing for the idle time-out, and a
// close with amqp:connection:forced (an administrator's forced close, a
// broker shutting down), which the reference treats as a loss. It reports
// false for a close with any other condition (amqp:unauthorized-access,
// amqp:resource-limit-exceeded, amqp:internal-error, ...) and for a close
// without an error (ErrClosedByPeer): the peer meant the connection to
// end, and dialling again would meet the same answer.
func ReconnectOnLoss(err error) bool {
	if errors.Is(err, ErrClosedByPeer) {
		return false
	}
	var ae *Error
	if errors.As(err, &ae) && ae.Condition != "" {
		return ae.Condition == string(codec.ErrCondConnectionForced)
	}
	return true
}

// NewExponentialReconnect returns the default policy with the given first
// delay and ceiling, and maxAttempts > 0 to give up after that many
// attempts in a row (0: never give up). An attempt whose connection is
// lost again within ConnectOptions.ReconnectResetAfter does not end the
// row.
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
		conn, ep, upSince := c.conn, c.ep, c.upSince
		c.mu.Unlock()
		select {
		case <-conn.Done():
		case <-c.closing:
			return
		}
		if c.isClosing() {
			return
		}
		lived := time.Since(upSince)
		cause := wrapErr("connection to", ep.String(), connEndErr(conn))
		c.markDown()
		ae := &Error{}
		errors.As(cause, &ae)
		retry := c.reconnectOn(cause)
		switch {
		case !retry:
			c.cfg.logger.Warn("amq: connection closed by the peer; not reconnecting", "url", ep.String(), "condition", ae.Condition, "description", ae.Description)
		case ae.Condition == string(codec.ErrCondConnectionForced):
			c.cfg.logger.Info("amq: connection closed by the peer (forced); reconnecting", "url", ep.String(), "description", ae.Description)
		default:
			c.cfg.logger.Warn("amq: connection lost", "url", ep.String(), "err", cause)
		}
		c.emit(StateEvent{State: StateDisconnected, URL: ep.String(), Err: cause})
		if !retry {
			c.fail(cause)
			return
		}
		if lived >= c.cfg.ReconnectResetAfter {
			c.policy.Reset()
		}
		if !c.reconnect(cause) {
			return
		}
	}
}

// reconnectOn applies ConnectOptions.ReconnectOn to why a connection, or a
// connection attempt, ended.
func (c *Client) reconnectOn(err error) bool {
	if c.cfg.ReconnectOn != nil {
		return c.cfg.ReconnectOn(err)
	}
	return ReconnectOnLoss(err)
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
// returns false when the client is closing or has failed. The policy's
// schedule goes on from where it was: the caller resets it.
func (c *Client) reconnect(cause error) bool {
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
			if permanent(err) || !c.reconnectOn(err) {
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
			if !c.reconnectOn(err) {
				c.fail(err)
				return false
			}
			cause = err
			c.cfg.logger.Info("amq: reconnect attempt failed", "url", ep.String(), "attempt", attempt, "err", err)
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
	c.conn, c.ep, c.epIndex, c.upSince = conn, ep, idx, time.Now()
	c.lastConn = conn
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

// connEndErr is why conn ended, as a connection-scoped error. The engine
// reports no error only for a close from the peer that carried none (the
// client's own closes end the supervisor first).
func connEndErr(conn *engine.Conn) error {
	err := conn.Err()
	if err == nil {
		err = ErrClosedByPeer
	}
	return &scopedErr{ScopeConnection, err}
}

package amq

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/amqgo/amq/internal/engine"
)

// ErrSendBufferFull is returned by Send when the connection is down and
// ConnectOptions.MaxPendingSends messages (or MaxPendingBytes bytes) are
// already waiting for it: memory stays bounded during an outage.
var ErrSendBufferFull = errors.New("amq: too many sends waiting for the connection to come back")

// dialErrors is the failure of an initial connect: one error per URL tried.
type dialErrors []error

func (e dialErrors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	if len(e) == 1 {
		return parts[0]
	}
	return fmt.Sprintf("amq: no URL answered (%d tried): %s", len(e), strings.Join(parts, "; "))
}

func (e dialErrors) Unwrap() []error { return e }

// dialInitial makes the first connection: each URL once, in order (or,
// with RetryInitialConnect, round the list with the reconnect policy).
func (c *Client) dialInitial(ctx context.Context) (*engine.Conn, int, error) {
	if c.cfg.RetryInitialConnect {
		return c.dialWithPolicy(ctx)
	}
	var errs dialErrors
	for i, ep := range c.eps {
		conn, err := c.dialOne(ctx, ep)
		if err == nil {
			return conn, i, nil
		}
		errs = append(errs, err)
		if permanent(err) || ctx.Err() != nil {
			break
		}
	}
	return nil, 0, errs
}

// dialWithPolicy retries round the URL list with the reconnect policy
// until a connection is made, the policy gives up or ctx ends.
func (c *Client) dialWithPolicy(ctx context.Context) (*engine.Conn, int, error) {
	c.policy.Reset()
	var last error
	for attempt, i := 1, 0; ; attempt, i = attempt+1, (i+1)%len(c.eps) {
		delay, ok := c.policy.Next()
		if !ok {
			return nil, 0, fmt.Errorf("amq: Dial gave up after %d attempts: %w", attempt-1, last)
		}
		c.cfg.logger.Info("amq: connecting", "url", c.eps[i].String(), "attempt", attempt, "delay", delay)
		if !sleepCtx(ctx, delay) {
			return nil, 0, fmt.Errorf("amq: Dial: %w (last failure: %v)", ctx.Err(), last)
		}
		conn, err := c.dialOne(ctx, c.eps[i])
		if err == nil {
			return conn, i, nil
		}
		if permanent(err) {
			return nil, 0, err
		}
		last = err
	}
}

// dialOne makes one connection attempt, bounded by ConnectTimeout.
func (c *Client) dialOne(ctx context.Context, ep endpoint) (*engine.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	return dialEndpoint(ctx, c.cfg, ep)
}

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

// permanent reports failures that retrying cannot fix: authentication and
// TLS certificate verification.
func permanent(err error) bool {
	var ae *Error
	if errors.As(err, &ae) && ae.Scope == ScopeSASL {
		return true
	}
	var (
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
	)
	return errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie)
}

// sleepCtx waits d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pendingBudget bounds the sends waiting for a connection.
type pendingBudget struct {
	mu       sync.Mutex
	n        int
	bytes    int64
	max      int
	maxBytes int64
}

func (p *pendingBudget) acquire(size int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n+1 > p.max || p.bytes+size > p.maxBytes {
		return ErrSendBufferFull
	}
	p.n++
	p.bytes += size
	return nil
}

func (p *pendingBudget) release(size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n--
	p.bytes -= size
}

// connEndErr is why conn ended, as a connection-scoped error.
func connEndErr(conn *engine.Conn) error {
	err := conn.Err()
	if err == nil {
		err = engine.ErrConnClosed
	}
	return &scopedErr{ScopeConnection, err}
}

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
// until a connection is made, the policy gives up or ctx ends. A peer
// refusing the connection for a reason ConnectOptions.ReconnectOn does not
// retry ends it too.
func (c *Client) dialWithPolicy(ctx context.Context) (*engine.Conn, int, error) {
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
		if permanent(err) || !c.reconnectOn(err) {
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

package amq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/google/uuid"
)

// Client is a connection to an AMQP 1.0 peer: the reference's Container
// and Connection in one. It is safe for concurrent use. Senders and
// receivers made from it each run on their own AMQP session, so a slow or
// failed link does not stall the others.
type Client struct {
	cfg *connectConfig
	ep  endpoint

	conn *amqp.Conn

	mu       sync.Mutex
	closed   bool
	closeErr error
	links    map[link]struct{}
	cache    *senderCache
	closedCh chan struct{}
}

// link is what Client.Close must close: every open Sender and Receiver.
type link interface {
	closeForClient(ctx context.Context) error
}

// Dial connects to the peer at url (reference 6.1:
// scheme://[user[:password]@]host[:port], schemes amqp and amqps, a bare
// host[:port] meaning amqp) and opens an AMQP connection. It returns when
// the peer has answered the open, or with an error when ctx ends, the peer
// refuses, authentication fails or TLS verification fails. When ctx has no
// deadline, ConnectOptions.ConnectTimeout bounds the attempt.
func Dial(ctx context.Context, url string, opts *ConnectOptions) (*Client, error) {
	cfg, err := newConnectConfig(opts)
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, fmt.Errorf("amq: Dial: empty URL")
	}
	ep, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if cfg.ContainerID == "" {
		cfg.ContainerID = uuid.NewString()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.ConnectTimeout)
		defer cancel()
	}
	conn, err := dialEndpoint(ctx, cfg, ep)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:      cfg,
		ep:       ep,
		conn:     conn,
		links:    make(map[link]struct{}),
		closedCh: make(chan struct{}),
	}
	c.cache = newSenderCache(c)
	return c, nil
}

// ContainerID returns the container id this client announced to the peer.
func (c *Client) ContainerID() string { return c.cfg.ContainerID }

// URL returns the URL of the peer, without credentials.
func (c *Client) URL() string { return c.ep.String() }

// Done returns a channel that is closed when the connection has ended,
// by Close or because it was lost.
func (c *Client) Done() <-chan struct{} { return c.conn.Done() }

// Err returns why the connection ended: nil while it is open or after a
// clean Close, otherwise an *Error.
func (c *Client) Err() error {
	select {
	case <-c.conn.Done():
	default:
		return nil
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil
	}
	return wrapErr("connection", c.ep.String(), c.conn.Err())
}

// Close closes every sender and receiver of the client, then the
// connection. Before the socket is closed, each session is ended and the
// peer's confirmation awaited (bounded by ConnectOptions.CloseTimeout), so
// that everything Send reported as sent — pre-settled messages included —
// has reached the peer. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.closedCh
		return c.closeErr
	}
	c.closed = true
	links := make([]link, 0, len(c.links))
	for l := range c.links {
		links = append(links, l)
	}
	c.links = nil
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.CloseTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = l.closeForClient(ctx)
		}()
	}
	wg.Wait()
	c.cache.close(ctx)
	err := c.conn.Close()
	var ce *amqp.ConnError
	if errors.As(err, &ce) && ce.RemoteErr == nil {
		err = nil // a clean local close
	}
	c.closeErr = wrapErr("close", c.ep.String(), err)
	close(c.closedCh)
	c.cfg.logger.Info("amq: connection closed", "url", c.ep.String())
	return c.closeErr
}

// track registers an open link so Close can close it; it fails if the
// client is already closed.
func (c *Client) track(l link) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.links[l] = struct{}{}
	return nil
}

func (c *Client) untrack(l link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.links, l)
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// newSession begins a session for one link.
func (c *Client) newSession(ctx context.Context, op, address string) (*amqp.Session, error) {
	if c.isClosed() {
		return nil, fmt.Errorf("amq: %s: %w", op, ErrClosed)
	}
	s, err := c.conn.NewSession(ctx, nil)
	if err != nil {
		return nil, wrapErr(op, address, err)
	}
	return s, nil
}

// Send sends msg to msg.To and blocks until the peer settles it. It
// returns nil when the peer accepted the message, a *RejectedError,
// *ReleasedError or *ModifiedError for the other outcomes, and an *Error
// when the link or connection failed. The client keeps one sender per
// address for Send, so repeated sends to the same address reuse a link.
func (c *Client) Send(ctx context.Context, msg *Message) error {
	if msg == nil {
		return errors.New("amq: Send: nil message")
	}
	if msg.To == "" {
		return errors.New("amq: Send: the message has no To address (use NewMessage(body).SetTo(address), or a Sender)")
	}
	s, err := c.cache.get(ctx, msg.To)
	if err != nil {
		return err
	}
	return s.Send(ctx, msg)
}

// closeCtx derives the context used to close a link: the caller's, bounded
// by CloseTimeout when it has no deadline, because some peers (RabbitMQ
// 3.10) never answer a detach.
func (c *Client) closeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.CloseTimeout)
}

// endSession ends a link's session, bounded: ending the session is what
// makes the peer confirm it has processed every frame sent on it.
func endSession(ctx context.Context, s *amqp.Session, timeout time.Duration) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return s.Close(ctx)
}

package amq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// Client is a connection to an AMQP 1.0 peer: the reference's Container
// and Connection in one. It is safe for concurrent use.
//
// A supervisor goroutine owns the underlying connection. When it is lost,
// the supervisor reconnects (to the next URL of ConnectOptions.URLs, with
// the delays of ConnectOptions.Reconnect), re-attaches every open sender
// and receiver, resends what was in flight, and only then lets blocked
// calls continue; see docs/failover.md. A peer that closes the connection
// on purpose (with an error condition other than amqp:connection:forced,
// or with none) ends the client instead, as in the reference: Done is
// closed and Err says why (ConnectOptions.ReconnectOn changes the rule).
// Senders and receivers each run on their own AMQP session, so a slow or
// failed link does not stall the others.
type Client struct {
	cfg    *connectConfig
	eps    []endpoint
	policy ReconnectPolicy
	events eventQueue
	trace  *tracing // nil when tracing is off

	mu      sync.Mutex
	conn    *engine.Conn  // current connection; nil while reconnecting
	ep      endpoint      // conn's endpoint
	epIndex int           // index of ep in eps
	upSince time.Time     // when conn became usable
	gen     uint64        // bumped for every new connection
	linkGen atomic.Uint64 // see newLinkGen
	up      chan struct{} // closed while conn is usable; replaced when lost
	closed  bool          // Close was called
	failErr error         // why the client gave up; nil while alive
	links   map[link]struct{}
	cache   *senderCache
	pending pendingBudget
	// lastConn, under mu, is conn, or while reconnecting the connection
	// lost: what its peer's open said stays readable.
	lastConn *engine.Conn

	closing   chan struct{} // closed by Close: stops the supervisor
	done      chan struct{} // closed when the client has ended (Close or failure)
	doneOnce  sync.Once
	supDone   chan struct{}
	closeErr  error
	closeDone chan struct{} // closed when Close has finished

	// The link to the peer's transaction coordinator on the current
	// connection, attached by the first Begin (tx.go).
	txMu  sync.Mutex
	txCtl *engine.Sender
}

func (c *Client) endDone() { c.doneOnce.Do(func() { close(c.done) }) }

// link is what the client supervises: every open Sender and Receiver.
type link interface {
	// reattach attaches the link again on a new connection.
	reattach(ctx context.Context, conn *engine.Conn, gen uint64) error
	// connectionLost marks the link as down until reattach.
	connectionLost()
	// fail ends the link with err (the client gave up, or the peer refused
	// the link when it was re-attached).
	fail(err error)
	// closeForClient detaches the link as part of Client.Close.
	closeForClient(ctx context.Context) error
}

// Dial connects to the peer at url (reference 6.1:
// scheme://[user[:password]@]host[:port], schemes amqp and amqps, a bare
// host[:port] meaning amqp), or to the first of ConnectOptions.URLs that
// answers, and opens an AMQP connection. Each URL of the list is tried
// once, in order; the error names every URL and its failure. With
// ConnectOptions.RetryInitialConnect the first connection is retried with
// the reconnect policy instead (the reference's behaviour). When ctx has
// no deadline, ConnectOptions.ConnectTimeout bounds each attempt.
//
// With no url and no ConnectOptions.URLs, Dial reads connect.json (see
// FindConnectConfig; reference chapter 13): the file gives the URL, and
// what it sets overrides the options given in code. No file means the
// reference's defaults, amqps://localhost:5671.
//
// Authentication and TLS verification failures end Dial at once.
func Dial(ctx context.Context, url string, opts *ConnectOptions) (*Client, error) {
	cfg, err := newConnectConfig(opts)
	if err != nil {
		return nil, err
	}
	if url == "" && len(cfg.URLs) == 0 {
		// No URL at all: connect.json decides (reference chapter 13).
		cc, err := FindConnectConfig()
		if err != nil {
			return nil, err
		}
		if cc == nil {
			cc = &ConnectConfig{URL: defaultConnectURL}
		}
		applyConnectFile(cfg, cc)
		if cfg, err = newConnectConfig(&cfg.ConnectOptions); err != nil {
			return nil, fmt.Errorf("amq: %s: %w", cc.Path, err)
		}
		url = cc.URL
		cfg.logger.Debug("amq: using connect.json", "path", cc.Path, "url", url)
	}
	eps, err := endpointsFor(url, cfg.URLs)
	if err != nil {
		return nil, err
	}
	if cfg.ContainerID == "" {
		cfg.ContainerID = uuid.NewString()
	}
	if err := cfg.prepareEngine(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		eps:       eps,
		policy:    cfg.Reconnect,
		events:    eventQueue{fn: cfg.OnStateChange},
		trace:     newTracing(&cfg.ConnectOptions),
		links:     make(map[link]struct{}),
		up:        make(chan struct{}),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
		supDone:   make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	if c.policy == nil {
		c.policy = NewExponentialReconnect(DefaultReconnectInitial, DefaultReconnectMax, 0)
	}
	c.pending.max, c.pending.maxBytes = cfg.MaxPendingSends, cfg.MaxPendingBytes
	c.cache = newSenderCache(c)

	c.policy.Reset()
	conn, idx, err := c.dialInitial(ctx)
	if err != nil {
		return nil, err
	}
	c.conn, c.ep, c.epIndex, c.gen, c.upSince = conn, eps[idx], idx, 1, time.Now()
	c.lastConn = conn
	close(c.up)
	c.emit(StateEvent{State: StateConnected, URL: c.ep.String()})
	go c.supervise()
	return c, nil
}

// endpointsFor parses the URL or the failover list; giving both is an
// error, as in the reference.
func endpointsFor(url string, urls []string) ([]endpoint, error) {
	if url != "" && len(urls) > 0 {
		return nil, errors.New("amq: Dial: both the url argument and ConnectOptions.URLs are set; give one or the other")
	}
	if url != "" {
		urls = []string{url}
	}
	if len(urls) == 0 {
		return nil, errors.New("amq: Dial: no URL: pass one, or set ConnectOptions.URLs")
	}
	eps := make([]endpoint, 0, len(urls))
	for _, u := range urls {
		ep, err := parseURL(u)
		if err != nil {
			return nil, err
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// ContainerID returns the container id this client announced to the peer.
func (c *Client) ContainerID() string { return c.cfg.ContainerID }

// URL returns the URL of the peer currently (or last) connected, without
// credentials.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ep.String()
}

// PeerOfferedCapabilities returns the offered-capabilities of the peer's
// open (AMQP 1.0 §2.7.1): the extensions it supports, such as
// "ANONYMOUS-RELAY" (it routes messages sent on a link with no target
// address by their "to"). They are the current connection's: after a reconnect, the
// new peer's; while reconnecting, the last one's.
func (c *Client) PeerOfferedCapabilities() []string {
	offered, _ := c.peerCapabilities()
	return offered
}

// PeerDesiredCapabilities returns the desired-capabilities of the peer's
// open (AMQP 1.0 §2.7.1): the extensions it would like this client to
// support. Like PeerOfferedCapabilities, they are the current
// connection's.
func (c *Client) PeerDesiredCapabilities() []string {
	_, desired := c.peerCapabilities()
	return desired
}

func (c *Client) peerCapabilities() (offered, desired []string) {
	c.mu.Lock()
	conn := c.lastConn
	c.mu.Unlock()
	o, d := engine.PeerCapabilities(conn)
	return symbolStrings(o), symbolStrings(d)
}

// symbolStrings copies symbols as strings, nil for none.
func symbolStrings(syms []codec.Symbol) []string {
	if len(syms) == 0 {
		return nil
	}
	out := make([]string, len(syms))
	for i, s := range syms {
		out[i] = string(s)
	}
	return out
}

// Done returns a channel that is closed when the client has ended: after
// Close, when the peer closed the connection for a reason that
// ConnectOptions.ReconnectOn does not retry, or when it gave up
// reconnecting.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client ended: nil while it runs and after Close,
// otherwise the error it gave up on. When the peer closed the connection
// with an error, that is an *Error whose Condition and Description are
// the peer's; when the peer closed it without one, errors.Is(err,
// ErrClosedByPeer) holds.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failErr
}

// Close closes every sender and receiver of the client, then the
// connection, and stops reconnecting (even in the middle of a back-off
// delay). Before the socket is closed, each session is ended and the
// peer's confirmation awaited (bounded by ConnectOptions.CloseTimeout), so
// that everything Send reported as sent — pre-settled messages included —
// has reached the peer. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.closeDone
		return c.closeErr
	}
	c.closed = true
	close(c.closing)
	c.mu.Unlock()
	<-c.supDone

	c.mu.Lock()
	links := make([]link, 0, len(c.links))
	for l := range c.links {
		links = append(links, l)
	}
	c.links = nil
	conn := c.conn
	failed := c.failErr != nil
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
	c.cache.close()
	var err error
	if conn != nil && !failed {
		// The peer's answer to our close is awaited, within CloseTimeout;
		// a peer that does not answer costs the wait, not an error.
		if err = engine.CloseWait(ctx, conn, nil); errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	c.closeErr = wrapErr("close", c.URL(), err)
	c.emit(StateEvent{State: StateClosed, URL: c.URL()})
	c.cfg.logger.Info("amq: client closed", "url", c.URL())
	c.endDone()
	close(c.closeDone)
	return c.closeErr
}

// connection waits until a connection is usable and returns it with its
// generation. It fails at once when the client is closed or has failed,
// and when ctx ends.
func (c *Client) connection(ctx context.Context) (*engine.Conn, uint64, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, 0, ErrClosed
		}
		if c.failErr != nil {
			err := c.failErr
			c.mu.Unlock()
			return nil, 0, err
		}
		conn, gen, up := c.conn, c.gen, c.up
		c.mu.Unlock()
		select {
		case <-up:
			if conn != nil {
				return conn, gen, nil
			}
		case <-c.done:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// track registers a link attached on connection generation gen, so that
// the supervisor re-attaches it after a reconnect. errStale means the
// connection was replaced meanwhile: the caller attaches again.
func (c *Client) track(l link, gen uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.failErr != nil {
		return c.failErr
	}
	if c.gen != gen {
		return errStale
	}
	c.links[l] = struct{}{}
	return nil
}

var errStale = errors.New("amq: connection replaced during attach")

func (c *Client) untrack(l link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.links, l)
}

// Send sends msg to msg.To and blocks until the peer settles it. It
// returns nil when the peer accepted the message, a *RejectedError,
// *ReleasedError or *ModifiedError for the other outcomes, and an *Error
// when the link or connection failed for good. The client keeps one sender
// per address for Send, so repeated sends to the same address reuse a link.
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
// by CloseTimeout when it has no deadline.
func (c *Client) closeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.CloseTimeout)
}

// endSession ends a link's session, bounded: ending the session is what
// makes the peer confirm it has processed every frame sent on it.
func endSession(ctx context.Context, s *engine.Session, timeout time.Duration) error {
	if s == nil {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return s.End(ctx, nil)
}

// connLost reports whether conn has ended: the error a link reported is
// then a connection loss, which the supervisor repairs.
func connLost(conn *engine.Conn) bool {
	if conn == nil {
		return true
	}
	select {
	case <-conn.Done():
		return true
	default:
		return false
	}
}

func (c *Client) emit(ev StateEvent) {
	ev.Time = time.Now()
	c.events.push(ev)
}

// detachAndEnd closes a link the way a peer expects — a detach with
// closed=true — and then ends the link's session; the peer's answer to the
// end confirms it has processed both (frames are written in the order they
// are queued). The answer to the detach itself is not awaited: it adds
// nothing the end's does not, and a peer that does not give it must not
// hold Close until ctx ends.
func (c *Client) detachAndEnd(ctx context.Context, conn *engine.Conn, l *engine.Link, session *engine.Session) error {
	if !connLost(conn) {
		_ = l.Close(nil) // ErrLinkDetached: the peer detached it first
	}
	err := endSession(ctx, session, c.cfg.CloseTimeout)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !connLost(conn) {
		return err
	}
	return nil
}

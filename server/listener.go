package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// Server is a listening AMQP 1.0 endpoint. Create it with Listen; it serves
// until Close.
type Server struct {
	cfg    *config
	eng    *engine.Config // what every connection runs with
	ln     net.Listener
	scheme string
	path   string // amqpws(s): the path upgrades are taken on, or ""
	useTLS bool

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the server started

	mu    sync.Mutex
	conns map[*Conn]struct{}
	// handshaking are the connections not open yet, by accept order: the
	// oldest makes room when Options.MaxHandshakes are.
	handshaking map[*Conn]uint64
	closed      bool
	nextID      uint64
}

// Listen starts a server on url: "amqp://HOST:PORT" or "amqps://HOST:PORT"
// (amqps requires opts.TLSConfig), or one of the reference's bare forms
// (AMQ Python 6.5): "HOST:PORT", "HOST", "[IPV6]:PORT", "[IPV6]", taken as
// amqp. Port 0 picks a free port (URL reports the real one); a missing port
// means the AMQP default, 5672 or 5671. An IPv4 host listens on IPv4 only,
// so "0.0.0.0" is every IPv4 address and not the IPv6 ones; "[::]" (or
// "[::0]") listens on both, where the system allows it. opts may be nil; it
// is copied.
//
// "amqpws://HOST:PORT[/PATH]" and "amqpwss://HOST:PORT[/PATH]" (amqpwss
// requires opts.TLSConfig) serve AMQP over WebSockets (the OASIS AMQP
// WebSocket Binding): an HTTP server on the port upgrades requests for
// the WebSocket subprotocol "amqp" (others are refused with 400 Bad
// Request) to AMQP connections, which are then served as over TCP, limits
// and SASL included. With a path, only upgrades to that path are taken
// (others get 404); without one, any path. The default ports are 80 and
// 443. On amqpwss TLS is HTTP's (https); a client certificate it
// verified serves SASL EXTERNAL as on amqps.
func Listen(rawURL string, opts *Options) (*Server, error) {
	scheme, network, addr, path, err := parseListen(rawURL)
	if err != nil {
		return nil, err
	}
	if scheme == "amqpwss" && (opts == nil || opts.TLSConfig == nil) {
		return nil, fmt.Errorf("server: amqpwss URL needs Options.TLSConfig")
	}
	useTLS := scheme == "amqps" || scheme == "amqpwss"
	cfg, err := newConfig(opts, useTLS)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", addr, err)
	}
	if isWebSocketScheme(scheme) {
		var tlsCfg *tls.Config
		if scheme == "amqpwss" {
			tlsCfg = cfg.TLSConfig
		}
		return serve(newWSListener(ln, path, tlsCfg, cfg), scheme, path, cfg), nil
	}
	return serve(ln, scheme, "", cfg), nil
}

// serve serves the connections ln accepts; path is the HTTP path of an
// amqpws(s) listener, or "". cfg is checked already.
func serve(ln net.Listener, scheme, path string, cfg *config) *Server {
	useTLS := scheme == "amqps" // amqpwss: TLS is the HTTP server's
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:         cfg,
		ln:          ln,
		scheme:      scheme,
		path:        path,
		useTLS:      useTLS,
		ctx:         ctx,
		cancel:      cancel,
		conns:       make(map[*Conn]struct{}),
		handshaking: make(map[*Conn]uint64),
	}
	s.eng = &engine.Config{
		ContainerID:      cfg.ContainerID,
		MaxFrameSize:     cfg.MaxFrameSize,
		ChannelMax:       cfg.ChannelMax,
		IdleTimeout:      cfg.idleTimeout,
		HandshakeTimeout: cfg.handshakeTimeout,
		MaxMessageSize:   cfg.MaxMessageSize,
		MaxLinks:         cfg.MaxLinks,
		CreditWindow:     cfg.CreditWindow,
		Coordinator:      cfg.Transactions,
		Handler:          cfg.Handler,
		Logger:           cfg.Logger,
		SASL:             saslServer{cfg},
		AllowBare:        !cfg.RequireSASL && cfg.AllowAnonymous,
		Context:          ctx,
		WG:               &s.wg,
		OnOpen:           s.opened,
		OnEnd:            s.removeConn,
	}
	s.eng.OfferedCapabilities, s.eng.DesiredCapabilities = cfg.OfferedCapabilities, cfg.DesiredCapabilities
	if useTLS {
		s.eng.TLS = cfg.TLSConfig
	}
	s.wg.Add(1)
	go s.acceptLoop()
	cfg.Logger.Info("amqp server listening", "url", s.URL())
	return s
}

// parseListen checks a listen URL, or a bare HOST[:PORT], and returns
// its scheme, the network to listen on ("tcp4" for an IPv4 host: Go's
// "tcp" would take 0.0.0.0 as IPv6 too), host:port, and the path of an
// amqpws(s) URL ("" for none).
func parseListen(rawURL string) (scheme, network, addr, path string, err error) {
	if !strings.Contains(rawURL, "://") && rawURL != "" {
		rawURL = "amqp://" + rawURL // the reference's bare forms
	}
	scheme, addr, path, err = parseURLForm(rawURL)
	if err != nil {
		return "", "", "", "", err
	}
	host, _, _ := net.SplitHostPort(addr)
	network = "tcp"
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
		network = "tcp4"
	}
	return scheme, network, addr, path, nil
}

func parseURLForm(rawURL string) (scheme, addr, path string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", "", fmt.Errorf("server: invalid listen URL %q: %w", rawURL, err)
	}
	var defPort string
	switch u.Scheme {
	case "amqp":
		defPort = "5672"
	case "amqps":
		defPort = "5671"
	case "amqpws":
		defPort = "80"
	case "amqpwss":
		defPort = "443"
	default:
		return "", "", "", fmt.Errorf("server: invalid listen URL %q: scheme must be amqp, amqps, amqpws or amqpwss", rawURL)
	}
	if isWebSocketScheme(u.Scheme) {
		if p := u.EscapedPath(); p != "/" {
			path = p
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return "", "", "", fmt.Errorf("server: invalid listen URL %q: only scheme://host:port[/path] is allowed", rawURL)
		}
	} else if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", "", fmt.Errorf("server: invalid listen URL %q: only scheme://host:port is allowed (a path only with amqpws:// and amqpwss://)", rawURL)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = defPort
	}
	if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
		return "", "", "", fmt.Errorf("server: invalid listen URL %q: bad port %q", rawURL, port)
	}
	return u.Scheme, net.JoinHostPort(host, port), path, nil
}

// URL returns the URL clients dial, with the real port: amqp://127.0.0.1:PORT,
// or amqpws://127.0.0.1:PORT/PATH for a WebSocket listener.
func (s *Server) URL() string {
	return s.scheme + "://" + s.ln.Addr().String() + s.path
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// NumConns returns the number of live connections.
func (s *Server) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Conns returns the live connections.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// CloseConnections closes every live connection with a close frame carrying
// the error cond/description (amqp:connection:forced simulates a broker
// restart; an empty cond sends a close without error). The server keeps
// listening. It returns without waiting for the connections to finish
// closing.
func (s *Server) CloseConnections(cond codec.Symbol, description string) {
	var err error
	if cond != "" {
		err = &codec.Error{Condition: cond, Description: description}
	}
	for _, c := range s.Conns() {
		_ = c.Close(err)
	}
}

// Close stops listening, closes every connection (with
// amqp:connection:forced), and waits until every goroutine the server
// started has returned, handlers included: a handler must return once its
// context is done. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	// The close frames are queued before the handlers' contexts end, so
	// that peers learn of the shutdown from the connection's close, not
	// from links the handlers let go of.
	s.CloseConnections(codec.ErrCondConnectionForced, "server shutting down")
	s.cancel()
	s.wg.Wait()
	s.cfg.Logger.Info("amqp server closed", "url", s.URL())
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failure (EMFILE, ...): back off as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			s.cfg.Logger.Warn("amqp server accept failed", "err", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		s.mu.Lock()
		if s.closed || (s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections) {
			closed := s.closed
			s.mu.Unlock()
			if !closed {
				s.cfg.Logger.Warn("amqp server connection refused: MaxConnections reached", "remote", nc.RemoteAddr().String())
			}
			nc.Close()
			continue
		}
		s.nextID++
		c := engine.NewConn(nc, s.nextID, s.eng)
		s.conns[c] = struct{}{}
		evict := s.makeHandshakeRoomLocked()
		s.handshaking[c] = s.nextID
		s.wg.Add(1)
		s.mu.Unlock()
		if evict != nil {
			s.cfg.Logger.Warn("amqp server closed a connection still in its handshake: MaxHandshakes reached",
				"remote", evict.RemoteAddr().String())
			engine.Abort(evict)
		}
		go engine.Serve(c)
	}
}

// makeHandshakeRoomLocked returns the oldest connection still in its
// handshake, taken out of the count, when MaxHandshakes are: it is closed
// to make room. Sockets opened and left idle would otherwise hold their
// places for the whole handshake timeout and lock the clients out (1,100
// of them exhausted a broker's file descriptors). A client that means to
// connect completes its handshake in milliseconds; one evicted meanwhile
// retries. s.mu must be held.
func (s *Server) makeHandshakeRoomLocked() *Conn {
	max := s.cfg.MaxHandshakes
	if max <= 0 || len(s.handshaking) < max {
		return nil
	}
	var oldest *Conn
	var seq uint64
	for c, n := range s.handshaking {
		if oldest == nil || n < seq {
			oldest, seq = c, n
		}
	}
	delete(s.handshaking, oldest)
	return oldest
}

// opened notes that c completed its handshake.
func (s *Server) opened(c *Conn) {
	s.mu.Lock()
	delete(s.handshaking, c)
	s.mu.Unlock()
}

// removeConn forgets an ended connection.
func (s *Server) removeConn(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	delete(s.handshaking, c)
	s.mu.Unlock()
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

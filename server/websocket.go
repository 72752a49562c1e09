package server

import (
	"crypto/tls"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/amqgo/amq/internal/wsnet"
	"github.com/coder/websocket"
)

// wsListener is a net.Listener over an HTTP server: each WebSocket
// upgrade to the amqp subprotocol that the server accepts is one
// connection of Accept, a stream of bytes as from a TCP socket, so that
// the accept loop and the engine serve it as any other (MaxConnections,
// MaxHandshakes, the handshake timeout and SASL all apply). For amqpwss,
// TLS is under HTTP: the HTTP server does it, not the engine.
type wsListener struct {
	tcp   net.Listener
	path  string // the path upgrades are accepted on; "" for any
	http  *http.Server
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once

	// Connections not yet upgraded, oldest first, at most maxPending:
	// the HTTP server takes every socket, so without a bound idle ones
	// would hold file descriptors until the header timeout, as they would
	// before the AMQP handshake (MaxHandshakes).
	maxPending int
	logger     *slog.Logger
	pendingMu  sync.Mutex
	pending    []net.Conn
}

// newWSListener serves WebSocket upgrades on tcp. tlsCfg is nil for
// amqpws.
func newWSListener(tcp net.Listener, path string, tlsCfg *tls.Config, cfg *config) *wsListener {
	l := &wsListener{
		tcp:        tcp,
		path:       path,
		conns:      make(chan net.Conn),
		done:       make(chan struct{}),
		maxPending: cfg.MaxHandshakes,
		logger:     cfg.Logger,
	}
	// The request that upgrades must come within the handshake timeout
	// (the AMQP handshake then gets a timeout of its own).
	headerTimeout := cfg.handshakeTimeout
	if headerTimeout <= 0 {
		headerTimeout = DefaultHandshakeTimeout
	}
	l.http = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       headerTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(slogWriter{cfg.Logger}, "", 0),
		ConnState:         l.connState,
	}
	inner := tcp
	if tlsCfg != nil {
		tc := tlsCfg.Clone()
		tc.NextProtos = []string{"http/1.1"} // no HTTP/2: it cannot upgrade
		inner = tls.NewListener(tcp, tc)
	}
	go func() { _ = l.http.Serve(inner) }()
	return l
}

// connState keeps the list of connections not yet upgraded; a new one
// beyond maxPending closes the oldest. A WebSocket client sends its
// upgrade request at once, so the oldest is the likeliest to be idle.
func (l *wsListener) connState(c net.Conn, state http.ConnState) {
	var evict net.Conn
	l.pendingMu.Lock()
	switch state {
	case http.StateNew:
		l.pending = append(l.pending, c)
		if l.maxPending > 0 && len(l.pending) > l.maxPending {
			evict = l.pending[0]
			l.pending = slices.Delete(l.pending, 0, 1)
		}
	case http.StateHijacked, http.StateClosed:
		if i := slices.Index(l.pending, c); i >= 0 {
			l.pending = slices.Delete(l.pending, i, i+1)
		}
	}
	l.pendingMu.Unlock()
	if evict != nil {
		l.logger.Warn("amqp websocket listener closed a connection not yet upgraded: MaxHandshakes reached",
			"remote", evict.RemoteAddr().String())
		_ = evict.Close()
	}
}

// ServeHTTP upgrades a request to the amqp subprotocol and hands the
// connection to Accept.
func (l *wsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.path != "" && r.URL.EscapedPath() != l.path {
		http.NotFound(w, r)
		return
	}
	// A client that does not ask for amqp is refused before the upgrade
	// (the binding requires the subprotocol): upgraded, it would speak
	// something else.
	if headerHasToken(r, "Upgrade", "websocket") && !headerHasToken(r, "Sec-WebSocket-Protocol", wsnet.Subprotocol) {
		http.Error(w, `this is an AMQP endpoint: the WebSocket subprotocol must be "amqp"`, http.StatusBadRequest)
		return
	}
	wc, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{wsnet.Subprotocol},
		// The origin check guards cookie-authenticated sites against
		// pages of other origins; AMQP authenticates inside the stream,
		// with SASL, so a browser client of any origin is let in.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept has answered the request
	}
	// The connection outlives the request (and its context).
	nc := &wsServerConn{Conn: wsnet.New(wc, requestLocalAddr(r), requestRemoteAddr(r))}
	if r.TLS != nil {
		st := *r.TLS
		nc.tlsState = &st
	}
	select {
	case l.conns <- nc:
	case <-l.done:
		_ = wc.CloseNow()
	}
}

// headerHasToken reports whether the comma-separated values of header
// key (possibly over several headers) hold token, ignoring case, as
// websocket.Accept compares subprotocols.
func headerHasToken(r *http.Request, key, token string) bool {
	for _, h := range r.Header.Values(key) {
		for p := range strings.SplitSeq(h, ",") {
			if strings.EqualFold(strings.TrimSpace(p), token) {
				return true
			}
		}
	}
	return false
}

// Accept returns the next upgraded connection.
func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the HTTP server and the TCP listener; upgraded connections
// are the engine's, and stay open.
func (l *wsListener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.done)
		err = l.http.Close()
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	})
	return err
}

// Addr is the TCP listener's address.
func (l *wsListener) Addr() net.Addr { return l.tcp.Addr() }

// wsServerConn is an accepted WebSocket as a net.Conn. Its Close does not
// wait for the peer: wsnet.Conn's Close sends a close frame and then
// waits up to seconds for the peer's, and the accept loop closes
// connections (beyond MaxConnections, or evicted beyond MaxHandshakes)
// that a peer may well leave unanswered. The handshake finishes on a
// goroutine of its own, bounded by the library's timeouts.
type wsServerConn struct {
	net.Conn
	once     sync.Once
	tlsState *tls.ConnectionState // amqpwss: the https request's
}

// TLSConnectionState is the TLS under the WebSocket (amqpwss), for SASL
// EXTERNAL and Conn.TLSState; nil for amqpws.
func (c *wsServerConn) TLSConnectionState() *tls.ConnectionState { return c.tlsState }

func (c *wsServerConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = nil
		go func() { _ = c.Conn.Close() }()
	})
	return err
}

// slogWriter sends the HTTP server's error log (failed TLS handshakes,
// malformed requests) to the server's logger at debug level: they are
// the peers' faults.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("amqp websocket listener: " + strings.TrimSpace(string(p)))
	return len(p), nil
}

// requestLocalAddr is the address a request came in on, nil if unknown.
func requestLocalAddr(r *http.Request) net.Addr {
	a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return a
}

// requestRemoteAddr is the address a request came from, nil if unknown:
// net/http keeps it as text, which for a TCP listener is ip:port.
func requestRemoteAddr(r *http.Request) net.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

// isWebSocketScheme reports whether scheme is amqpws or amqpwss.
func isWebSocketScheme(scheme string) bool { return scheme == "amqpws" || scheme == "amqpwss" }

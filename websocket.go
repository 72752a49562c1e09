package amq

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/amqgo/amq/internal/wsnet"
	"github.com/coder/websocket"
)

// WebSocketOptions configures connections to amqpws:// and amqpwss://
// URLs: AMQP over WebSockets (AMQP-WSB 1.0), for networks that let only
// HTTP through. TLS (ConnectOptions.TLS, for amqpwss), SASL, reconnect and
// failover work as over TCP.
type WebSocketOptions struct {
	// Header holds extra headers of the HTTP upgrade request, such as an
	// Authorization a gateway in front of the broker wants. The headers
	// of the WebSocket handshake itself (Upgrade, Connection,
	// Sec-WebSocket-Key, -Version and -Protocol) are the client's: values
	// given here are replaced.
	Header http.Header
	// Proxy chooses the HTTP proxy of a connection, as
	// http.Transport.Proxy does: a nil URL (and nil error) connects
	// directly. nil: http.ProxyFromEnvironment, that is HTTPS_PROXY for
	// amqpwss, HTTP_PROXY for amqpws, and NO_PROXY, as net/http does.
	// http.ProxyURL(u) names one proxy. An amqpwss connection goes
	// through the proxy with CONNECT; an amqpws one asks the proxy for
	// the upgrade as for any http request.
	Proxy func(*http.Request) (*url.URL, error) `json:"-"`
}

// errWSSubprotocol: the server upgraded the connection without choosing
// the amqp subprotocol, which the binding requires.
var errWSSubprotocol = errors.New(`the server did not choose the WebSocket subprotocol "amqp": is this an AMQP WebSocket endpoint?`)

// dialWebSocket opens the WebSocket of an amqpws or amqpwss endpoint and
// returns it as a stream of bytes: AMQP frames may span WebSocket
// messages, and a message may hold several frames (peers cut the stream
// where they like), so the engine reads it as it reads a TCP socket.
// tlsCfg is nil for amqpws.
func dialWebSocket(ctx context.Context, cfg *connectConfig, ep endpoint, tlsCfg *tls.Config) (net.Conn, error) {
	proxy := cfg.WebSocket.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	var raw atomic.Pointer[net.Conn] // the TCP connection, for its addresses
	var d net.Dialer
	tr := &http.Transport{
		Proxy: proxy,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				raw.Store(&c)
			}
			return c, err
		},
		// The upgrade needs HTTP/1.1: a custom dialler and TLS
		// configuration keep HTTP/2 off, and so does NextProtos.
		DisableKeepAlives: true,
		// A peer's answer to the upgrade is a few hundred bytes; net/http
		// would read up to 10 MiB of headers.
		MaxResponseHeaderBytes: 64 << 10,
	}
	httpScheme := "http"
	if tlsCfg != nil {
		httpScheme = "https"
		tc := tlsCfg.Clone()
		tc.NextProtos = []string{"http/1.1"}
		tr.TLSClientConfig = tc
	}
	defer tr.CloseIdleConnections()

	target := (&url.URL{Scheme: httpScheme, Host: ep.Addr()}).String() + ep.Path
	wc, _, err := websocket.Dial(ctx, target, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		HTTPHeader:   cfg.WebSocket.Header,
		Subprotocols: []string{wsnet.Subprotocol},
	})
	if err != nil {
		return nil, err
	}
	if wc.Subprotocol() != wsnet.Subprotocol {
		_ = wc.CloseNow()
		return nil, errWSSubprotocol
	}
	// The connection outlives ctx, which bounds the dial only. Its
	// addresses are those of the TCP connection under it: the proxy's
	// when there is one.
	var local, remote net.Addr
	if p := raw.Load(); p != nil {
		local, remote = (*p).LocalAddr(), (*p).RemoteAddr()
	}
	return wsnet.New(wc, local, remote), nil
}

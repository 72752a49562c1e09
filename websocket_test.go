package amq_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

// sendReceive sends body to address on c and receives it back.
func sendReceive(t *testing.T, c *amq.Client, address string, body any) *amq.Delivery {
	t.Helper()
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, address, nil)
	require.NoError(t, err)
	require.NoError(t, c.Send(ctx, amq.NewMessage(body).SetTo(address)))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	return d
}

func TestWebSocketSendReceive(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithWebSocket(), amqtest.WithUser("alice", "s3cret"))
	require.True(t, strings.HasPrefix(b.URL(), "amqpws://127.0.0.1:"), b.URL())
	u := strings.Replace(b.URL(), "://", "://alice:s3cret@", 1)
	c := dial(t, u, &amq.ConnectOptions{SASL: amq.SASLOptions{Mechanisms: []string{"PLAIN"}}})
	assert.Equal(t, b.URL(), c.URL(), "the URL without credentials")

	d := sendReceive(t, c, "ws-q", "over a WebSocket")
	assert.Equal(t, "over a WebSocket", d.Message.Body)

	// A message of many frames, and many WebSocket messages: the AMQP
	// stream is cut without regard for either.
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	d = sendReceive(t, c, "ws-big", big)
	assert.Equal(t, big, d.Message.Body)

	// A wrong password fails as over TCP, for good.
	bad := strings.Replace(b.URL(), "://", "://alice:wrong@", 1)
	_, err := amq.Dial(testCtx(t), bad, nil)
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, amq.ScopeSASL, ae.Scope)
	assert.NotContains(t, err.Error(), "wrong")
}

func TestWebSocketTLS(t *testing.T) {
	pki := newTestPKI(t)
	b := amqtest.NewBroker(t, amqtest.WithWebSocket(), amqtest.WithTLS(pki.serverTLS))
	require.True(t, strings.HasPrefix(b.URL(), "amqpwss://127.0.0.1:"), b.URL())

	c := dial(t, b.URL(), &amq.ConnectOptions{TLS: amq.TLSOptions{CA: pki.caFile}})
	d := sendReceive(t, c, "wss-q", "over TLS")
	assert.Equal(t, "over TLS", d.Message.Body)

	// Without the CA the certificate is refused, as for amqps, and the
	// failure is not worth retrying.
	_, err := amq.Dial(testCtx(t), b.URL(), &amq.ConnectOptions{RetryInitialConnect: true})
	var cve *tls.CertificateVerificationError
	require.ErrorAs(t, err, &cve)

	// A client certificate verified by the https handshake under the
	// WebSocket authenticates with SASL EXTERNAL, as over amqps.
	var logs syncBuffer
	c = dial(t, b.URL(), &amq.ConnectOptions{
		TLS:    amq.TLSOptions{CA: pki.caFile, Cert: pki.clientCert, Key: pki.clientKey},
		Logger: slogTo(&logs),
	})
	require.NoError(t, c.Send(testCtx(t), amq.NewMessage("as carol").SetTo("wss-q")))
	assert.Contains(t, logs.String(), "sasl=EXTERNAL")

	// A plain WebSocket to the TLS port gets no AMQP.
	_, err = amq.Dial(testCtx(t), strings.Replace(b.URL(), "amqpwss:", "amqpws:", 1), nil)
	require.Error(t, err)
}

// httpServer serves h on a loopback port and returns its host:port.
func httpServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestWebSocketHeadersAndPath(t *testing.T) {
	// A gateway in front of the broker: it checks the Authorization the
	// client adds and the path, then passes the upgrade on.
	b := amqtest.NewBroker(t, amqtest.WithWebSocket())
	target, err := url.Parse(strings.Replace(b.URL(), "amqpws:", "http:", 1))
	require.NoError(t, err)
	var seen atomic.Value
	addr := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path + " " + r.Header.Get("Authorization") + " " + r.Header.Get("Sec-WebSocket-Protocol"))
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		tunnel(t, w, r, target.Host)
	}))
	u := "amqpws://" + addr + "/gw/amqp"

	_, err = amq.Dial(testCtx(t), u, nil)
	require.ErrorContains(t, err, "401")
	assert.Equal(t, "/gw/amqp  amqp", seen.Load())

	c := dial(t, u, &amq.ConnectOptions{WebSocket: amq.WebSocketOptions{
		Header: http.Header{"Authorization": {"Bearer t0ken"}},
	}})
	assert.Equal(t, "/gw/amqp Bearer t0ken amqp", seen.Load())
	d := sendReceive(t, c, "gw-q", "through the gateway")
	assert.Equal(t, "through the gateway", d.Message.Body)
}

// tunnel passes the request on to addr and then copies bytes both ways:
// a reverse proxy for an upgrade, as a gateway would be.
func tunnel(t *testing.T, w http.ResponseWriter, r *http.Request, addr string) {
	up, err := net.Dial("tcp", addr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	r.URL.Path = "/"
	if err := r.Write(up); err != nil {
		up.Close()
		conn.Close()
		return
	}
	pipe(conn, brw.Reader, up)
}

// pipe copies between a and b (a's buffered reader first) until either
// side ends, then closes both.
func pipe(a net.Conn, ar io.Reader, b net.Conn) {
	var once sync.Once
	done := func() { once.Do(func() { a.Close(); b.Close() }) }
	go func() { _, _ = io.Copy(b, ar); done() }()
	go func() { _, _ = io.Copy(a, b); done() }()
}

// connectProxy is an HTTP proxy for tests: CONNECT tunnels (https) and
// absolute-form requests (http, upgrades included). It counts what it
// served.
type connectProxy struct {
	connects, forwards atomic.Int32
}

func (p *connectProxy) serve(t *testing.T) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

func (p *connectProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		c.Close()
		return
	}
	host := req.Host
	if req.Method != http.MethodConnect {
		host = req.URL.Host
	}
	up, err := net.Dial("tcp", host)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		c.Close()
		return
	}
	if req.Method == http.MethodConnect {
		p.connects.Add(1)
		_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	} else {
		p.forwards.Add(1)
		req.RequestURI = ""
		if err := req.Write(up); err != nil {
			c.Close()
			up.Close()
			return
		}
	}
	pipe(c, br, up)
}

func TestWebSocketProxy(t *testing.T) {
	var p connectProxy
	proxyURL := p.serve(t)

	t.Run("amqpws", func(t *testing.T) {
		b := amqtest.NewBroker(t, amqtest.WithWebSocket())
		c := dial(t, b.URL(), &amq.ConnectOptions{WebSocket: amq.WebSocketOptions{Proxy: http.ProxyURL(proxyURL)}})
		assert.Equal(t, int32(1), p.forwards.Load())
		d := sendReceive(t, c, "proxied", "via the proxy")
		assert.Equal(t, "via the proxy", d.Message.Body)
	})
	t.Run("amqpwss", func(t *testing.T) {
		pki := newTestPKI(t)
		b := amqtest.NewBroker(t, amqtest.WithWebSocket(), amqtest.WithTLS(pki.serverTLS))
		c := dial(t, b.URL(), &amq.ConnectOptions{
			TLS:       amq.TLSOptions{CA: pki.caFile},
			WebSocket: amq.WebSocketOptions{Proxy: http.ProxyURL(proxyURL)},
		})
		assert.Equal(t, int32(1), p.connects.Load())
		d := sendReceive(t, c, "tunnelled", "through CONNECT")
		assert.Equal(t, "through CONNECT", d.Message.Body)
	})
}

func TestWebSocketSubprotocolRefused(t *testing.T) {
	// A WebSocket server that upgrades without choosing amqp.
	addr := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Upgrade", "websocket")
		h.Set("Connection", "Upgrade")
		h.Set("Sec-WebSocket-Accept", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		w.WriteHeader(http.StatusSwitchingProtocols)
	}))
	_, err := amq.Dial(testCtx(t), "amqpws://"+addr, &amq.ConnectOptions{RetryInitialConnect: false})
	require.ErrorContains(t, err, `subprotocol "amqp"`)

	// And the server side: a client that does not ask for amqp is refused
	// before the upgrade.
	b := amqtest.NewBroker(t, amqtest.WithWebSocket())
	req, err := http.NewRequest(http.MethodGet, strings.Replace(b.URL(), "amqpws:", "http:", 1), nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "mqtt")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestWebSocketFailoverMixesSchemes(t *testing.T) {
	tcp := amqtest.NewBroker(t)
	ws := amqtest.NewBroker(t, amqtest.WithWebSocket())
	ev := newStateRecorder()
	c := dial(t, "", &amq.ConnectOptions{
		URLs:          []string{ws.URL(), tcp.URL()},
		Reconnect:     fastReconnect(),
		OnStateChange: ev.record,
	})
	require.Equal(t, ws.URL(), ev.wait(t, amq.StateConnected).URL)
	ctx := testCtx(t)
	require.NoError(t, c.Send(ctx, amq.NewMessage("one").SetTo("fo")))

	// The WebSocket broker goes away: the client moves to the TCP one.
	ws.Stop()
	got := ev.wait(t, amq.StateConnected)
	assert.Equal(t, tcp.URL(), got.URL)
	require.NoError(t, c.Send(ctx, amq.NewMessage("two").SetTo("fo")))
	assert.Equal(t, 1, tcp.QueueDepth("fo"))

	// Back the other way, from TCP to the WebSocket.
	ws.Restart()
	tcp.Stop()
	got = ev.wait(t, amq.StateConnected)
	assert.Equal(t, ws.URL(), got.URL)
	require.NoError(t, c.Send(ctx, amq.NewMessage("three").SetTo("fo")))
	assert.Equal(t, 2, ws.QueueDepth("fo"))
}

func TestWebSocketReconnectAfterDrop(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithWebSocket())
	ev := newStateRecorder()
	c := dial(t, b.URL(), &amq.ConnectOptions{Reconnect: fastReconnect(), OnStateChange: ev.record})
	ev.wait(t, amq.StateConnected)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "drop", nil)
	require.NoError(t, err)

	// The sockets under the WebSockets are cut: the client reconnects and
	// its receiver goes on.
	b.DropConnections()
	ev.wait(t, amq.StateReconnecting)
	ev.wait(t, amq.StateConnected)
	require.NoError(t, c.Send(ctx, amq.NewMessage("after the drop").SetTo("drop")))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "after the drop", d.Message.Body)
}

// wsAccept is the Sec-WebSocket-Accept answering key (RFC 6455 4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// The embedded broker serves TCP and WebSocket listeners at once, with
// server.Listen and the options broker.ServerOptions gives.
func TestBrokerOnTwoListeners(t *testing.T) {
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{Server: &server.Options{AllowAnonymous: true}})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	srv, err := server.Listen("amqpws://127.0.0.1:0/amqp", b.ServerOptions(&server.Options{AllowAnonymous: true}))
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	require.True(t, strings.HasSuffix(srv.URL(), "/amqp"), srv.URL())

	tcp := dial(t, b.URL(), nil)
	ws := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	r, err := ws.NewReceiver(ctx, "both", nil)
	require.NoError(t, err)
	require.NoError(t, tcp.Send(ctx, amq.NewMessage("from TCP to WebSocket").SetTo("both")))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "from TCP to WebSocket", d.Message.Body)

	// Another path is not the AMQP endpoint.
	_, err = amq.Dial(ctx, strings.TrimSuffix(srv.URL(), "/amqp")+"/other", nil)
	require.ErrorContains(t, err, "404")
}

// connect.json takes the WebSocket schemes and a path (amq's extension).
func TestWebSocketConnectFile(t *testing.T) {
	b, err := broker.Listen("amqpws://127.0.0.1:0/broker/amqp", &broker.Options{Server: &server.Options{AllowAnonymous: true}})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	port := strings.TrimSuffix(b.URL()[strings.LastIndex(b.URL(), ":")+1:], "/broker/amqp")
	writeConnectFile(t, `{"scheme": "amqpws", "host": "127.0.0.1", "port": `+port+`, "path": "/broker/amqp"}`)

	ctx := testCtx(t)
	c, err := amq.Dial(ctx, "", nil)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, b.URL(), c.URL())
	require.NoError(t, c.Send(ctx, amq.NewMessage("configured").SetTo("q")))
}

// A peer that answers the upgrade with endless headers gets an error, not
// the client's memory.
func TestWebSocketHugeResponseHeaders(t *testing.T) {
	addr := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("a", 1<<20))
		w.WriteHeader(http.StatusSwitchingProtocols)
	}))
	_, err := amq.Dial(testCtx(t), "amqpws://"+addr, nil)
	require.ErrorContains(t, err, "exceeded")
}

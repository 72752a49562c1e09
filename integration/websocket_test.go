//go:build integration

package integration

// AMQP over WebSockets (amqpws://, issue #19) against independent peers:
// ActiveMQ Artemis's acceptor, which answers an HTTP upgrade with
// subprotocol "amqp" on the port of its AMQP acceptor (the harness's
// acceptor as it is, no WebSocket parameter), rhea's client on the npm
// package ws, and a rhea server on ws. Messages cross transports too: what
// goes in over a WebSocket comes out over TCP and the other way round.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// wsURL is the amqpws:// URL of the same host and port as the amqp:// URL
// u (credentials kept): Artemis serves both on one acceptor.
func wsURL(t testing.TB, u string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(u, "amqp://")
	if !ok {
		t.Fatalf("wsURL: %q is not an amqp:// URL", u)
	}
	return "amqpws://" + rest
}

// wsMessage is message i (from 1) of a run named prefix.
func wsMessage(prefix string, i int) *amq.Message {
	m := amq.NewMessage(fmt.Sprintf("%s %d", prefix, i))
	m.ID = fmt.Sprintf("%s-%d", prefix, i)
	m.Subject = "websocket"
	m.ContentType = "text/plain"
	m.Properties = map[string]any{"seq": int64(i), "kind": prefix}
	return m
}

// wsSendN sends messages 1..n of prefix one by one; Send returns nil only
// for the accepted outcome.
func wsSendN(ctx context.Context, t testing.TB, s *amq.Sender, prefix string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := s.Send(ctx, wsMessage(prefix, i)); err != nil {
			t.Fatalf("send %s %d: not accepted: %v", prefix, i, err)
		}
	}
}

// wsReceiveN receives messages 1..n of prefix in order, checks every field
// wsMessage sets, and accepts each.
func wsReceiveN(ctx context.Context, t testing.TB, r *amq.Receiver, prefix string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		d, err := r.Receive(ctx)
		if err != nil {
			t.Fatalf("receive %s %d of %d: %v", prefix, i, n, err)
		}
		m := d.Message
		if got, want := bodyString(t, m), fmt.Sprintf("%s %d", prefix, i); got != want {
			t.Fatalf("message %d: body %q, want %q (lost or reordered)", i, got, want)
		}
		if m.ID != fmt.Sprintf("%s-%d", prefix, i) || m.Subject != "websocket" || m.ContentType != "text/plain" {
			t.Errorf("message %d: id %#v subject %q content-type %q", i, m.ID, m.Subject, m.ContentType)
		}
		if fmt.Sprint(m.Properties["seq"]) != fmt.Sprint(i) || m.Properties["kind"] != prefix {
			t.Errorf("message %d: properties %#v", i, m.Properties)
		}
		if err := d.Accept(ctx); err != nil {
			t.Fatalf("accept %s %d: %v", prefix, i, err)
		}
	}
}

// wsNoMore checks that r holds nothing more for a short while: a
// duplicate would show up here.
func wsNoMore(t testing.TB, r *amq.Receiver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if d, err := r.Receive(ctx); err == nil {
		t.Fatalf("unexpected extra message %q", bodyString(t, d.Message))
	}
}

// wsDial is amqDial without reconnecting (a connection the peer drops
// fails the test instead of being replaced behind its back), checked to be
// connected over transport ("ws" or "tcp").
func wsDial(t testing.TB, p *Peer, url, transport string) *amq.Client {
	t.Helper()
	c := amqDial(t, p, url, func(o *amq.ConnectOptions) { o.Reconnect = amq.NoReconnect })
	want := map[string]string{"ws": "amqpws://", "tcp": "amqp://"}[transport]
	if got := c.URL(); !strings.HasPrefix(got, want) {
		t.Fatalf("client on %s, want a %s URL", got, want)
	}
	return c
}

// artemisWS is the shared Artemis peer; it fails the test (in CI) when
// Artemis cannot be had.
func artemisWS(t *testing.T) *Peer {
	t.Helper()
	return getPeer(t, "artemis")
}

// TestWebSocketArtemis: amq's amqpws client against Artemis's acceptor, and
// across transports: every combination of a sender and a receiver, each on
// a WebSocket or on TCP, on a connection of its own (no reconnect, so one
// connection carries everything), moves n messages in order, each
// accepted.
func TestWebSocketArtemis(t *testing.T) {
	const n = 50
	p := artemisWS(t)
	urls := map[string]string{"ws": wsURL(t, p.Addr), "tcp": p.Addr}
	for _, c := range []struct{ send, recv string }{
		{"ws", "ws"}, {"ws", "tcp"}, {"tcp", "ws"},
	} {
		t.Run(c.send+"-to-"+c.recv, func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			sc := wsDial(t, p, urls[c.send], c.send)
			rc := wsDial(t, p, urls[c.recv], c.recv)
			addr := p.Queue(uniqueName(t))
			s := amqSender(t, sc, addr, nil)
			wsSendN(ctx, t, s, c.send, n)
			r := amqReceiver(t, rc, addr, &amq.ReceiverOptions{ManualAccept: true})
			wsReceiveN(ctx, t, r, c.send, n)
			wsNoMore(t, r)
		})
	}
}

// artemisWSLimit explains TestWebSocketArtemisBigWrites's failures.
const artemisWSLimit = "Artemis (Netty) closes a WebSocket connection on a WebSocket frame of more than its acceptor's " +
	"webSocketMaxFramePayloadLength, 65536 bytes by default (\"Max frame length of 65536 has been exceeded\" in its log); " +
	"amq's client writes what its engine has queued (several AMQP frames, or one frame of up to Artemis's max-frame-size) " +
	"as one WebSocket message of one frame, so it must split its writes (AMQP-WSB lets AMQP frames span WebSocket messages)"

// TestWebSocketArtemisBigWrites: writes of more than 64 KiB through
// Artemis's WebSocket acceptor with its default settings: 2,000 pipelined
// 8 KiB messages (the client's writer batches the frames of many), and a
// 1 MiB message (an Artemis large message, AMQP frames of Artemis's
// max-frame-size) each way between WebSocket and TCP.
func TestWebSocketArtemisBigWrites(t *testing.T) {
	p := artemisWS(t)
	urls := map[string]string{"ws": wsURL(t, p.Addr), "tcp": p.Addr}
	// explainer returns a function that adds the cause to a failure when
	// Artemis has logged it since.
	const tooBig = "Max frame length of"
	explainer := func() func() string {
		before := strings.Count(p.artemis.log(), tooBig)
		return func() string {
			if strings.Count(p.artemis.log(), tooBig) > before {
				return "\n" + artemisWSLimit
			}
			return ""
		}
	}
	t.Run("pipelined-ws-to-tcp", func(t *testing.T) {
		const n, size = 2000, 8 << 10
		explain := explainer()
		ctx := testCtx(t, 60*time.Second)
		sc := wsDial(t, p, urls["ws"], "ws")
		rc := wsDial(t, p, urls["tcp"], "tcp")
		addr := p.Queue(uniqueName(t))
		s := amqSender(t, sc, addr, nil)
		r := amqReceiver(t, rc, addr, nil)
		body := func(i int) []byte {
			b := bytes.Repeat([]byte{'x'}, size)
			copy(b, fmt.Sprintf("big %06d ", i))
			return b
		}
		receipts := make([]*amq.Receipt, 0, n)
		for i := 0; i < n; i++ {
			receipt, err := s.SendAsync(ctx, amq.NewMessage(body(i)))
			if err != nil {
				t.Fatalf("SendAsync %d: %v%s", i, err, explain())
			}
			receipts = append(receipts, receipt)
		}
		for i, receipt := range receipts {
			if err := receipt.Wait(ctx); err != nil {
				t.Fatalf("message %d not accepted: %v%s", i, err, explain())
			}
		}
		for i := 0; i < n; i++ {
			d, err := r.Receive(ctx)
			if err != nil {
				t.Fatalf("receive %d of %d: %v", i, n, err)
			}
			if got, ok := d.Message.Body.([]byte); !ok || !bytes.Equal(got, body(i)) {
				t.Fatalf("message %d: body %T of %d bytes, not the one sent (lost or reordered)", i, d.Message.Body, len(got))
			}
		}
	})
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	for _, c := range []struct{ send, recv string }{{"ws", "tcp"}, {"tcp", "ws"}, {"ws", "ws"}} {
		t.Run("1MiB-"+c.send+"-to-"+c.recv, func(t *testing.T) {
			explain := explainer()
			ctx := testCtx(t, 60*time.Second)
			sc := wsDial(t, p, urls[c.send], c.send)
			rc := wsDial(t, p, urls[c.recv], c.recv)
			addr := p.Queue(uniqueName(t))
			s := amqSender(t, sc, addr, nil)
			if err := s.Send(ctx, amq.NewMessage(big)); err != nil {
				t.Fatalf("send 1 MiB: %v%s", err, explain())
			}
			r := amqReceiver(t, rc, addr, &amq.ReceiverOptions{ManualAccept: true})
			d, err := r.Receive(ctx)
			if err != nil {
				t.Fatalf("receive 1 MiB: %v%s", err, explain())
			}
			if got, ok := d.Message.Body.([]byte); !ok || !bytes.Equal(got, big) {
				t.Fatalf("1 MiB body came back as %T of %d bytes, different", d.Message.Body, len(got))
			}
			if err := d.Accept(ctx); err != nil {
				t.Fatalf("accept: %v%s", err, explain())
			}
		})
	}
}

// TestWebSocketRhea: rhea's WebSocket client (peers/rhea_client.js with
// an amqpws:// URL) and amq's, both on WebSockets, through amq's embedded
// broker (amqtest.WithWebSocket) and through Artemis, each way.
func TestWebSocketRhea(t *testing.T) {
	t.Run("embedded-ws", func(t *testing.T) {
		cl := rheaWSClient(t)
		b := amqtest.NewBroker(t, amqtest.WithWebSocket())
		if !strings.HasPrefix(b.URL(), "amqpws://127.0.0.1:") {
			t.Fatalf("embedded broker URL %q", b.URL())
		}
		p := &Peer{Name: "embedded-ws", Queue: func(n string) string { return n }}
		wsRheaBothWays(t, cl, p, b.URL(), b.URL())
	})
	t.Run("artemis-ws", func(t *testing.T) {
		cl := rheaWSClient(t)
		p := artemisWS(t)
		wsRheaBothWays(t, cl, p, wsURL(t, p.URL), wsURL(t, p.Addr))
	})
}

// rheaWSClient is rheaClient, checked for the ws package it needs for
// amqpws:// URLs.
func rheaWSClient(t testing.TB) *interopClient {
	t.Helper()
	cl := rheaClient(t)
	node, mods := cl.argv[0], strings.TrimPrefix(cl.env[0], "NODE_PATH=")
	if out, err := exec.Command(node, "-e", "require(process.argv[1] + '/ws/package.json')", mods).CombinedOutput(); err != nil {
		missing(t, "ws (npm) for rhea", fmt.Errorf("ws not installed in %s (npm install --prefix integration/.peers ws@8): %v: %s", mods, err, out))
	}
	return cl
}

// wsRheaBothWays: rhea sends n messages over a WebSocket and amq receives
// them over one; then amq sends n and rhea receives them. rheaURL carries
// the credentials rhea needs, amqURL not (amqDial takes p's).
func wsRheaBothWays(t *testing.T, cl *interopClient, p *Peer, rheaURL, amqURL string) {
	const n = 20
	t.Run("rhea-to-amq", func(t *testing.T) {
		ctx := testCtx(t, 90*time.Second)
		c := wsDial(t, p, amqURL, "ws")
		addr := p.Queue(uniqueName(t))
		r := amqReceiver(t, c, addr, &amq.ReceiverOptions{ManualAccept: true})
		wait, _ := cl.start(t, ctx, "send", rheaURL, addr, n)
		if _, err := wait(); err != nil {
			t.Fatal(err) // rhea_client fails on any outcome but accepted
		}
		for i := 1; i <= n; i++ {
			d, err := r.Receive(ctx)
			if err != nil {
				t.Fatalf("receive %d of %d: %v", i, n, err)
			}
			m := d.Message
			if got, want := bodyString(t, m), fmt.Sprintf("rhea %d", i); got != want {
				t.Fatalf("body %q, want %q (lost or reordered)", got, want)
			}
			if m.ID != fmt.Sprintf("rhea-%d", i) || m.Subject != "interop" || m.ContentType != "text/plain" {
				t.Errorf("message %d: id %#v subject %q content-type %q", i, m.ID, m.Subject, m.ContentType)
			}
			if fmt.Sprint(m.Properties["seq"]) != fmt.Sprint(i) || m.Properties["kind"] != "rhea" {
				t.Errorf("message %d: properties %#v", i, m.Properties)
			}
			if err := d.Accept(ctx); err != nil {
				t.Fatalf("accept %d: %v", i, err)
			}
		}
		wsNoMore(t, r)
	})
	t.Run("amq-to-rhea", func(t *testing.T) {
		ctx := testCtx(t, 90*time.Second)
		c := wsDial(t, p, amqURL, "ws")
		addr := p.Queue(uniqueName(t))
		wait, ready := cl.start(t, ctx, "recv", rheaURL, addr, n)
		select {
		case <-ready:
		case <-ctx.Done():
			_, err := wait()
			t.Fatalf("rhea never attached its receiver: %v", err)
		}
		s := amqSender(t, c, addr, nil)
		wsSendN(ctx, t, s, "amq", n)
		out, err := wait()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != n {
			t.Fatalf("rhea printed %d messages, want %d:\n%s", len(lines), n, out)
		}
		for i, line := range lines {
			var m interopMsg
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %d: %v: %s", i, err, line)
			}
			if fmt.Sprint(m.Body) != fmt.Sprintf("amq %d", i+1) {
				t.Fatalf("message %d: body %v, want %q (lost or reordered)", i, m.Body, fmt.Sprintf("amq %d", i+1))
			}
			if m.ID == nil || *m.ID != fmt.Sprintf("amq-%d", i+1) {
				t.Errorf("message %d: id %v", i, m.ID)
			}
			if m.Subject == nil || *m.Subject != "websocket" || m.ContentType == nil || *m.ContentType != "text/plain" {
				t.Errorf("message %d: subject %v content-type %v", i, m.Subject, m.ContentType)
			}
			if fmt.Sprint(m.Props["seq"]) != fmt.Sprint(i+1) || m.Props["kind"] != "amq" {
				t.Errorf("message %d: properties %v", i, m.Props)
			}
		}
	})
}

// TestWebSocketRheaServer: amq's client against a WebSocket server that is
// neither amq nor Netty: rhea on the npm package ws (peers/rhea_ws_server.js,
// a minimal queue). n messages go in over one amqpws connection, each
// accepted, and come out in order over another.
func TestWebSocketRheaServer(t *testing.T) {
	const n = 50
	cl := rheaWSClient(t)
	env, err := exec.LookPath("env")
	if err != nil {
		missing(t, "env (coreutils) to run the rhea WebSocket server", err)
	}
	port, proc, err := startListener("rhea ws server", repoDir(),
		env, cl.env[0], cl.argv[0], filepath.Join(repoDir(), "peers", "rhea_ws_server.js"), "127.0.0.1", "0")
	if err != nil {
		missing(t, "rhea ws server", err)
	}
	t.Cleanup(proc.stop)
	p := &Peer{Name: "rhea-ws-server", Queue: func(n string) string { return n }}
	url := "amqpws://127.0.0.1:" + port
	ctx := testCtx(t, 60*time.Second)
	sc := wsDial(t, p, url, "ws")
	rc := wsDial(t, p, url, "ws")
	addr := p.Queue(uniqueName(t))
	s := amqSender(t, sc, addr, nil)
	wsSendN(ctx, t, s, "amq", n)
	r := amqReceiver(t, rc, addr, &amq.ReceiverOptions{ManualAccept: true})
	wsReceiveN(ctx, t, r, "amq", n)
	wsNoMore(t, r)
	if err := proc.alive(); err != nil {
		t.Fatal(err)
	}
}

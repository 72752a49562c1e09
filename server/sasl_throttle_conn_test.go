package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/internal/testsupport"
)

// saslServer is the engine's SASL server.
var _ engine.SASLServer = saslServer{}

// syncBuffer is a log sink the connections' goroutines write to.
type syncBuffer = testsupport.SyncBuffer

// TestSASLThrottleOverTheWire: failed logins from one address over real
// connections are counted against it, held back and logged (#17 item 7).
func TestSASLThrottleOverTheWire(t *testing.T) {
	var logs syncBuffer
	srv := startServer(t, &Options{
		Credentials:      credentials(t),
		AuthFailureLimit: 2,
		Logger:           slog.New(slog.NewTextHandler(&logs, nil)),
	})
	var mu sync.Mutex
	var waits []time.Duration
	g := srv.cfg.guard
	g.mu.Lock()
	g.wait = func(_ context.Context, d time.Duration) {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
	}
	g.mu.Unlock()
	for i := 0; i < 4; i++ {
		if o := rawDial(t, srv).saslPlainOrAnon("PLAIN", []byte("\x00alice\x00wrong")); o.Code != codec.SASLCodeAuth {
			t.Fatalf("attempt %d: code %d, want auth", i+1, o.Code)
		}
	}
	if o := rawDial(t, srv).saslPlainOrAnon("PLAIN", []byte("\x00alice\x00s3cret")); o.Code != codec.SASLCodeOK {
		t.Fatalf("right password after failures: code %d", o.Code)
	}
	mu.Lock()
	got := append([]time.Duration(nil), waits...)
	mu.Unlock()
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !equalDurations(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	if n := g.tracked(); n != 1 {
		t.Fatalf("%d addresses tracked, want 1", n)
	}
	out := logs.String()
	if n := strings.Count(out, `level=WARN msg="amqp SASL authentication failed" mechanism=PLAIN user=alice remote=127.0.0.1:`); n != 4 {
		t.Fatalf("%d failures logged with user and address, want 4:\n%s", n, out)
	}
	if strings.Contains(out, "wrong") || strings.Contains(out, "s3cret") {
		t.Fatalf("a password reached the log:\n%s", out)
	}
}

// TestSASLThrottleEndsWithServer: a failure held back for an hour does not
// hold Close up. If it did, this test would hang until its deadline.
func TestSASLThrottleEndsWithServer(t *testing.T) {
	srv, err := Listen("amqp://127.0.0.1:0", &Options{
		Credentials:         credentials(t),
		AuthFailureLimit:    1,
		AuthFailureMaxDelay: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{}, 1)
	g := srv.cfg.guard
	g.mu.Lock()
	g.wait = func(ctx context.Context, d time.Duration) {
		waiting <- struct{}{}
		waitCtx(ctx, d)
	}
	g.mu.Unlock()
	if o := rawDial(t, srv).saslPlainOrAnon("PLAIN", []byte("\x00alice\x00wrong")); o.Code != codec.SASLCodeAuth {
		t.Fatalf("code %d", o.Code)
	}
	r := rawDial(t, srv)
	r.header(codec.ProtoIDSASL)
	expect[*codec.SASLMechanisms](r)
	r.send(0, &codec.SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00alice\x00wrong")}, nil)
	<-waiting
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

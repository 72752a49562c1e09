package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeClock is the guard's clock in tests: time moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// testGuard returns a guard on a fake clock that records the waits asked
// for instead of waiting.
func testGuard(g *authGuard) (*fakeClock, *[]time.Duration) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	var waits []time.Duration
	g.mu.Lock()
	g.now = clock.now
	g.wait = func(_ context.Context, d time.Duration) { waits = append(waits, d) }
	g.mu.Unlock()
	return clock, &waits
}

func tcpAddr(s string) *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s))
}

func TestAuthGuardDelays(t *testing.T) {
	g := newAuthGuard(5, 4*time.Second)
	clock, _ := testGuard(g)
	a, _ := addrKey(tcpAddr("127.0.0.1:40000"))
	b, _ := addrKey(tcpAddr("127.0.0.2:40000"))
	want := []time.Duration{0, 0, 0, 0, 0, // the first five are free
		100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 4 * time.Second, 4 * time.Second}
	for i, w := range want {
		n, d, _ := g.failed(a)
		if n != i+1 || d != w {
			t.Fatalf("failure %d: (%d, %v), want (%d, %v)", i+1, n, d, i+1, w)
		}
		clock.advance(time.Second) // the window runs from the last failure
	}
	for i := 0; i < 1000; i++ {
		if _, d, _ := g.failed(a); d != 4*time.Second {
			t.Fatalf("failure %d: delay %v, want the cap", len(want)+i+1, d)
		}
	}
	if n, d, _ := g.failed(b); n != 1 || d != 0 {
		t.Fatalf("another address: (%d, %v), want its first, free failure", n, d)
	}
	// A minute without failing and the address starts afresh.
	clock.advance(authFailureWindow)
	if n, d, _ := g.failed(a); n != 1 || d != 0 {
		t.Fatalf("after a quiet minute: (%d, %v), want a first failure", n, d)
	}
	if got := g.tracked(); got != 1 {
		t.Fatalf("tracked %d addresses, want 1 (b expired)", got)
	}
}

func TestAuthGuardBounded(t *testing.T) {
	g := newAuthGuard(5, 4*time.Second)
	testGuard(g)
	// A peer with the whole loopback /8 fails from 3×authGuardMaxAddrs
	// addresses, each several times.
	for i := 0; i < 3*authGuardMaxAddrs; i++ {
		ip := netip.AddrFrom4([4]byte{127, byte(i >> 16), byte(i >> 8), byte(i)})
		key, ok := addrKey(net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 5000)))
		if !ok {
			t.Fatalf("no key for %v", ip)
		}
		g.failed(key)
		g.failed(key)
		if n := g.tracked(); n > authGuardMaxAddrs {
			t.Fatalf("after %d addresses the table holds %d, more than %d", i+1, n, authGuardMaxAddrs)
		}
	}
	if n := g.tracked(); n != authGuardMaxAddrs {
		t.Fatalf("table holds %d, want the cap %d", n, authGuardMaxAddrs)
	}
	// The addresses failing now are the ones kept.
	last := 3*authGuardMaxAddrs - 1
	ip := netip.AddrFrom4([4]byte{127, byte(last >> 16), byte(last >> 8), byte(last)})
	key, _ := addrKey(net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 5000)))
	if n, _, _ := g.failed(key); n != 3 {
		t.Fatalf("latest address: failure %d, want 3 (it was evicted)", n)
	}
}

func TestAddrKey(t *testing.T) {
	for _, tc := range []struct{ addr, key string }{
		{"127.0.0.1:1", "127.0.0.1/32"},
		{"[::ffff:10.1.2.3]:1", "10.1.2.3/32"},
		{"[2001:db8:1:2:aaaa::1]:1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:2", "2001:db8:1:2::/64"}, // same /64, same key
		{"[fe80::1%lo]:1", "fe80::/64"},
	} {
		ap := netip.MustParseAddrPort(tc.addr)
		for _, a := range []net.Addr{net.TCPAddrFromAddrPort(ap), &net.UDPAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port()), Zone: ap.Addr().Zone()}} {
			k, ok := addrKey(a)
			if !ok || k.String() != tc.key {
				t.Errorf("addrKey(%v) = %v, %v; want %s", a, k, ok, tc.key)
			}
		}
	}
	if _, ok := addrKey(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}); ok {
		t.Error("a unix socket address got a key")
	}
}

// TestSASLFailuresThrottled drives the server's conversations as the
// engine does, from two addresses, and checks what is waited and logged.
func TestSASLFailuresThrottled(t *testing.T) {
	var logs bytes.Buffer
	cfg, err := newConfig(&Options{
		Credentials:      credentials(t),
		AuthFailureLimit: 3,
		Logger:           slog.New(slog.NewTextHandler(&logs, nil)),
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	_, waits := testGuard(cfg.guard)
	srv := saslServer{cfg}
	ctx := context.Background()
	attempt := func(remote, mech string, resp ...string) bool {
		t.Helper()
		conv, err := srv.Start(ctx, tcpAddr(remote), mech, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp {
			_, done, _, _, err := conv.Step([]byte(r))
			if err != nil {
				return false
			}
			if done {
				return true
			}
		}
		t.Fatalf("%s: no outcome", mech)
		return false
	}
	const attacker, other = "127.0.0.1:41000", "127.0.0.2:41000"
	for i := 0; i < 6; i++ {
		if attempt(attacker, "PLAIN", "\x00alice\x00guess-"+string(rune('a'+i))) {
			t.Fatal("wrong password accepted")
		}
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	if !equalDurations(*waits, want) {
		t.Fatalf("waits %v, want %v (none for the first 3 failures)", *waits, want)
	}
	// Unknown users and SCRAM count too; a success is never held back.
	if attempt(attacker, "SCRAM-SHA-256", "n,,n=mallory,r=abc", "c=biws,r=x,p=AAAA") {
		t.Fatal("SCRAM for an unknown user succeeded")
	}
	if !attempt(attacker, "PLAIN", "\x00alice\x00s3cret") {
		t.Fatal("right password refused")
	}
	if attempt(other, "PLAIN", "\x00bob\x00wrong") {
		t.Fatal("wrong password accepted")
	}
	want = append(want, 800*time.Millisecond)
	if !equalDurations(*waits, want) {
		t.Fatalf("waits %v, want %v (the success and the other address's first failure wait nothing)", *waits, want)
	}

	out := logs.String()
	if n := strings.Count(out, "level=WARN msg=\"amqp SASL authentication failed\""); n != 8 {
		t.Fatalf("%d failures logged at Warn, want 8:\n%s", n, out)
	}
	for _, s := range []string{"user=alice", "user=mallory", "user=bob", "remote=" + attacker, "remote=" + other, "mechanism=SCRAM-SHA-256"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
	for _, secret := range []string{"guess-", "s3cret", "wrong", "p=AAAA"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q, part of a SASL response:\n%s", secret, out)
		}
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSASLThrottleOff(t *testing.T) {
	for _, o := range []Options{{AuthFailureLimit: -1}, {AuthFailureMaxDelay: -1}} {
		cfg, err := newConfig(&o, false)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.guard != nil {
			t.Fatalf("%+v: throttling on", o)
		}
	}
	cfg, err := newConfig(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.guard == nil || cfg.guard.limit != DefaultAuthFailureLimit || cfg.guard.maxDelay != DefaultAuthFailureMaxDelay {
		t.Fatalf("defaults: guard %+v", cfg.guard)
	}
}

// TestSASLThrottleWaitEndsWithContext: the wait a failure makes ends when
// the connection's context does (the server closing), however long it was
// to be. If it did not, this test would hang until its deadline.
func TestSASLThrottleWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	waitCtx(ctx, time.Hour)

	cfg, err := newConfig(&Options{Credentials: credentials(t), AuthFailureLimit: 1, AuthFailureMaxDelay: time.Hour}, false)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := saslServer{cfg}.Start(ctx, tcpAddr("127.0.0.1:1"), "PLAIN", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // the 2nd and 3rd would wait an hour
		if _, _, _, _, err := conv.Step([]byte("\x00alice\x00wrong")); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
}

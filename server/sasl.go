package server

import (
	"bytes"
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/internal/saslmech"
)

// SASL mechanism names, from the registry the client shares.
const (
	mechAnonymous   = saslmech.Anonymous
	mechPlain       = saslmech.Plain
	mechExternal    = saslmech.External
	mechSCRAMSHA1   = saslmech.SCRAMSHA1
	mechSCRAMSHA256 = saslmech.SCRAMSHA256
	mechSCRAMSHA512 = saslmech.SCRAMSHA512
)

// allMechanisms in the order they are offered: strongest first (the
// registry's order), so a client picking the first it supports gets the
// best.
var allMechanisms = saslmech.ServerNames()

func knownMechanism(m string) bool {
	for _, k := range allMechanisms {
		if k == m {
			return true
		}
	}
	return false
}

// errAuthFailed is the only failure a client learns about: which part of its
// credentials was wrong is not revealed.
var errAuthFailed = errors.New("server: SASL authentication failed")

// saslResult is a successful SASL exchange.
type saslResult struct {
	identity   string // authenticated user; "" for ANONYMOUS
	additional []byte // additional-data of the outcome
}

// saslConv is the server side of one mechanism's exchange. step gets the
// client's initial-response or response and returns either a challenge to
// send, a result (success), or an error (authentication failure). user is
// the user name the client gave so far ("" if none), for the log.
type saslConv interface {
	step(resp []byte) (challenge []byte, res *saslResult, err error)
	user() string
}

// saslServer is the server side of the SASL layer the engine runs: the
// mechanisms Options allow, and this package's conversations.
type saslServer struct{ cfg *config }

// Mechanisms lists what is offered on a TLS connection or not.
func (s saslServer) Mechanisms(onTLS bool) []string {
	if onTLS {
		return s.cfg.tlsMechanisms
	}
	return s.cfg.mechanisms
}

// Start starts the exchange for a mechanism already checked to be
// offered, for a connection from remote whose context ends with the
// connection or the server: a failure is logged with the peer's address
// and counted against it, and its outcome delayed (within ctx) once the
// address has failed too often (authGuard).
func (s saslServer) Start(ctx context.Context, remote net.Addr, mech string, tlsState *tls.ConnectionState) (engine.SASLConversation, error) {
	conv, err := s.start(ctx, remote, mech, tlsState, nil)
	if err != nil {
		return nil, err // not a nil *conversation in an interface
	}
	return conv, nil
}

// start is Start with the SCRAM server nonce generator (nil: the
// library's random one; a fixed one lets the fuzz target reach the proof).
func (s saslServer) start(ctx context.Context, remote net.Addr, mech string, tlsState *tls.ConnectionState, nonce func() string) (*conversation, error) {
	var conv saslConv
	var err error
	switch mech {
	case mechAnonymous:
		conv = anonymousConv{}
	case mechPlain:
		conv = &plainConv{creds: s.cfg.Credentials}
	case mechExternal:
		conv = externalConv{state: tlsState}
	case mechSCRAMSHA1, mechSCRAMSHA256, mechSCRAMSHA512:
		conv, err = newSCRAMConv(mech, s.cfg.Credentials, nonce)
	default:
		err = errAuthFailed
	}
	if err != nil {
		return nil, err
	}
	return &conversation{saslConv: conv, ctx: ctx, mech: mech, remote: remote, cfg: s.cfg}, nil
}

// conversation adapts a saslConv to the engine's SASLConversation, and
// logs and throttles its failure.
type conversation struct {
	saslConv
	ctx    context.Context
	mech   string
	remote net.Addr // nil: unknown
	cfg    *config
}

func (c *conversation) Step(resp []byte) (challenge []byte, done bool, identity string, additional []byte, err error) {
	challenge, res, err := c.step(resp)
	if err != nil {
		c.failed()
		return nil, false, "", nil, err
	}
	if res == nil {
		return challenge, false, "", nil, nil
	}
	return nil, true, res.identity, res.additional, nil
}

// maxLoggedUser bounds the user name a failure logs: it comes from the
// peer, and a sasl-init may be 64 KiB.
const maxLoggedUser = 256

// failed logs a failed authentication (user name and address, never the
// response) and, when the address has failed too often, waits before the
// engine sends the outcome. The wait holds no lock and ends early with
// the connection's context.
func (c *conversation) failed() {
	user := c.user()
	if len(user) > maxLoggedUser {
		user = strings.ToValidUTF8(user[:maxLoggedUser], "") + "..."
	}
	remote := ""
	var failures int
	var delay time.Duration
	var wait func(context.Context, time.Duration)
	if c.remote != nil {
		remote = c.remote.String()
		if key, ok := addrKey(c.remote); ok {
			failures, delay, wait = c.cfg.guard.failed(key)
		}
	}
	c.cfg.Logger.Warn("amqp SASL authentication failed", "mechanism", c.mech, "user", user,
		"remote", remote, "recent_failures", failures, "delay", delay)
	if delay > 0 {
		wait(c.ctx, delay)
	}
}

// anonymousConv accepts anything (RFC 4505: the response is an optional
// trace string, ignored here).
type anonymousConv struct{}

func (anonymousConv) step([]byte) ([]byte, *saslResult, error) {
	return nil, &saslResult{}, nil
}

func (anonymousConv) user() string { return "" }

// plainConv checks "authzid NUL authcid NUL passwd" (RFC 4616).
type plainConv struct {
	creds *Credentials
	name  string // the authcid, for the log
}

func (p *plainConv) step(resp []byte) ([]byte, *saslResult, error) {
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || p.creds == nil {
		return nil, nil, errAuthFailed
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	p.name = user
	if authz != "" && authz != user {
		return nil, nil, errAuthFailed // no proxy authorization
	}
	// verify costs the same whether the user exists or not.
	if !p.creds.verify(user, pass) {
		return nil, nil, errAuthFailed
	}
	return nil, &saslResult{identity: user}, nil
}

func (p *plainConv) user() string { return p.name }

// externalConv authenticates with the TLS client certificate the handshake
// verified; the identity is its subject common name (RFC 4422 App. A).
type externalConv struct{ state *tls.ConnectionState }

func (e externalConv) step(resp []byte) ([]byte, *saslResult, error) {
	if e.state == nil || len(e.state.VerifiedChains) == 0 || len(e.state.PeerCertificates) == 0 {
		return nil, nil, errAuthFailed
	}
	cn := e.state.PeerCertificates[0].Subject.CommonName
	if cn == "" {
		return nil, nil, errAuthFailed
	}
	// A non-empty response is an authorization identity: only the
	// certificate's own identity may be asked for.
	if len(resp) > 0 && string(resp) != cn {
		return nil, nil, errAuthFailed
	}
	return nil, &saslResult{identity: cn}, nil
}

func (e externalConv) user() string {
	if e.state == nil || len(e.state.PeerCertificates) == 0 {
		return ""
	}
	return e.state.PeerCertificates[0].Subject.CommonName
}

// Throttling of failed authentications (#17): one address may fail
// limit times within authFailureWindow without delay; each further
// failure's outcome waits authFailureFirstDelay, doubling with every
// failure, up to maxDelay. An address is forgotten authFailureWindow after
// its last failure; at most authGuardMaxAddrs are remembered, the least
// recently failed dropped first, so a peer with many addresses (a whole
// loopback /8, an IPv6 /48) cannot grow the table, only push its own
// older entries out, and gains nothing an address of its own did not
// already give it.
const (
	authFailureWindow     = time.Minute
	authFailureFirstDelay = 100 * time.Millisecond
	authGuardMaxAddrs     = 8192
)

// authGuard counts recent failed authentications by address. A nil
// *authGuard counts nothing (throttling off).
type authGuard struct {
	limit    int
	maxDelay time.Duration
	maxAddrs int

	mu    sync.Mutex
	now   func() time.Time                           // replaced by tests
	wait  func(ctx context.Context, d time.Duration) // replaced by tests
	addrs map[netip.Prefix]*list.Element             // of *addrFailures
	byAge list.List                                  // of *addrFailures, latest failure first
}

type addrFailures struct {
	key      netip.Prefix
	failures int
	last     time.Time
}

func newAuthGuard(limit int, maxDelay time.Duration) *authGuard {
	return &authGuard{
		limit:    limit,
		maxDelay: maxDelay,
		maxAddrs: authGuardMaxAddrs,
		now:      time.Now,
		wait:     waitCtx,
		addrs:    make(map[netip.Prefix]*list.Element),
	}
}

// waitCtx waits d or until ctx is done.
func waitCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// addrKey is the throttling key of a peer address: the IPv4 address, or
// the /64 of an IPv6 one (a host commonly has a whole /64 to pick from).
func addrKey(a net.Addr) (netip.Prefix, bool) {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Prefix{}, false
		}
		ip = ap.Addr()
	}
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// failed counts a failure of key and returns the failures it has had
// recently, this one included, how long its outcome is to wait, and the
// function to wait with (called without the lock).
func (g *authGuard) failed(key netip.Prefix) (failures int, delay time.Duration, wait func(context.Context, time.Duration)) {
	if g == nil {
		return 0, 0, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for e := g.byAge.Back(); e != nil; e = g.byAge.Back() {
		af := e.Value.(*addrFailures)
		if now.Sub(af.last) < authFailureWindow {
			break
		}
		g.remove(e)
	}
	var af *addrFailures
	if e, ok := g.addrs[key]; ok {
		af = e.Value.(*addrFailures)
		g.byAge.MoveToFront(e)
	} else {
		for len(g.addrs) >= g.maxAddrs {
			g.remove(g.byAge.Back())
		}
		af = &addrFailures{key: key}
		g.addrs[key] = g.byAge.PushFront(af)
	}
	if af.failures < 1<<30 {
		af.failures++
	}
	af.last = now
	return af.failures, g.delay(af.failures), g.wait
}

func (g *authGuard) remove(e *list.Element) {
	delete(g.addrs, e.Value.(*addrFailures).key)
	g.byAge.Remove(e)
}

// delay is the wait of an address's nth recent failure.
func (g *authGuard) delay(n int) time.Duration {
	over := n - g.limit
	if over <= 0 {
		return 0
	}
	d := authFailureFirstDelay
	for i := 1; i < over && d < g.maxDelay; i++ {
		d *= 2
	}
	return min(d, g.maxDelay)
}

// tracked returns the number of addresses remembered.
func (g *authGuard) tracked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.addrs)
}

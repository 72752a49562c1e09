package server

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
)

// Defaults used for zero Options fields.
const (
	DefaultMaxFrameSize     = 64 * 1024
	DefaultChannelMax       = 255
	DefaultIdleTimeout      = 60 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultCreditWindow     = 100
	DefaultHandleMax        = 1023
	// DefaultMaxConnections is the live connections a server holds at
	// most, handshakes included.
	DefaultMaxConnections = 4096
	// DefaultMaxHandshakes is the connections still in their handshake a
	// server holds at most.
	DefaultMaxHandshakes = 256
	// DefaultMaxLinks is the links one connection may have attached.
	DefaultMaxLinks = 1024
	// DefaultMaxMessageSize is the largest message the server takes: a
	// delivery that never ends (more=true, frame after frame) is cut
	// there.
	DefaultMaxMessageSize = 100 << 20
	// DefaultAuthFailureLimit is the failed SASL authentications a peer
	// address may have in a row before the server slows its further
	// failures down (Options.AuthFailureLimit).
	DefaultAuthFailureLimit = 5
	// DefaultAuthFailureMaxDelay is the longest a failed authentication's
	// outcome is held back (Options.AuthFailureMaxDelay).
	DefaultAuthFailureMaxDelay = 4 * time.Second
	// minMaxFrameSize is the smallest max-frame-size AMQP allows (§2.7.1).
	minMaxFrameSize = 512
)

// Options configures a Server. Every field's zero value means "the default".
// Listen copies the struct: changing it afterwards has no effect.
type Options struct {
	// Handler serves the links peers attach. nil: HandlerFuncs{}, which
	// accepts every link and discards every message.
	Handler Handler

	// TLSConfig is required for amqps:// URLs; it must hold a certificate.
	// To accept SASL EXTERNAL, set ClientAuth to VerifyClientCertIfGiven or
	// RequireAndVerifyClientCert and ClientCAs.
	TLSConfig *tls.Config

	// Credentials is the user store for PLAIN and SCRAM-SHA-*. nil: no
	// user can authenticate with a password. A name not in the store is
	// answered as a known one with a wrong password would be, at the same
	// cost, so that the server cannot be asked which names exist (see
	// Credentials).
	Credentials *Credentials

	// AuthFailureLimit is the failed SASL authentications one peer
	// address (an IPv4 address, or an IPv6 /64) may have without being
	// slowed down, against password guessing: the outcome of each further
	// failure is held back, 100 ms and then twice as long each time up to
	// AuthFailureMaxDelay, until the address has gone a minute without a
	// failure. A successful authentication is never held back, and the
	// wait ends when the server closes. The server remembers the 8192
	// addresses that failed last, no more. Every failure is logged at
	// Warn with the mechanism, the user name and the peer's address,
	// never the password or the SASL response. 0: DefaultAuthFailureLimit;
	// negative: failures are not held back (still logged).
	AuthFailureLimit int

	// AuthFailureMaxDelay is the longest a failure's outcome is held back
	// (see AuthFailureLimit); keep it well below HandshakeTimeout, which
	// the wait counts against. 0: DefaultAuthFailureMaxDelay; negative:
	// failures are not held back.
	AuthFailureMaxDelay time.Duration

	// AllowAnonymous offers the ANONYMOUS mechanism, and allows bare AMQP
	// connections (no SASL layer) unless RequireSASL is set.
	AllowAnonymous bool

	// Mechanisms restricts the SASL mechanisms offered, by name
	// ("PLAIN", "SCRAM-SHA-256", ...). nil: every mechanism the other
	// options make possible: SCRAM-SHA-512/256/1 and PLAIN with
	// Credentials, EXTERNAL on TLS with client certificates, ANONYMOUS with
	// AllowAnonymous.
	Mechanisms []string

	// RequireSASL refuses connections that skip the SASL layer. By default
	// a bare AMQP protocol header is accepted when AllowAnonymous is set
	// (the connection is then anonymous).
	RequireSASL bool

	// ContainerID is the server's container-id in its open. "": a random
	// one per Server.
	ContainerID string

	// OfferedCapabilities are the offered-capabilities of the server's
	// open (AMQP 1.0 §2.7.1), e.g. "ANONYMOUS-RELAY" when the Handler
	// routes messages sent on a link with no target address by their "to"
	// (package broker's does, and its Listen offers it). nil: none.
	OfferedCapabilities []Symbol
	// DesiredCapabilities are the desired-capabilities of the server's
	// open: the extensions it would like its peers to support. nil: none.
	DesiredCapabilities []Symbol

	// MaxFrameSize is the largest frame the server accepts (the
	// max-frame-size of its open); the peer's own limit is honoured when
	// sending. 0: DefaultMaxFrameSize. Values below 512 are raised to 512.
	MaxFrameSize uint32

	// ChannelMax is the highest channel (session) number the server
	// accepts. 0: DefaultChannelMax.
	ChannelMax uint16

	// IdleTimeout: a connection on which nothing arrives for this long is
	// closed with amqp:resource-limit-exceeded. Half of it is announced
	// as the idle-timeout of the server's open (as Proton does), so that
	// peers heartbeat well within it. 0: DefaultIdleTimeout;
	// negative: none. The server sends its own heartbeats at half the
	// peer's announced idle-timeout whatever this is.
	IdleTimeout time.Duration

	// HandshakeTimeout bounds the time from accept to a completed open
	// exchange (protocol headers, TLS, SASL). 0: DefaultHandshakeTimeout;
	// negative: none.
	HandshakeTimeout time.Duration

	// MaxConnections caps the live connections, those still in their
	// handshake included; beyond it new ones are closed at once.
	// 0: DefaultMaxConnections; negative: no limit.
	MaxConnections int

	// MaxHandshakes caps the connections still in their handshake
	// (protocol headers, TLS, SASL, open): a new connection beyond it
	// closes the oldest of them, so that sockets opened and left idle
	// cannot hold every place (or every file descriptor) until
	// HandshakeTimeout and lock clients out. On an amqpws(s) listener it
	// also caps, separately, the sockets whose WebSocket upgrade is not
	// done yet. 0: DefaultMaxHandshakes; negative: no limit.
	MaxHandshakes int

	// MaxLinks caps the links one connection may have attached at a time,
	// over all its sessions (which ChannelMax bounds); an attach beyond
	// it is refused with amqp:resource-limit-exceeded, and a peer that
	// goes on attaching while twice as many are attached loses the
	// connection. 0: DefaultMaxLinks; negative: no limit.
	MaxLinks int

	// MaxMessageSize is the max-message-size announced on links where the
	// server receives; a larger message, counted as it arrives (so also
	// one that never ends), detaches the link with
	// amqp:link:message-size-exceeded and is freed. 0:
	// DefaultMaxMessageSize; math.MaxUint64: no limit (Link.SetMaxMessageSize
	// sets it per link).
	MaxMessageSize uint64

	// CreditWindow is the default automatic credit window of links where
	// the server receives (see Link.SetCreditWindow). 0:
	// DefaultCreditWindow.
	CreditWindow uint32

	// Transactions passes links to a transaction coordinator (AMQP 1.0
	// §4.2: a peer's sender whose attach carries a coordinator instead of
	// a target) to the Handler, which must then serve them: Attach sees
	// a receiving link with no Target, and accepting it answers with the
	// coordinator. Package broker's handler does this (its Listen sets
	// this field). false: such links are refused with
	// amqp:not-implemented, as a server without transactions must.
	Transactions bool

	// Logger receives connection events. nil: logs are discarded.
	// Passwords and SASL responses are never logged.
	Logger *slog.Logger
}

// config is the validated, defaulted copy of Options a Server runs with.
type config struct {
	Options
	idleTimeout      time.Duration // 0 = none
	handshakeTimeout time.Duration // 0 = none
	mechanisms       []string      // what is offered on plain TCP
	tlsMechanisms    []string      // what is offered on TLS
	guard            *authGuard    // nil: failed authentications are not held back
}

func newConfig(opts *Options, useTLS bool) (*config, error) {
	var cfg config
	if opts != nil {
		cfg.Options = *opts
		cfg.Mechanisms = slices.Clone(opts.Mechanisms)
		cfg.OfferedCapabilities = slices.Clone(opts.OfferedCapabilities)
		cfg.DesiredCapabilities = slices.Clone(opts.DesiredCapabilities)
	}
	if cfg.Handler == nil {
		cfg.Handler = HandlerFuncs{}
	}
	if cfg.TLSConfig != nil {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
	}
	if useTLS {
		if cfg.TLSConfig == nil {
			return nil, fmt.Errorf("server: amqps URL needs Options.TLSConfig")
		}
		if len(cfg.TLSConfig.Certificates) == 0 && cfg.TLSConfig.GetCertificate == nil && cfg.TLSConfig.GetConfigForClient == nil {
			return nil, fmt.Errorf("server: Options.TLSConfig has no certificate")
		}
	}
	if cfg.ContainerID == "" {
		cfg.ContainerID = "amq-server-" + randomID()
	}
	switch {
	case cfg.MaxFrameSize == 0:
		cfg.MaxFrameSize = DefaultMaxFrameSize
	case cfg.MaxFrameSize < minMaxFrameSize:
		cfg.MaxFrameSize = minMaxFrameSize
	}
	if cfg.ChannelMax == 0 {
		cfg.ChannelMax = DefaultChannelMax
	}
	switch {
	case cfg.IdleTimeout == 0:
		cfg.idleTimeout = DefaultIdleTimeout
	case cfg.IdleTimeout > 0:
		cfg.idleTimeout = cfg.IdleTimeout
	}
	if cfg.idleTimeout > math.MaxUint32*time.Millisecond {
		cfg.idleTimeout = math.MaxUint32 * time.Millisecond
	}
	switch {
	case cfg.HandshakeTimeout == 0:
		cfg.handshakeTimeout = DefaultHandshakeTimeout
	case cfg.HandshakeTimeout > 0:
		cfg.handshakeTimeout = cfg.HandshakeTimeout
	}
	switch {
	case cfg.MaxConnections == 0:
		cfg.MaxConnections = DefaultMaxConnections
	case cfg.MaxConnections < 0:
		cfg.MaxConnections = 0 // no limit
	}
	switch {
	case cfg.MaxHandshakes == 0:
		cfg.MaxHandshakes = DefaultMaxHandshakes
	case cfg.MaxHandshakes < 0:
		cfg.MaxHandshakes = 0 // no limit
	}
	switch {
	case cfg.MaxLinks == 0:
		cfg.MaxLinks = DefaultMaxLinks
	case cfg.MaxLinks < 0:
		cfg.MaxLinks = 0 // no limit
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.CreditWindow == 0 {
		cfg.CreditWindow = DefaultCreditWindow
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for i, m := range cfg.Mechanisms {
		cfg.Mechanisms[i] = strings.ToUpper(strings.TrimSpace(m))
		if !knownMechanism(cfg.Mechanisms[i]) {
			return nil, fmt.Errorf("server: Options.Mechanisms: unsupported SASL mechanism %q", m)
		}
	}
	if cfg.AuthFailureLimit == 0 {
		cfg.AuthFailureLimit = DefaultAuthFailureLimit
	}
	if cfg.AuthFailureMaxDelay == 0 {
		cfg.AuthFailureMaxDelay = DefaultAuthFailureMaxDelay
	}
	if cfg.AuthFailureLimit > 0 && cfg.AuthFailureMaxDelay > 0 {
		cfg.guard = newAuthGuard(cfg.AuthFailureLimit, cfg.AuthFailureMaxDelay)
	}
	cfg.mechanisms = cfg.offered(false)
	cfg.tlsMechanisms = cfg.offered(true)
	return &cfg, nil
}

// offered lists the mechanisms to offer, strongest first.
func (cfg *config) offered(onTLS bool) []string {
	var out []string
	for _, m := range allMechanisms {
		switch m {
		case mechExternal:
			if !onTLS || cfg.TLSConfig == nil || cfg.TLSConfig.ClientAuth < tls.VerifyClientCertIfGiven {
				continue
			}
		case mechAnonymous:
			if !cfg.AllowAnonymous {
				continue
			}
		default: // password mechanisms
			if cfg.Credentials == nil {
				continue
			}
		}
		if cfg.Mechanisms != nil && !slices.Contains(cfg.Mechanisms, m) {
			continue
		}
		out = append(out, m)
	}
	return out
}

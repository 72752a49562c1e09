package amq

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// ConnectOptions configures a Client. The zero value (or a nil pointer)
// means all defaults. Dial copies the struct and never modifies the
// caller's value. Field names follow the keys of connect.json (reference
// chapter 13) so that one struct serves both.
type ConnectOptions struct {
	// User and Password authenticate the connection. They take precedence
	// over credentials in the URL.
	User     string
	Password string

	// ContainerID identifies this client to the peer (reference 5.4). A
	// durable subscription is keyed by it, so set it to a stable value when
	// using one. Default: a random UUID.
	ContainerID string

	// VirtualHost is the hostname of the open frame (AMQP 1.0 §2.7.1): the
	// virtual host asked for, for brokers that serve several behind one
	// address (the reference's virtual_host). It is also sent as the
	// hostname of sasl-init, and is the TLS server name (SNI, and the
	// name the certificate is verified against) when TLSOptions.Config
	// gives none: for a virtual host that is not the certificate's DNS
	// name (RabbitMQ's "vhost:NAME"), set TLSOptions.Config.ServerName
	// too. Default: the host of the URL dialled.
	VirtualHost string

	// OfferedCapabilities and DesiredCapabilities are sent in the open
	// (AMQP 1.0 §2.7.1), as symbols: the extensions this client supports,
	// and those it would like the peer to. Client.PeerOfferedCapabilities
	// and Client.PeerDesiredCapabilities give the peer's.
	OfferedCapabilities []string
	DesiredCapabilities []string

	// SASL controls authentication.
	SASL SASLOptions

	// TLS controls amqps and amqpwss connections.
	TLS TLSOptions

	// WebSocket controls amqpws and amqpwss connections (AMQP over
	// WebSockets): extra headers of the upgrade request and the HTTP
	// proxy.
	WebSocket WebSocketOptions

	// IdleTimeout: when nothing (not even a heartbeat) arrives from the peer
	// for this long, the connection is considered dead and the client
	// reconnects. Half of it is announced as the open's idle-time-out, as
	// Proton does, so a peer heartbeating at the announced rate has a
	// margin. Default 60s; a negative value announces and enforces nothing.
	IdleTimeout time.Duration

	// MaxFrameSize is the largest frame this client accepts. Default 65536.
	MaxFrameSize uint32

	// MaxMessageSize is the largest message the client accepts, in bytes.
	// It is announced as the max-message-size of every receiving link;
	// a peer that sends more (or a message that never ends) gets the link
	// detached with amqp:link:message-size-exceeded, and the receiver
	// fails with that error. Default DefaultMaxMessageSize; negative: no
	// limit.
	MaxMessageSize int64 `json:"-"`

	// Properties are sent in the open frame's properties map.
	Properties map[string]any

	// ConnectTimeout bounds the TCP, TLS, SASL and AMQP open exchange when the
	// caller's context has no earlier deadline. Default 30s.
	ConnectTimeout time.Duration

	// CloseTimeout bounds how long Close waits for the peer to confirm that
	// it has processed everything sent (session end) before the socket is
	// closed. Default 5s.
	CloseTimeout time.Duration

	// URLs is a failover list (reference 6.4): Dial connects to the first
	// that answers, and reconnecting goes round the list, starting again
	// from the first when exhausted. Giving both Dial's url and URLs is an
	// error.
	URLs []string

	// Reconnect is the reconnect policy (reference 6.3). nil means the
	// default: immediate first attempt, then exponential delays with jitter
	// from 100ms up to 10s, never giving up. NoReconnect turns reconnecting
	// off: the client fails when its connection is lost.
	Reconnect ReconnectPolicy `json:"-"`

	// ReconnectOn decides whether the client reconnects after its
	// connection ended with err, and whether it dials again after an
	// attempt the peer refused with a close. err is an *Error: Condition
	// and Description are the peer's close, both empty for a lost
	// transport; errors.Is(err, ErrClosedByPeer) for a close without an
	// error. nil means ReconnectOnLoss, the reference's rule: reconnect
	// after a transport loss and after amqp:connection:forced, and end the
	// client on any other close (Done is closed, Err returns err). Return
	// true for more conditions to retry them too; wrap ReconnectOnLoss to
	// keep its answers for the rest. It runs on the client's supervisor
	// goroutine and must not block. Authentication and TLS verification
	// failures end the client whatever it says.
	ReconnectOn func(err error) bool `json:"-"`

	// ReconnectResetAfter is how long a connection must stay up for its
	// loss to restart the reconnect schedule (ReconnectPolicy.Reset: the
	// first attempt is immediate again). A connection lost sooner counts
	// as a failed attempt, and the schedule goes on with the next, longer
	// delay: a peer that closes every connection right after opening it is
	// not dialled in a tight loop. Default DefaultReconnectResetAfter.
	ReconnectResetAfter time.Duration

	// RetryInitialConnect makes Dial retry with the reconnect policy until
	// ctx ends, instead of trying each URL once (the reference's behaviour).
	RetryInitialConnect bool

	// OnStateChange, if set, is called on each change of the connection's
	// state, in order, on a goroutine of its own.
	OnStateChange func(StateEvent) `json:"-"`

	// MaxPendingSends and MaxPendingBytes bound the sends that wait for the
	// connection to come back; past them Send fails with ErrSendBufferFull.
	// Defaults 1024 messages and 64 MiB.
	MaxPendingSends int
	MaxPendingBytes int64

	// Logger receives the client's structured events. Default: discard.
	Logger *slog.Logger `json:"-"`

	// TraceFrames prints every AMQP and SASL frame in and out, one line
	// each in Qpid Proton's format, as PN_TRACE_FRM=1 in the environment
	// does (reference chapter 11). Passwords and tokens are redacted.
	TraceFrames bool `json:"-"`
	// TraceOutput receives the trace lines; default os.Stderr.
	TraceOutput io.Writer `json:"-"`
	// TraceToLogger sends the trace lines to Logger at debug level instead.
	TraceToLogger bool `json:"-"`

	// TracerProvider turns on OpenTelemetry tracing (reference chapter 12):
	// a producer span per send, a consumer span per delivery handed to the
	// application, a client span per settlement, and the trace context
	// carried inside each message. nil: tracing is off, at no cost.
	TracerProvider trace.TracerProvider `json:"-"`
	// UseGlobalTracerProvider uses otel.GetTracerProvider() when
	// TracerProvider is nil.
	UseGlobalTracerProvider bool `json:"-"`
	// TracePropagator writes and reads the trace context in messages.
	// Default: W3C Trace Context (traceparent, tracestate).
	TracePropagator propagation.TextMapPropagator `json:"-"`
}

// SASLOptions configures SASL authentication (reference 7.3).
type SASLOptions struct {
	// Mechanisms restricts the mechanisms the client may use (the
	// reference's allowed_mechs). Empty means any supported mechanism.
	Mechanisms []string
	// Enabled set to false skips SASL entirely (the reference's
	// sasl_enabled). Default true.
	Enabled *bool
	// AllowInsecure controls whether mechanisms that send a cleartext
	// password (PLAIN) may be used on a connection without TLS. nil allows
	// them, as the reference's Python container does.
	AllowInsecure *bool
	// XOAUTH2Token is the bearer token for the XOAUTH2 mechanism.
	XOAUTH2Token string `json:"-"`
	// Kerberos configures the GSSAPI mechanism.
	Kerberos KerberosOptions `json:"-"`
}

// TLSOptions configures TLS for amqps and amqpwss URLs (reference 7.1).
type TLSOptions struct {
	// CA is a PEM file of certificate authorities to trust instead of the
	// system roots.
	CA string
	// Cert and Key are PEM files of the client certificate and its key, for
	// SASL EXTERNAL or brokers that require client certificates.
	Cert string
	Key  string
	// Verify set to false skips verification of the server certificate.
	// Default true. Never disable it in production.
	Verify *bool
	// Config, when set, is used as the base TLS configuration (cloned; the
	// fields above still apply on top of it). InsecureSkipVerify set in it
	// logs the same warning as Verify false, unless it has a
	// VerifyPeerCertificate or VerifyConnection of its own.
	Config *tls.Config
}

// Durability is how much of a terminus survives the link (AMQP 1.0
// section 3.5.5); durable subscriptions use DurabilityUnsettledState.
type Durability uint32

// Terminus durability levels.
const (
	DurabilityNone           Durability = 0
	DurabilityConfiguration  Durability = 1
	DurabilityUnsettledState Durability = 2
)

// ExpiryPolicy is when a terminus' expiry timer starts (section 3.5.6).
type ExpiryPolicy string

// Terminus expiry policies. The zero value lets the peer apply its default
// (session-end).
const (
	ExpiryLinkDetach      ExpiryPolicy = "link-detach"
	ExpirySessionEnd      ExpiryPolicy = "session-end"
	ExpiryConnectionClose ExpiryPolicy = "connection-close"
	ExpiryNever           ExpiryPolicy = "never"
)

// SenderOptions configures a Sender. nil means all defaults.
type SenderOptions struct {
	// Name is the link name. Default: a random name.
	Name string
	// Capabilities are set on the target, e.g. "queue" or "topic"
	// (reference 8.1) to ask the peer to create that kind of node.
	Capabilities []string
	// Presettled sends every message settled (at-most-once): Send returns
	// once the message is written and no outcome is awaited.
	Presettled bool
	// Durability and ExpiryPolicy are set on the target.
	Durability   Durability
	ExpiryPolicy ExpiryPolicy
	// Properties are the link properties sent in the attach frame.
	Properties map[string]any
}

// ReceiverOptions configures a Receiver. nil means all defaults.
type ReceiverOptions struct {
	// Name is the link name. A durable subscription is identified by the
	// client's ContainerID and this name. Default: a random name.
	Name string
	// Credit is the prefetch window: how many messages the peer may send
	// ahead of the application. Credit is topped up when half of it is used.
	// Default 100.
	Credit int
	// ManualAccept turns off auto-accept: the application settles every
	// delivery itself with Accept, Reject, Release or Modify.
	ManualAccept bool
	// Capabilities are set on the source, e.g. "queue" or "topic".
	Capabilities []string
	// Durable makes a durable subscription (reference 8.2): the source is
	// durable (unsettled-state) and never expires, so the subscription
	// survives Detach and ends with Close. Needs a stable
	// ConnectOptions.ContainerID and Name.
	Durable bool
	// Durability and ExpiryPolicy set the source fields directly; Durable
	// is shorthand for DurabilityUnsettledState and ExpiryNever.
	Durability   Durability
	ExpiryPolicy ExpiryPolicy
	// DynamicAddress asks the peer to create a temporary node (a reply
	// queue for request/reply); the assigned address is Receiver.Address.
	// The address argument of NewReceiver must then be empty.
	DynamicAddress bool
	// Selector is a JMS-style message selector (the
	// apache.org:selector-filter:string filter).
	Selector string
	// Browse reads messages without consuming them (distribution mode copy).
	Browse bool
	// Move asks explicitly for distribution mode move: each message goes
	// to one receiver and leaves the node, as a queue does by default.
	// For a peer whose default for the node is copy. Not with Browse.
	Move bool
	// Presettled asks the peer to settle every message before sending it
	// (snd-settle-mode settled, AMQP 1.0 section 2.8.2): at-most-once, a
	// message lost on the way is lost for good, and so are those
	// prefetched (Credit) but not yet received when the receiver closes or
	// the connection drops. A delivery the peer sent
	// settled needs no settlement: auto-accept sends nothing for it, and
	// Accept, Reject, Release and Modify do nothing and return nil (a
	// second call returns ErrAlreadySettled, as for any delivery). A peer
	// that does not agree sends deliveries unsettled, which are settled
	// as usual.
	Presettled bool
	// Filters are added to the source's filter set (AMQP 1.0 section
	// 3.5.8), for filters other than Selector and NoLocal: filter name →
	// filter, usually an amq.Described whose descriptor is the filter
	// type (see Apache's AMQP filters registry), e.g. a RabbitMQ stream
	// offset. A name must not be empty nor one that Selector or NoLocal
	// sets when they are in use; a value must be one the type map sends.
	Filters map[string]any
	// NoLocal asks the peer not to send messages published on this
	// connection: the JMS no-local filter, as Qpid JMS sends it (name
	// "no-local", apache.org:no-local-filter:list, 0x0000468C:0x00000003).
	// Brokers apply it to topic subscriptions (ActiveMQ Artemis does; so
	// does the embedded broker).
	NoLocal bool
	// DynamicNodeProperties are the properties of the node a dynamic
	// source asks the peer to create (AMQP 1.0 section 3.5.9), e.g.
	// "lifetime-policy" or "supported-dist-modes". Only with
	// DynamicAddress.
	DynamicNodeProperties map[string]any
	// Properties are the link properties sent in the attach frame.
	Properties map[string]any
}

// Default values of the options.
const (
	DefaultCredit          = 100
	DefaultIdleTimeout     = 60 * time.Second
	DefaultMaxFrameSize    = 65536
	DefaultConnectTimeout  = 30 * time.Second
	DefaultCloseTimeout    = 5 * time.Second
	DefaultMaxPendingSends = 1024
	DefaultMaxPendingBytes = 64 << 20
	DefaultMaxMessageSize  = 100 << 20
	maxCredit              = 1 << 20
)

// connectConfig is ConnectOptions copied, defaulted and validated.
type connectConfig struct {
	ConnectOptions
	logger *slog.Logger

	// insecureTLSWarned keeps the warning that the server certificate goes
	// unverified to once per client: buildTLSConfig runs for every dial,
	// each reconnect attempt included.
	insecureTLSWarned atomic.Bool

	// What every connection of the client runs with (prepareEngine).
	engine         *engine.Config
	openProperties codec.Map
	openOffered    []codec.Symbol
	openDesired    []codec.Symbol
}

// clientChannelMax is the channel-max of the client's open: one session per
// sender and receiver.
const clientChannelMax = 65535

// prepareEngine makes the engine configuration, once ContainerID is final.
func (c *connectConfig) prepareEngine() error {
	idle := c.IdleTimeout
	if idle < 0 {
		idle = 0
	}
	var maxMsg uint64
	switch {
	case c.MaxMessageSize == 0:
		maxMsg = DefaultMaxMessageSize
	case c.MaxMessageSize > 0:
		maxMsg = uint64(c.MaxMessageSize)
	}
	c.engine = &engine.Config{
		ContainerID:    c.ContainerID,
		MaxFrameSize:   c.MaxFrameSize,
		ChannelMax:     clientChannelMax,
		IdleTimeout:    idle,
		MaxMessageSize: maxMsg,
		Handler:        refuseLinks{},
		// A peer's own sessions, and the links on them, would only hold
		// memory: the client serves nothing.
		RefusePeerSessions: true,
		// Received messages are mostly small and short-lived in a client:
		// share allocations between them (see docs/performance.md).
		PackPayloads: true,
		Logger:       c.logger,
	}
	if len(c.Properties) > 0 {
		props, err := annotationsToCodec("connection property", c.Properties)
		if err != nil {
			return fmt.Errorf("amq: ConnectOptions.Properties: %w", err)
		}
		c.openProperties = props
	}
	c.openOffered, c.openDesired = symbols(c.OfferedCapabilities), symbols(c.DesiredCapabilities)
	return nil
}

func newConnectConfig(opts *ConnectOptions) (*connectConfig, error) {
	cfg := &connectConfig{}
	if opts != nil {
		cfg.ConnectOptions = *opts
		if opts.Properties != nil {
			cfg.Properties = make(map[string]any, len(opts.Properties))
			for k, v := range opts.Properties {
				cfg.Properties[k] = v
			}
		}
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxFrameSize == 0 {
		cfg.MaxFrameSize = DefaultMaxFrameSize
	} else if cfg.MaxFrameSize < 512 {
		return nil, fmt.Errorf("amq: ConnectOptions.MaxFrameSize %d is below the AMQP minimum of 512", cfg.MaxFrameSize)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.ReconnectResetAfter <= 0 {
		cfg.ReconnectResetAfter = DefaultReconnectResetAfter
	}
	if cfg.MaxPendingSends <= 0 {
		cfg.MaxPendingSends = DefaultMaxPendingSends
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	cfg.URLs = append([]string(nil), cfg.URLs...)
	cfg.WebSocket.Header = cfg.WebSocket.Header.Clone()
	cfg.OfferedCapabilities = slices.Clone(cfg.OfferedCapabilities)
	cfg.DesiredCapabilities = slices.Clone(cfg.DesiredCapabilities)
	if slices.Contains(cfg.OfferedCapabilities, "") {
		return nil, fmt.Errorf("amq: ConnectOptions.OfferedCapabilities: a capability is an empty string")
	}
	if slices.Contains(cfg.DesiredCapabilities, "") {
		return nil, fmt.Errorf("amq: ConnectOptions.DesiredCapabilities: a capability is an empty string")
	}
	// Entries may hold several names separated by spaces, as Proton's
	// allowed_mechs string does.
	var mechs []string
	for _, entry := range cfg.SASL.Mechanisms {
		for _, m := range strings.Fields(entry) {
			if !supportedMechanism(strings.ToUpper(m)) {
				return nil, fmt.Errorf("amq: ConnectOptions.SASL.Mechanisms: unsupported mechanism %q (supported: %s)", m, strings.Join(supportedMechanisms, ", "))
			}
			mechs = append(mechs, strings.ToUpper(m))
		}
	}
	cfg.SASL.Mechanisms = mechs
	if (cfg.TLS.Cert == "") != (cfg.TLS.Key == "") {
		return nil, fmt.Errorf("amq: ConnectOptions.TLS: Cert and Key must be given together")
	}
	cfg.logger = cfg.Logger
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

func (c *connectConfig) saslEnabled() bool { return c.SASL.Enabled == nil || *c.SASL.Enabled }

func (c *connectConfig) tlsVerify() bool { return c.TLS.Verify == nil || *c.TLS.Verify }

func (c *connectConfig) allowInsecure() bool {
	return c.SASL.AllowInsecure == nil || *c.SASL.AllowInsecure
}

// receiverConfig is ReceiverOptions copied, defaulted and validated.
func newReceiverConfig(address string, opts *ReceiverOptions) (ReceiverOptions, error) {
	var o ReceiverOptions
	if opts != nil {
		o = *opts
		o.Capabilities = append([]string(nil), opts.Capabilities...)
	}
	switch {
	case o.Credit == 0:
		o.Credit = DefaultCredit
	case o.Credit < 0 || o.Credit > maxCredit:
		return o, fmt.Errorf("amq: ReceiverOptions.Credit %d out of range (1-%d, 0 for the default %d)", o.Credit, maxCredit, DefaultCredit)
	}
	if o.DynamicAddress && address != "" {
		return o, fmt.Errorf("amq: NewReceiver: address %q given with ReceiverOptions.DynamicAddress; the peer assigns the address, pass \"\"", address)
	}
	if !o.DynamicAddress && address == "" {
		return o, fmt.Errorf("amq: NewReceiver: empty address (set ReceiverOptions.DynamicAddress for a peer-assigned one)")
	}
	if o.Durable {
		if o.Durability == DurabilityNone {
			o.Durability = DurabilityUnsettledState
		}
		if o.ExpiryPolicy == "" {
			o.ExpiryPolicy = ExpiryNever
		}
		if o.Name == "" {
			return o, fmt.Errorf("amq: ReceiverOptions.Durable needs a stable Name: the subscription is identified by container id and link name")
		}
	}
	if err := checkTerminus("ReceiverOptions", o.Durability, o.ExpiryPolicy); err != nil {
		return o, err
	}
	if _, err := annotationsToCodec("link property", o.Properties); err != nil {
		return o, fmt.Errorf("amq: ReceiverOptions.Properties: %w", err)
	}
	if err := o.checkSource(); err != nil {
		return o, err
	}
	return o, nil
}

func newSenderConfig(address string, opts *SenderOptions) (SenderOptions, error) {
	var o SenderOptions
	if opts != nil {
		o = *opts
		o.Capabilities = append([]string(nil), opts.Capabilities...)
	}
	if address == "" {
		return o, fmt.Errorf("amq: NewSender: empty address")
	}
	if _, err := annotationsToCodec("link property", o.Properties); err != nil {
		return o, fmt.Errorf("amq: SenderOptions.Properties: %w", err)
	}
	return o, checkTerminus("SenderOptions", o.Durability, o.ExpiryPolicy)
}

func checkTerminus(what string, d Durability, e ExpiryPolicy) error {
	if d > DurabilityUnsettledState {
		return fmt.Errorf("amq: %s.Durability %d is not a terminus durability (0, 1 or 2)", what, d)
	}
	switch e {
	case "", ExpiryLinkDetach, ExpirySessionEnd, ExpiryConnectionClose, ExpiryNever:
		return nil
	}
	return fmt.Errorf("amq: %s.ExpiryPolicy %q is not an expiry policy (link-detach, session-end, connection-close, never)", what, e)
}

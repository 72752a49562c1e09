package engine

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// Limits of the protocol and defaults of the engine.
const (
	// MinMaxFrameSize is the smallest max-frame-size AMQP allows (§2.7.1).
	MinMaxFrameSize = 512
	// DefaultHandleMax is the handle-max announced in begin.
	DefaultHandleMax = 1023
)

// Config is what a Conn runs with. The role layers (package server, and
// the client) fill it in; the engine reads it and never changes it.
type Config struct {
	// ContainerID is the container-id of our open.
	ContainerID string
	// OfferedCapabilities and DesiredCapabilities are those of the open
	// an accepted connection answers with (a client's are in OpenOptions).
	OfferedCapabilities []codec.Symbol
	DesiredCapabilities []codec.Symbol
	// MaxFrameSize is the largest frame we accept (our open's
	// max-frame-size). It must be at least MinMaxFrameSize.
	MaxFrameSize uint32
	// ChannelMax is the highest channel we accept.
	ChannelMax uint16
	// IdleTimeout: a connection on which nothing arrives for this long is
	// closed with amqp:resource-limit-exceeded; half of it is announced in
	// our open. 0: none.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds accepting a connection, from the first byte
	// to the open exchanged. 0: none.
	HandshakeTimeout time.Duration
	// MaxMessageSize is the max-message-size announced, and enforced, on
	// links where we receive. 0: no limit.
	MaxMessageSize uint64
	// MaxLinks caps the links a peer may have attached on one connection
	// at a time, over all its sessions; an attach beyond it is refused
	// with amqp:resource-limit-exceeded, and a peer that goes on
	// attaching while twice as many are still attached (it does not
	// answer the refusals) loses the connection. 0: no limit beyond
	// channel-max × handle-max.
	MaxLinks int
	// PackPayloads copies small received messages into chunks they share
	// (codec.FrameReader.PackPayloads): an allocation per chunk rather
	// than per message, for memory held longer when a few are kept. For
	// a client, not for a broker.
	PackPayloads bool
	// CreditWindow is the default automatic credit window of links where
	// we receive (Link.SetCreditWindow).
	CreditWindow uint32
	// Handler decides the links the peer attaches and serves them.
	Handler Handler
	// Logger receives connection events; never nil.
	Logger *slog.Logger

	// TLS, when set, makes an accepted connection start with a TLS
	// handshake with this configuration.
	TLS *tls.Config
	// SASL is the server side of the SASL layer of an accepted connection;
	// nil offers no mechanism.
	SASL SASLServer
	// AllowBare accepts a connection that skips the SASL layer (a bare AMQP
	// protocol header); it is then anonymous.
	AllowBare bool
	// RefusePeerSessions closes the connection with amqp:not-allowed when
	// the peer begins a session of its own: a client has nothing to serve
	// on one, and each would hold memory until channel-max.
	RefusePeerSessions bool
	// Coordinator passes links to a transaction coordinator (§4.2) to the
	// handler's Attach, which tells them by LinkCoordinator; false refuses
	// them with amqp:not-implemented.
	Coordinator bool

	// Context is the parent of every connection's context; nil means
	// context.Background().
	Context context.Context
	// WG, when set, counts every goroutine the engine starts for a
	// connection, so that its owner can wait for all of them.
	WG *sync.WaitGroup
	// OnOpen, when set, is called once a served connection has completed
	// its handshake (protocol headers, TLS, SASL, open).
	OnOpen func(*Conn)
	// OnEnd, when set, is called once a served connection has ended.
	OnEnd func(*Conn)
}

// SASLServer is the server side of the SASL layer (§5.3): the mechanisms
// offered, and a conversation per attempt.
type SASLServer interface {
	// Mechanisms lists the mechanisms to offer, strongest first, on a TLS
	// connection or not.
	Mechanisms(onTLS bool) []string
	// Start begins the exchange of a mechanism Mechanisms offered.
	//
	// Start begins the exchange of a connection from remote, whose context
	// ctx ends with the connection or the server: enough to log a failure
	// with the peer's address, or to slow an address that keeps failing,
	// without holding the connection's lock.
	Start(ctx context.Context, remote net.Addr, mechanism string, tlsState *tls.ConnectionState) (SASLConversation, error)
}

// SASLConversation is one mechanism's exchange, server side. Step gets the
// client's initial-response or response and returns a challenge to send,
// or done with the authenticated identity and the outcome's
// additional-data, or an error when authentication fails.
type SASLConversation interface {
	Step(response []byte) (challenge []byte, done bool, identity string, additional []byte, err error)
}

func (c *Config) wgAdd() {
	if c.WG != nil {
		c.WG.Add(1)
	}
}

func (c *Config) wgDone() {
	if c.WG != nil {
		c.WG.Done()
	}
}

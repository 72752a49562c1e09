package broker

import (
	"io"
	"log/slog"

	"github.com/amqgo/amq/server"
)

// Default bounds, used when Options leaves them zero.
const (
	DefaultMaxQueueMessages = 100_000
	DefaultMaxQueueBytes    = 256 << 20
	DefaultMaxNodes         = 10_000
	DefaultMaxTransactions  = 64

	// DefaultMaxTotalBytes bounds the messages of the whole broker: 1 GiB,
	// four nodes filled to DefaultMaxQueueBytes. The node bounds alone
	// would let DefaultMaxNodes full nodes take 2.4 TiB; this keeps an
	// in-memory broker, made for tests and small deployments, within the
	// memory of an ordinary machine or CI runner whatever its clients
	// do. A deployment that needs more sets MaxTotalBytes.
	DefaultMaxTotalBytes = 1 << 30
)

// Options configures a Broker. A nil *Options means all defaults; the zero
// value of each field is its documented default. New copies the struct, so
// the caller may reuse it.
type Options struct {
	// MaxQueueMessages bounds the messages one node holds, counting those
	// delivered but not yet settled. Zero means DefaultMaxQueueMessages;
	// a negative value means no bound.
	MaxQueueMessages int

	// MaxQueueBytes bounds the encoded bytes one node holds, counted the
	// same way. Zero means DefaultMaxQueueBytes; a negative value means no
	// bound.
	MaxQueueBytes int64

	// MaxNodes bounds the number of nodes (queues, topics, dynamic nodes)
	// peers may create by attaching. Zero means DefaultMaxNodes; a negative
	// value means no bound. Beyond it an attach to a new address is refused
	// with amqp:resource-limit-exceeded.
	MaxNodes int

	// MaxTransactions bounds the transactions one connection has declared
	// and not yet discharged. Zero means DefaultMaxTransactions; a negative
	// value means no bound. Beyond it a declare is rejected with
	// amqp:resource-limit-exceeded. (What one transaction holds is bounded
	// as a node is: MaxQueueMessages sends, MaxQueueBytes bytes.)
	MaxTransactions int

	// MaxTotalBytes bounds the encoded bytes of all the messages the
	// broker holds: those on every node, counted as each node counts them
	// for MaxQueueBytes (a topic's message once per subscription that
	// keeps a copy), and those sent in transactions not yet discharged.
	// Zero means DefaultMaxTotalBytes; a negative value means no bound.
	// A message that would pass it is refused as one to a full node is:
	// rejected with amqp:resource-limit-exceeded (in a transaction, which
	// can then only roll back). Sends succeed again once consumers have
	// settled enough messages. Each message held counts its encoded bytes
	// and 160 bytes for the broker's bookkeeping of it (about 105 measured,
	// plus the rounding of its allocation), so that many empty messages
	// reach the bound too.
	MaxTotalBytes int64

	// Logger receives the broker's log. Nil discards it.
	Logger *slog.Logger

	// Server holds the listener's options for Listen: TLS, credentials,
	// anonymous access, limits. Nil means server defaults. Its Handler is
	// ignored (the broker is the handler); a nil Logger gets the broker's.
	Server *server.Options
}

// limits is the resolved form of the bounds in Options.
type limits struct {
	maxMsgs  int   // <0: unbounded
	maxBytes int64 // <0: unbounded
	maxNodes int   // <0: unbounded
	maxTxns  int   // per connection; <0: unbounded
	// total is the broker-wide byte budget (MaxTotalBytes), shared by all
	// queues and transactions; nil counts nothing (unit tests of a queue).
	total *budget
}

func (o *Options) resolve() (Options, limits) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxQueueMessages == 0 {
		c.MaxQueueMessages = DefaultMaxQueueMessages
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.MaxNodes == 0 {
		c.MaxNodes = DefaultMaxNodes
	}
	if c.MaxTransactions == 0 {
		c.MaxTransactions = DefaultMaxTransactions
	}
	if c.MaxTotalBytes == 0 {
		c.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, limits{maxMsgs: c.MaxQueueMessages, maxBytes: c.MaxQueueBytes, maxNodes: c.MaxNodes, maxTxns: c.MaxTransactions,
		total: &budget{max: c.MaxTotalBytes}}
}

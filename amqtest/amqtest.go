package amqtest

import (
	"strings"
	"sync"
	"testing"

	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// Broker is an embedded AMQP 1.0 broker listening on a loopback port.
// Its methods are safe for concurrent use.
type Broker struct {
	t      testing.TB
	b      *broker.Broker
	opts   server.Options
	scheme string

	mu   sync.Mutex
	srv  *server.Server // nil while stopped
	addr string         // host:port, fixed by the first listen
	done bool
}

// NewBroker starts a broker on 127.0.0.1 with a free port and registers its
// shutdown with t.Cleanup. It calls t.Fatal if the broker cannot start.
func NewBroker(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	b := &Broker{t: t, b: broker.New(&cfg.broker), scheme: "amqp"}
	b.opts = server.Options{
		Handler:        b.b.Handler(),
		AllowAnonymous: len(cfg.users) == 0,
		Logger:         cfg.broker.Logger,
		Transactions:   true, // the broker coordinates them
		// The broker routes a link with no target by each message's "to".
		OfferedCapabilities: []server.Symbol{"ANONYMOUS-RELAY"},
	}
	if cfg.anonymous != nil {
		b.opts.AllowAnonymous = *cfg.anonymous
	}
	if len(cfg.users) > 0 {
		creds, err := server.NewCredentials(cfg.users)
		if err != nil {
			t.Fatalf("amqtest: %v", err)
		}
		b.opts.Credentials = creds
	}
	if cfg.tls != nil {
		b.opts.TLSConfig = cfg.tls
		b.scheme = "amqps"
	}
	if cfg.websocket {
		b.scheme = strings.Replace(b.scheme, "amqp", "amqpws", 1)
	}
	if err := b.listen(b.scheme + "://127.0.0.1:0"); err != nil {
		t.Fatalf("amqtest: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func (b *Broker) listen(url string) error {
	srv, err := server.Listen(url, &b.opts)
	if err != nil {
		return err
	}
	b.srv = srv
	b.addr = srv.Addr().String()
	return nil
}

// URL returns the URL to dial: amqp://127.0.0.1:PORT (amqps:// with
// WithTLS, amqpws:// or amqpwss:// with WithWebSocket). It stays the same across Stop and Restart.
func (b *Broker) URL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.scheme + "://" + b.addr
}

// Stop closes the listener and every client connection, as a broker that
// goes down would. The broker's state (queued messages, durable
// subscriptions) is kept for Restart. Stop on a stopped broker does
// nothing.
func (b *Broker) Stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart stops the broker if it is running and starts it again on the
// same port, with the same queued messages and durable subscriptions. It
// calls t.Fatal if the port cannot be listened on again.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		b.t.Fatal("amqtest: Restart after Close")
	}
	if err := b.listen(b.scheme + "://" + b.addr); err != nil {
		b.t.Fatalf("amqtest: restart: %v", err)
	}
}

// DropConnections cuts every client connection as a lost network
// connection would: the sockets are closed with no AMQP close frame, so
// clients see a lost transport and reconnect. The broker keeps listening.
// Links of the dropped connections detach without closing: durable
// subscriptions stay and unsettled messages are redelivered.
func (b *Broker) DropConnections() {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv != nil {
		for _, c := range srv.Conns() {
			engine.Abort(c)
		}
	}
}

// DropConnectionsForced closes every client connection with
// amqp:connection:forced, which clients take as "reconnect", as a broker
// administrator's forced close would.
func (b *Broker) DropConnectionsForced() {
	b.closeConns(codec.ErrCondConnectionForced, "amqtest: connections dropped")
}

func (b *Broker) closeConns(cond codec.Symbol, desc string) {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv != nil {
		srv.CloseConnections(cond, desc)
	}
}

// QueueDepth returns the number of messages waiting on the node at address
// (queue, or for a topic the sum over its subscriptions), not counting
// those delivered and not yet settled. It is 0 for an unknown address.
func (b *Broker) QueueDepth(address string) int { return b.b.QueueDepth(address) }

// Broker returns the underlying broker.
func (b *Broker) Broker() *broker.Broker { return b.b }

// Close stops the broker for good and discards its state. NewBroker
// registers it with t.Cleanup; calling it earlier is allowed.
func (b *Broker) Close() {
	b.Stop()
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	_ = b.b.Close()
}

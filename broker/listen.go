package broker

import (
	"slices"

	"github.com/amqgo/amq/server"
)

// capAnonymousRelay, offered in the open, tells clients that a link with
// no target address may send messages to any node, by their "to": the
// broker routes them (handler.go). Qpid Dispatch, Artemis and ActiveMQ
// offer it under this name.
const capAnonymousRelay server.Symbol = "ANONYMOUS-RELAY"

// Listen creates a broker and serves it on url ("amqp://HOST:PORT",
// "amqps://HOST:PORT", "amqpws://HOST:PORT[/PATH]" and
// "amqpwss://HOST:PORT[/PATH]" for AMQP over WebSockets, or a bare form
// such as "0.0.0.0:5672" or "[::]"; see server.Listen; port 0 picks a
// free one, see URL). Server options (TLS, users, anonymous access) come
// from opts.Server; its Handler is
// replaced by the broker's, its Transactions is set (the broker
// coordinates transactions), and ANONYMOUS-RELAY is added to its
// OfferedCapabilities (the broker routes a link with no target address by
// each message's "to"). Close stops the listener and the broker.
func Listen(url string, opts *Options) (*Broker, error) {
	b := New(opts)
	var so *server.Options
	if opts != nil {
		so = opts.Server
	}
	srv, err := server.Listen(url, b.ServerOptions(so))
	if err != nil {
		return nil, err
	}
	b.lnMu.Lock()
	b.srv = srv
	b.lnMu.Unlock()
	return b, nil
}

// ServerOptions returns a copy of so (nil: the defaults) that serves b, as
// Listen sets it up: its Handler is b's, Transactions is set,
// ANONYMOUS-RELAY is offered, and the Logger is b's when so has none.
// With it, server.Listen serves b on more listeners than Listen's, such
// as an amqpws:// one beside an amqp:// one; closing those servers is the
// caller's business (Close closes only Listen's).
func (b *Broker) ServerOptions(so *server.Options) *server.Options {
	var out server.Options
	if so != nil {
		out = *so
	}
	out.Handler = b.Handler()
	out.Transactions = true
	if !slices.Contains(out.OfferedCapabilities, capAnonymousRelay) {
		out.OfferedCapabilities = append(slices.Clone(out.OfferedCapabilities), capAnonymousRelay)
	}
	if out.Logger == nil {
		out.Logger = b.log
	}
	return &out
}

// URL returns the URL clients dial to reach a broker started by Listen,
// with the real port, or "" for a broker without a listener.
func (b *Broker) URL() string {
	b.lnMu.Lock()
	defer b.lnMu.Unlock()
	if b.srv == nil {
		return ""
	}
	return b.srv.URL()
}

// Server returns the server started by Listen (to close client connections,
// for instance), or nil.
func (b *Broker) Server() *server.Server {
	b.lnMu.Lock()
	defer b.lnMu.Unlock()
	return b.srv
}

func (b *Broker) stopListener() error {
	b.lnMu.Lock()
	srv := b.srv
	b.srv = nil
	b.lnMu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

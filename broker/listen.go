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
// "amqps://HOST:PORT", or a bare form such as "0.0.0.0:5672" or "[::]";
// see server.Listen; port 0 picks a free one, see URL). Server options
// (TLS, users, anonymous access) come from opts.Server; its Handler is
// replaced by the broker's, its Transactions is set (the broker
// coordinates transactions), and ANONYMOUS-RELAY is added to its
// OfferedCapabilities (the broker routes a link with no target address by
// each message's "to"). Close stops the listener and the broker.
func Listen(url string, opts *Options) (*Broker, error) {
	b := New(opts)
	var so server.Options
	if opts != nil && opts.Server != nil {
		so = *opts.Server
	}
	so.Handler = b.Handler()
	so.Transactions = true
	if !slices.Contains(so.OfferedCapabilities, capAnonymousRelay) {
		so.OfferedCapabilities = append(slices.Clone(so.OfferedCapabilities), capAnonymousRelay)
	}
	if so.Logger == nil {
		so.Logger = b.log
	}
	srv, err := server.Listen(url, &so)
	if err != nil {
		return nil, err
	}
	b.lnMu.Lock()
	b.srv = srv
	b.lnMu.Unlock()
	return b, nil
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

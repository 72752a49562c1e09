package amqtest

import (
	"crypto/tls"
	"log/slog"

	"github.com/amqgo/amq/broker"
)

// Option configures a Broker made by NewBroker.
type Option func(*config)

type config struct {
	users     map[string]string
	anonymous *bool
	tls       *tls.Config
	websocket bool
	broker    broker.Options
}

// WithUser adds a user who authenticates with PLAIN or SCRAM-SHA-*. Once a
// user is added, anonymous connections are refused unless
// WithAnonymous(true) is also given.
func WithUser(user, password string) Option {
	return func(c *config) {
		if c.users == nil {
			c.users = make(map[string]string)
		}
		c.users[user] = password
	}
}

// WithAnonymous allows or refuses anonymous connections (SASL ANONYMOUS, or
// no SASL layer). The default is allowed when no user is configured and
// refused otherwise.
func WithAnonymous(allow bool) Option {
	return func(c *config) { c.anonymous = &allow }
}

// WithTLS serves amqps:// with cfg, which must hold a certificate. URL then
// starts with amqps://.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) { c.tls = cfg }
}

// WithWebSocket serves AMQP over WebSockets: URL then starts with
// amqpws:// (amqpwss:// with WithTLS), for clients that go through
// HTTP. Everything else is as over TCP.
func WithWebSocket() Option {
	return func(c *config) { c.websocket = true }
}

// WithMaxQueueMessages bounds the messages each node holds (see
// broker.Options.MaxQueueMessages).
func WithMaxQueueMessages(n int) Option {
	return func(c *config) { c.broker.MaxQueueMessages = n }
}

// WithMaxQueueBytes bounds the bytes each node holds (see
// broker.Options.MaxQueueBytes).
func WithMaxQueueBytes(n int64) Option {
	return func(c *config) { c.broker.MaxQueueBytes = n }
}

// WithLogger sends the broker's and its server's log to l. By default
// nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.broker.Logger = l }
}

// Package amq is an AMQP 1.0 messaging client for Go: blocking and
// context-aware, it gives Go programs what the Red Hat AMQ Python client
// (Qpid Proton) gives Python programs, the Go way — no event loop, one
// goroutine per link, channels to range over, plain errors. It runs on the
// project's own AMQP engine, the one package server runs on too.
//
// # Connecting
//
// Dial opens a connection (the reference's Container and Connection in
// one). The URL is scheme://[user[:password]@]host[:port] with scheme amqp
// (port 5672) or amqps (5671); a bare host[:port] means amqp:
//
//	c, err := amq.Dial(ctx, "amqp://localhost", &amq.ConnectOptions{User: "alice", Password: "secret"})
//	if err != nil { ... }
//	defer c.Close()
//
// # Sending
//
// Client.Send sends to the message's To address and blocks until the peer
// settles the message; nil means accepted. A Sender sends to one address
// and is safe for concurrent use; SendAsync returns a Receipt so that one
// goroutine can keep many messages in flight:
//
//	err := c.Send(ctx, amq.NewMessage("hello").SetTo("queue1"))
//
//	s, err := c.NewSender(ctx, "jobs", nil)
//	err = s.Send(ctx, amq.NewMessage(job))
//
// Outcomes other than accepted are errors: *RejectedError,
// *ReleasedError, *ModifiedError, all matching errors.Is(err,
// ErrNotAccepted).
//
// # Receiving
//
// A Receiver delivers messages through Receive or the Deliveries channel.
// By default a delivery is accepted when the application asks for the
// next one, or when the receiver closes (see Receiver for the exact rule);
// set ReceiverOptions.ManualAccept to settle each delivery with Accept,
// Reject, Release or Modify:
//
//	r, err := c.NewReceiver(ctx, "jobs", &amq.ReceiverOptions{Credit: 100})
//	for d := range r.Deliveries() {
//		process(d.Message)
//	}
//	err = r.Err() // why the loop ended
//
// # Queues, topics and subscriptions
//
// SenderOptions.Capabilities and ReceiverOptions.Capabilities ask the peer
// for a "queue" or a "topic" (reference 8.1). A durable subscription
// (reference 8.2) is a receiver with ReceiverOptions.Durable, a stable
// ConnectOptions.ContainerID and a stable link Name: Detach keeps it,
// Close ends it. ReceiverOptions.DynamicAddress asks the peer for a
// temporary reply address, for request/reply.
//
// # Reconnect and failover
//
// Reconnect is on by default: a supervisor goroutine re-dials (round
// ConnectOptions.URLs, with the delays of ConnectOptions.Reconnect),
// re-attaches every sender and receiver, and resends what was waiting for
// its outcome, so application code does not notice a dropped connection
// except through ConnectOptions.OnStateChange. Delivery is at-least-once.
// A link the peer takes away while the connection stays up (its session
// ended, amqp:link:detach-forced, a detach that does not close it) is
// re-attached the same way, on its own. docs/failover.md has the full
// semantics.
//
// # Configuration, security and diagnostics
//
// Dial with no URL reads connect.json (LoadConnectConfig). SASL
// (ANONYMOUS, PLAIN, SCRAM-SHA-1/256/512, EXTERNAL, XOAUTH2, GSSAPI) and
// TLS are set in ConnectOptions; the strongest mechanism both sides allow
// wins. PN_TRACE_FRM=1 prints every frame, credentials redacted;
// ConnectOptions.TracerProvider turns on OpenTelemetry tracing, with the
// trace context carried inside each message. See docs/configuration.md.
//
// # Types
//
// Go values map to AMQP types as in docs/types.md. Char, Decimal32/64/128,
// Symbol, Described and Array name the AMQP types Go lacks, and survive
// the trip through go-amqp, which cannot decode several of them on its
// own: a message from a Proton or JMS sender carrying any AMQP type
// reaches the application instead of taking the link down.
//
// # Errors
//
// Every failure of a connection, session or link is an *Error carrying the
// AMQP condition and description the peer sent and the underlying cause.
// ErrClosed reports use after Close; ErrDeliveryLost a delivery that can
// no longer be settled because its link is gone (the peer redelivers it).
// Retryable says whether trying again may help. A context that ends
// returns its error, wrapped.
//
// # Testing
//
// Package amqtest starts an embedded AMQP 1.0 broker on a loopback port,
// so tests need nothing installed:
//
//	b := amqtest.NewBroker(t)
//	c, err := amq.Dial(ctx, b.URL(), nil)
package amq

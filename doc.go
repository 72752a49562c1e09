// Package amq is an AMQP 1.0 messaging client for Go: a blocking,
// context-aware facade over github.com/Azure/go-amqp that gives Go
// programs what the Red Hat AMQ Python client (Qpid Proton) gives Python
// programs, the Go way — no event loop, one goroutine per link, channels
// to range over, plain errors.
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

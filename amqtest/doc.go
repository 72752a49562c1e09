// Package amqtest runs an embedded AMQP 1.0 broker for tests, in the manner
// of net/http/httptest.
//
//	b := amqtest.NewBroker(t)
//	conn, err := amqp.Dial(ctx, b.URL(), nil) // any AMQP 1.0 client
//
// NewBroker listens on a free loopback port and stops the broker when the
// test ends. The broker is package broker's in-memory broker: queues and
// topics created on demand, durable subscriptions, dynamic reply queues,
// selectors. Fault injection: Stop and Restart take the listener down and
// up again on the same port (durable subscriptions and queued messages
// survive, as on a real broker restart); DropConnections and
// DropConnectionsForced cut every client connection.
package amqtest

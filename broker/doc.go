// Package broker is an in-memory AMQP 1.0 broker built on package server.
//
// It is meant for tests, demos and small single-process deployments. All
// state lives in the memory of one process: it is not a cluster, it does not
// replicate, and nothing is written to disk. A Broker outlives the listeners
// it serves, so stopping a listener and starting another one on the same
// port (see amqtest's Restart) keeps durable subscriptions and queued
// messages.
//
// # Nodes
//
// A node (the AMQP 1.0 name for a queue or topic) is created on demand when a
// link attaches to its address. Its kind is chosen by the "queue" or "topic"
// capability of the terminus (queue when neither is given); a node keeps the
// kind it was created with, and the attach reply carries that kind as a
// capability. RabbitMQ-style addresses "/queue/NAME" and "/topic/NAME" name
// the node NAME with that kind.
//
//   - A queue hands each message to exactly one receiver, round-robin among
//     the receivers that have credit (competing consumers). A receiver whose
//     source asks for distribution-mode "copy" browses the queue without
//     consuming.
//   - A topic gives every subscriber its own copy. A receiver whose source is
//     durable (durable != none, or expiry-policy never) is a durable
//     subscription identified by (container id, link name): it keeps
//     collecting while its link is detached and ends when the link is closed.
//   - A source with dynamic=true gets a temporary queue with a generated
//     address, deleted when the link closes (the reply queue of
//     request/reply).
//
// # Flow control and settlement
//
// Messages go out only against link credit, and drain is honoured. Each node
// holds at most Options.MaxQueueMessages messages and Options.MaxQueueBytes
// bytes (counting those delivered but not yet settled); a transfer that would
// exceed the bound is refused with the rejected outcome and the condition
// amqp:resource-limit-exceeded, so memory stays bounded whatever the clients
// do. Outgoing deliveries are tracked until the receiver settles them:
// released puts the message back at the head of its queue, modified may raise
// its delivery-count, add annotations and keep it away from the same link,
// and the unsettled messages of a receiver that goes away are redelivered
// with their delivery-count raised.
//
// # Selectors
//
// A receiver may carry a JMS-style selector (the filter
// apache.org:selector-filter:string) over application properties and some
// header and properties fields; see the Selector documentation for the
// grammar. A selector that does not parse refuses the attach with
// amqp:invalid-field.
package broker

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
//     consuming; "move", or no distribution mode, consumes.
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
// bytes (counting those delivered but not yet settled), and all nodes
// together, with the messages sent in open transactions, at most
// Options.MaxTotalBytes bytes (1 GiB by default, counting 160 bytes of
// bookkeeping for each message besides its own); a transfer that would
// exceed a bound is refused with the rejected outcome and the condition
// amqp:resource-limit-exceeded, so memory stays bounded whatever the clients
// do. Outgoing deliveries are tracked until the receiver settles them:
// released puts the message back at the head of its queue, modified may raise
// its delivery-count, add annotations and keep it away from the same link,
// and the unsettled messages of a receiver that goes away are redelivered
// with their delivery-count raised.
//
// # Transactions
//
// The broker is a transaction coordinator (AMQP 1.0 chapter 4) for local
// transactions: a client attaches a link to the coordinator (capability
// amqp:local-transactions; distributed and promotable transactions are
// refused with amqp:not-implemented), declares a transaction, gets its id
// in the declared outcome, and discharges it to commit or roll back. A
// transaction belongs to the connection it was declared on: only that
// connection's links may work in it or discharge it; to any other its id
// is unknown (amqp:transaction:unknown-id).
//
//   - A message sent with a transactional state (to any node, or through
//     the anonymous relay) is settled with transactional-state(accepted)
//     and kept aside in the transaction: consumers do not see it and
//     QueueDepth does not count it. A commit enqueues the transaction's
//     messages, in the order they were sent; a rollback drops them. One
//     sent in a transaction the connection does not have is rejected with
//     amqp:transaction:unknown-id (dropped, if it was pre-settled).
//   - A consumer's outcome in a transaction keeps the message acquired by
//     the transaction, even if the consumer's link goes away: nobody else
//     gets it. A commit applies the outcome as outside a transaction
//     (accepted and rejected remove it, released and modified put it
//     back); a rollback puts it back with its delivery-count raised. An
//     outcome in a transaction the connection does not have counts as one
//     rolled back.
//   - A commit is atomic: it takes the locks of every queue and topic it
//     touches together, checks that each has room for its part (room freed
//     by the transaction's own accepts counts), and applies all of it, so
//     consumers see all of it or none. When it cannot, or when some work
//     of the transaction was refused, the transaction is rolled back and
//     the discharge rejected with amqp:transaction:rollback.
//   - A discharge first waits until the connection's other links have
//     taken in what the client sent before it, so a client may send or
//     settle and discharge at once without waiting for outcomes.
//   - When the coordinator link or the connection ends, the transactions
//     declared on it and not discharged are rolled back: nothing of them is
//     applied. A commit whose answer is lost with the connection was
//     either applied whole or not at all.
//
// Bounds: a connection has at most Options.MaxTransactions open (a further
// declare is rejected with amqp:resource-limit-exceeded), and a
// transaction holds at most MaxQueueMessages messages of MaxQueueBytes
// bytes in all; a message beyond that, or past Options.MaxTotalBytes
// (which counts the messages of open transactions too), is rejected with
// amqp:resource-limit-exceeded and its transaction can then only roll
// back. A commit needs room for its messages under MaxTotalBytes again,
// as under the bounds of their nodes (the room its own accepts free
// counts). A malformed coordinator message is rejected with
// amqp:decode-error, and the link goes on; a coordinator link must not
// pre-settle (the attach is refused with amqp:invalid-field), and a
// pre-settled declare or discharge on a mixed-mode link is ignored, since
// its outcome could not be told. Transactional acquisition through a
// link's flow (§4.4.3) is not supported.
//
// # Selectors
//
// A receiver may carry a JMS-style selector (the filter
// apache.org:selector-filter:string) over application properties and some
// header and properties fields; see the Selector documentation for the
// grammar. A selector that does not parse, or is longer than
// MaxSelectorLength bytes or nested deeper than MaxSelectorDepth, refuses
// the attach with amqp:invalid-field.
//
// A receiver on a topic may carry the JMS no-local filter (descriptor
// apache.org:no-local-filter:list, 0x0000468C:0x00000003, whatever its
// name and value): its subscription then gets no copy of the messages
// published on the receiver's own connection. On a queue no-local is
// ignored, and not echoed in the attach reply.
package broker

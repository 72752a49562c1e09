package broker

// payload is the message a node holds, opaque to the queueing core except
// for the fields a selector reads. The server glue wraps the decoded AMQP
// message; unit tests use a map.
type payload interface {
	// field returns the value of a selector identifier (an application
	// property or one of the header/properties names listed on Selector),
	// converted to int64, float64, string or bool; ok is false when the
	// message has no such field or its type is not one a selector compares.
	field(name string) (v any, ok bool)
}

// message is one published message, shared read-only by every copy of it
// (topic subscriptions, browsers).
type message struct {
	p    payload
	size int64
}

// item is one copy of a message held by one queue. Its fields other than m
// belong to the queue and are guarded by the queue's lock while the item is
// in the queue; while it is delivered they belong to the delivering
// consumer.
type item struct {
	m   *message
	seq uint64 // position in its queue; requeued items go back in seq order

	// deliveryCount is the number of earlier failed delivery attempts
	// (AMQP 1.0 §3.2.1 header delivery-count).
	deliveryCount uint32
	// annotations were merged in by modified outcomes (§3.4.5); nil when none.
	annotations map[string]any
	// excluded lists the links that answered modified with
	// undeliverable-here: the item must not go to them again.
	excluded []string
	// browsed marks a copy handed to a browser: settling it changes nothing.
	browsed bool
}

func (it *item) isExcluded(link string) bool {
	for _, k := range it.excluded {
		if k == link {
			return true
		}
	}
	return false
}

package broker

// payload is the message a node holds, opaque to the queueing core except
// for its size and the fields a selector reads. The server glue's
// wireMessage is the encoded AMQP message; unit tests use a map.
type payload interface {
	fieldSource
	// size is what the message counts against a node's byte bound.
	size() int64
}

// fieldSource is what a selector reads.
type fieldSource interface {
	// field returns the value of a selector identifier (an application
	// property or one of the header/properties names listed on Selector),
	// converted to int64, float64, string or bool; ok is false when the
	// message has no such field or its type is not one a selector compares.
	field(name string) (v any, ok bool)
}

// message is one published message, shared read-only by every copy of it
// (topic subscriptions, browsers).
type message struct {
	p payload
	// origin is the connection the message was published on (comparable:
	// a *server.Conn), which a no-local subscription skips; nil when
	// unknown.
	origin any
}

func (m *message) size() int64 { return m.p.size() }

// heldOverhead is what the broker's bookkeeping adds to a message it holds,
// per copy, rounded up: the item, its slot in the queue, the message and
// the allocation of its bytes. (TestHeldOverheadCoversBookkeeping checks
// it against the structs' sizes.)
const heldOverhead = 160

// charge is what one held copy of m counts against the broker's budget
// (Options.MaxTotalBytes): its bytes and the bookkeeping around them, so
// that a stream of empty messages cannot hold memory the budget never
// sees.
func (m *message) charge() int64 { return m.size() + heldOverhead }

// item is one copy of a message held by one queue. Its fields other than m
// belong to the queue and are guarded by the queue's lock while the item is
// in the queue; while it is delivered they belong to the delivering
// consumer. It is kept small (32 bytes): a queue may hold millions.
type item struct {
	m   *message
	seq uint64 // position in its queue; requeued items go back in seq order

	// deliveryCount is the number of earlier failed delivery attempts
	// (AMQP 1.0 §3.2.1 header delivery-count).
	deliveryCount uint32
	// browsed marks a copy handed to a browser: settling it changes nothing.
	browsed bool
	// x holds what modified outcomes added; nil until the first.
	x *itemExtra
}

// itemExtra is the rarely used part of an item.
type itemExtra struct {
	// annotations were merged in by modified outcomes (§3.4.5); nil when none.
	annotations map[string]any
	// excluded lists the links that answered modified with
	// undeliverable-here: the item must not go to them again.
	excluded []string
}

// annotations returns the annotations merged in by modified outcomes.
func (it *item) annotations() map[string]any {
	if it.x == nil {
		return nil
	}
	return it.x.annotations
}

func (it *item) extra() *itemExtra {
	if it.x == nil {
		it.x = &itemExtra{}
	}
	return it.x
}

func (it *item) isExcluded(link string) bool {
	if it.x == nil {
		return false
	}
	for _, k := range it.x.excluded {
		if k == link {
			return true
		}
	}
	return false
}

package broker

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// wireMessage is a message as it came off the wire. The broker stores and
// forwards the encoded bytes untouched; it decodes them only when a
// selector, an anonymous-relay route or a redelivery header needs a field.
// The message the queues hold is embedded, so that a stored message is one
// allocation of 64 bytes besides its bytes.
type wireMessage struct {
	message
	raw []byte
	dec atomic.Pointer[decodedMessage]
}

type decodedMessage struct {
	msg *codec.Message
	err error
}

// newWireMessage returns the message for an encoded payload, which it
// keeps (the caller must not modify it).
func newWireMessage(raw []byte) *wireMessage {
	w := &wireMessage{raw: raw}
	w.p = w
	return w
}

func (w *wireMessage) size() int64 { return int64(len(w.raw)) }

// decoded decodes the message once; concurrent first calls may both
// decode, and one result wins.
func (w *wireMessage) decoded() (*codec.Message, error) {
	d := w.dec.Load()
	if d == nil {
		msg, err := codec.UnmarshalMessage(w.raw)
		w.dec.CompareAndSwap(nil, &decodedMessage{msg, err})
		d = w.dec.Load()
	}
	return d.msg, d.err
}

// field implements payload for selectors: application properties first,
// then the JMS and AMQP names of header and properties fields.
func (w *wireMessage) field(name string) (any, bool) {
	m, err := w.decoded()
	if err != nil {
		return nil, false
	}
	if v, ok := m.ApplicationProperties.Get(name); ok {
		return normalizeValue(v)
	}
	h, p := m.Header, m.Properties
	if p == nil {
		p = &codec.Properties{}
	}
	switch name {
	case "JMSMessageID", "message-id":
		return idValue(p.MessageID)
	case "JMSCorrelationID", "correlation-id":
		return idValue(p.CorrelationID)
	case "JMSPriority", "priority":
		if h != nil && h.Priority != nil {
			return int64(*h.Priority), true
		}
		return int64(4), true // §3.2.1 default
	case "JMSDeliveryMode":
		if h != nil && h.Durable {
			return "PERSISTENT", true
		}
		return "NON_PERSISTENT", true
	case "durable":
		return h != nil && h.Durable, true
	case "JMSTimestamp", "creation-time":
		return timeValue(p.CreationTime)
	case "absolute-expiry-time", "JMSExpiration":
		return timeValue(p.AbsoluteExpiryTime)
	case "JMSType", "subject":
		return strValue(p.Subject)
	case "JMSReplyTo", "reply-to":
		return strValue(p.ReplyTo)
	case "JMSDestination", "to":
		return strValue(p.To)
	case "group-id", "JMSXGroupID":
		return strValue(p.GroupID)
	case "content-type":
		if p.ContentType != nil {
			return string(*p.ContentType), true
		}
	case "user-id", "JMSXUserID":
		if p.UserID != nil {
			return string(p.UserID), true
		}
	}
	return nil, false
}

func idValue(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case []byte:
		return string(x), true
	case codec.UUID:
		return formatUUID(x), true
	}
	return nil, false
}

func formatUUID(u codec.UUID) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexd[c>>4], hexd[c&15])
	}
	return string(b)
}

func timeValue(t *time.Time) (any, bool) {
	if t == nil {
		return nil, false
	}
	return t.UnixMilli(), true
}

func strValue(s *string) (any, bool) {
	if s == nil {
		return nil, false
	}
	return *s, true
}

// outgoing returns what to send for it: the original bytes when the
// message goes out as it came in, else a re-encoded copy whose header
// carries the delivery-count (and first-acquirer false, §3.2.1) and whose
// message-annotations carry those merged by modified outcomes.
func outgoing(it *item) ([]byte, error) {
	w := it.m.p.(*wireMessage)
	annotations := it.annotations()
	if it.deliveryCount == 0 && len(annotations) == 0 {
		return w.raw, nil
	}
	orig, err := w.decoded()
	if err != nil {
		return nil, err
	}
	m := *orig // shallow: the sections we change are replaced, not mutated
	h := codec.Header{}
	if orig.Header != nil {
		h = *orig.Header
	}
	h.DeliveryCount = it.deliveryCount
	h.FirstAcquirer = false
	m.Header = &h
	if len(annotations) > 0 {
		ann := make(codec.Map, len(orig.MessageAnnotations), len(orig.MessageAnnotations)+len(annotations))
		copy(ann, orig.MessageAnnotations)
		for k, v := range annotations {
			ann.Set(codec.Symbol(k), v)
		}
		m.MessageAnnotations = ann
	}
	return m.MarshalBinary()
}

// annotationsOf converts the message-annotations of a modified outcome to
// the core's form (symbol keys as strings).
func annotationsOf(m codec.Map) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for _, e := range m {
		switch k := e.Key.(type) {
		case codec.Symbol:
			out[string(k)] = e.Value
		case string:
			out[k] = e.Value
		}
	}
	return out
}

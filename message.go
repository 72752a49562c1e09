package amq

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// DataSections is a message body made of several AMQP data sections. A
// body of one data section is a plain []byte.
type DataSections [][]byte

// SequenceSections is a message body made of AMQP sequence sections, each
// a list of values.
type SequenceSections [][]any

// Message is an AMQP message, flat in the spirit of Proton's Message: the
// header, properties and body sections are plain fields. The zero value is
// an empty message; NewMessage sets the body.
//
// Body encoding: a []byte body travels as one data section (what JMS
// BytesMessage, Azure and most brokers expect) unless BinaryAsValue is set;
// DataSections and SequenceSections travel as several data or sequence
// sections; any other value (string, numbers, maps, lists, nil) travels as
// an amqp-value section, which is how Proton sends a string body. A
// received message is decoded the same way in reverse.
type Message struct {
	// Body is the application data; see the type's documentation.
	Body any
	// BinaryAsValue sends a []byte Body as an amqp-value (binary) instead of
	// a data section; set on received messages whose body came that way.
	BinaryAsValue bool

	// Header (AMQP 1.0 section 3.2.1).

	// Durable asks intermediaries to store the message durably.
	Durable bool
	// Priority is the relative priority, 0 the lowest; a received message
	// whose header gives none reads as DefaultPriority (4), as AMQP says.
	// To send, a nonzero Priority goes in the header and 0 sends none
	// (the peer then reads 4): to send priority 0 itself, use SetPriority.
	Priority uint8
	// priorityZero: Priority 0 is meant, not unset (SetPriority(0), or
	// received as 0).
	priorityZero bool
	// TTL is the time to live; 0 means none.
	TTL time.Duration
	// FirstAcquirer is true if no receiver acquired the message before.
	FirstAcquirer bool
	// DeliveryCount is the number of earlier unsuccessful delivery attempts.
	DeliveryCount uint32

	// Properties section (section 3.2.4).

	// ID is the message-id: string, uint64, UUID or []byte.
	ID any
	// UserID is the identity of the user that produced the message.
	UserID []byte
	// To is the address the message is for; Client.Send routes by it.
	To string
	// Subject is a summary for the application.
	Subject string
	// ReplyTo is the address to send replies to.
	ReplyTo string
	// CorrelationID relates a reply to its request: string, uint64, UUID or []byte.
	CorrelationID any
	// ContentType is the MIME type of a data-section body.
	ContentType string
	// ContentEncoding is the content encoding of a data-section body.
	ContentEncoding string
	// AbsoluteExpiryTime is when the message expires.
	AbsoluteExpiryTime time.Time
	// CreationTime is when the message was created.
	CreationTime time.Time
	// GroupID is the group the message belongs to.
	GroupID string
	// GroupSequence is the message's position in its group.
	GroupSequence uint32
	// ReplyToGroupID is the group replies belong to.
	ReplyToGroupID string

	// Annotations are the message annotations (section 3.2.3), keyed by
	// symbol, for the infrastructure (e.g. "x-opt-jms-msg-type").
	Annotations map[string]any
	// DeliveryAnnotations are the delivery annotations (section 3.2.2).
	DeliveryAnnotations map[string]any
	// Properties are the application properties (section 3.2.5): string
	// keys, simple values. Selectors filter on them.
	Properties map[string]any
	// Footer is the footer section (section 3.2.6).
	Footer map[string]any
}

// NewMessage returns a message with the given body. A string body is sent
// as an amqp-value (as Proton sends it), a []byte body as a data section.
func NewMessage(body any) *Message { return &Message{Body: body} }

// DefaultPriority is the priority of a message whose header gives none
// (AMQP 1.0 section 3.2.1).
const DefaultPriority = 4

// SetPriority sets the priority, 0 included, and returns the message. It
// is how to send priority 0: a Priority field left at 0 sends none.
func (m *Message) SetPriority(p uint8) *Message {
	m.Priority, m.priorityZero = p, p == 0
	return m
}

// SetTo sets the destination address and returns the message, so that
// amq.NewMessage("hi").SetTo("queue1") reads as one expression.
func (m *Message) SetTo(address string) *Message { m.To = address; return m }

// encode converts m to the codec's message and encodes it: the payload of
// a transfer. The error names a value that cannot be sent (a Described
// without descriptor, an Array of mixed types, a Go type the type map does
// not know).
func (m *Message) encode() ([]byte, error) {
	cm, err := m.toCodec()
	if err != nil {
		return nil, err
	}
	b, err := cm.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("amq: encoding the message: %w", err)
	}
	return b, nil
}

// toCodec converts m to the codec's message.
func (m *Message) toCodec() (*codec.Message, error) {
	w, err := m.toWire()
	if err != nil {
		return nil, err
	}
	if w.hasData {
		w.Message.Data = [][]byte{w.data}
	}
	return &w.Message, nil
}

// wireMessage is a message converted for sending: the codec's message and,
// apart from it, a binary body. Written by codec.AppendMessageData, such a
// body needs no slice of data sections, which a sender would allocate for
// every message.
type wireMessage struct {
	codec.Message
	data    []byte
	hasData bool
}

// appendTo appends the encoded message to dst.
func (w *wireMessage) appendTo(dst []byte) ([]byte, error) {
	if w.hasData {
		return codec.AppendMessageData(dst, &w.Message, w.data)
	}
	return codec.AppendMessage(dst, &w.Message)
}

// toWire converts m. (It returns the message rather than fill one in
// through a pointer, which would make the compiler put it on the heap.)
func (m *Message) toWire() (w wireMessage, err error) {
	cm := &w.Message
	if cm.MessageAnnotations, err = annotationsToCodec("message annotation", m.Annotations); err != nil {
		return w, err
	}
	if cm.DeliveryAnnotations, err = annotationsToCodec("message delivery annotation", m.DeliveryAnnotations); err != nil {
		return w, err
	}
	if cm.Footer, err = annotationsToCodec("message footer", m.Footer); err != nil {
		return w, err
	}
	if len(m.Properties) > 0 {
		cm.ApplicationProperties = make(codec.Map, 0, len(m.Properties))
		for k, v := range m.Properties {
			c, err := toCodec(v, 1)
			if err != nil {
				return w, fmt.Errorf("amq: message property %q: %w", k, err)
			}
			cm.ApplicationProperties = append(cm.ApplicationProperties, codec.MapEntry{Key: k, Value: c})
		}
		slices.SortFunc(cm.ApplicationProperties, func(a, b codec.MapEntry) int {
			return strings.Compare(a.Key.(string), b.Key.(string)) // in key order, as annotations
		})
	}
	switch b := m.Body.(type) {
	case []byte:
		if m.BinaryAsValue {
			cm.Value, cm.HasValue = b, true
		} else {
			w.data, w.hasData = b, true
		}
	case DataSections:
		cm.Data = b
	case SequenceSections:
		cm.Sequence = make([]codec.List, len(b))
		for i, sec := range b {
			c, err := toCodec([]any(sec), 0)
			if err != nil {
				return w, fmt.Errorf("amq: message body, sequence section %d: %w", i, err)
			}
			cm.Sequence[i], _ = c.(codec.List)
		}
	default:
		c, err := toCodec(b, 0)
		if err != nil {
			return w, fmt.Errorf("amq: message body: %w", err)
		}
		cm.Value, cm.HasValue = c, true
	}
	if m.Durable || m.Priority != 0 || m.priorityZero || m.TTL != 0 || m.FirstAcquirer || m.DeliveryCount != 0 {
		w := &wireHeader{prio: m.Priority}
		if w.prio == 0 && !m.priorityZero {
			w.prio = DefaultPriority
		}
		w.h = codec.Header{Durable: m.Durable, Priority: &w.prio, FirstAcquirer: m.FirstAcquirer, DeliveryCount: m.DeliveryCount}
		if m.TTL != 0 {
			w.ttl = uint32(m.TTL / time.Millisecond)
			w.h.TTL = &w.ttl
		}
		cm.Header = &w.h
	}
	if m.hasProperties() {
		for _, id := range []any{m.ID, m.CorrelationID} {
			switch id.(type) {
			case nil, string, uint64, UUID, []byte:
			default:
				return w, fmt.Errorf("amq: a message-id or correlation-id is a string, uint64, amq.UUID or []byte, not %T", id)
			}
		}
		cm.Properties = m.wireProperties()
	}
	return w, nil
}

// wireHeader and wireProps hold a converted section together with what its
// pointer fields point at: one allocation per section, not one per field,
// on the path every send takes.
type wireHeader struct {
	h    codec.Header
	prio uint8
	ttl  uint32
}

type wireProps struct {
	p               codec.Properties
	strs            [5]string
	syms            [2]Symbol
	expiry, created time.Time
	groupSeq        uint32
}

func (m *Message) wireProperties() *codec.Properties {
	w := &wireProps{}
	p := &w.p
	p.MessageID, p.UserID, p.CorrelationID = m.ID, m.UserID, m.CorrelationID
	p.To = strIn(&w.strs[0], m.To)
	p.Subject = strIn(&w.strs[1], m.Subject)
	p.ReplyTo = strIn(&w.strs[2], m.ReplyTo)
	p.GroupID = strIn(&w.strs[3], m.GroupID)
	p.ReplyToGroupID = strIn(&w.strs[4], m.ReplyToGroupID)
	p.ContentType = strIn(&w.syms[0], Symbol(m.ContentType))
	p.ContentEncoding = strIn(&w.syms[1], Symbol(m.ContentEncoding))
	if !m.AbsoluteExpiryTime.IsZero() {
		w.expiry = m.AbsoluteExpiryTime
		p.AbsoluteExpiryTime = &w.expiry
	}
	if !m.CreationTime.IsZero() {
		w.created = m.CreationTime
		p.CreationTime = &w.created
	}
	if m.GroupSequence != 0 {
		w.groupSeq = m.GroupSequence
		p.GroupSequence = &w.groupSeq
	}
	return p
}

// strIn stores s in slot and points at it; nil for "" (the field absent).
func strIn[S ~string](slot *S, s S) *S {
	if s == "" {
		return nil
	}
	*slot = s
	return slot
}

func (m *Message) hasProperties() bool {
	return m.ID != nil || m.UserID != nil || m.To != "" || m.Subject != "" || m.ReplyTo != "" ||
		m.CorrelationID != nil || m.ContentType != "" || m.ContentEncoding != "" ||
		!m.AbsoluteExpiryTime.IsZero() || !m.CreationTime.IsZero() || m.GroupID != "" ||
		m.GroupSequence != 0 || m.ReplyToGroupID != ""
}

// decodeMessage decodes a received payload.
func decodeMessage(payload []byte) (*Message, error) {
	m := new(Message)
	if err := m.decode(payload); err != nil {
		return nil, err
	}
	return m, nil
}

// decode sets m from a received payload; the receiver allocates m
// together with its Delivery.
func (m *Message) decode(payload []byte) error {
	cm, err := codec.UnmarshalMessage(payload)
	if err != nil {
		return err
	}
	m.fromCodec(cm)
	return nil
}

// fromCodec sets m from a decoded message.
func (m *Message) fromCodec(cm *codec.Message) {
	*m = Message{
		Annotations:         annotationsFromCodec(cm.MessageAnnotations),
		DeliveryAnnotations: annotationsFromCodec(cm.DeliveryAnnotations),
		Footer:              annotationsFromCodec(cm.Footer),
	}
	if len(cm.ApplicationProperties) > 0 {
		m.Properties = make(map[string]any, len(cm.ApplicationProperties))
		for _, e := range cm.ApplicationProperties {
			k, ok := e.Key.(string)
			if !ok {
				k = fmt.Sprint(e.Key)
			}
			m.Properties[k] = fromCodec(e.Value, 1)
		}
	}
	switch {
	case len(cm.Data) == 1:
		m.Body = cm.Data[0]
	case len(cm.Data) > 1:
		m.Body = DataSections(cm.Data)
	case len(cm.Sequence) > 0:
		seq := make(SequenceSections, len(cm.Sequence))
		for i, sec := range cm.Sequence {
			seq[i], _ = fromCodec(sec, 0).([]any)
		}
		m.Body = seq
	default:
		m.Body = fromCodec(cm.Value, 0)
		if _, ok := cm.Value.([]byte); ok {
			m.BinaryAsValue = true
		}
	}
	m.Priority = DefaultPriority
	if h := cm.Header; h != nil {
		m.Durable = h.Durable
		if h.Priority != nil {
			m.Priority = *h.Priority
			m.priorityZero = m.Priority == 0
		}
		if h.TTL != nil {
			m.TTL = time.Duration(*h.TTL) * time.Millisecond
		}
		m.FirstAcquirer = h.FirstAcquirer
		m.DeliveryCount = h.DeliveryCount
	}
	if p := cm.Properties; p != nil {
		m.ID = p.MessageID
		m.UserID = p.UserID
		m.CorrelationID = p.CorrelationID
		m.To = deref(p.To)
		m.Subject = deref(p.Subject)
		m.ReplyTo = deref(p.ReplyTo)
		m.GroupID = deref(p.GroupID)
		m.ReplyToGroupID = deref(p.ReplyToGroupID)
		if p.ContentType != nil {
			m.ContentType = string(*p.ContentType)
		}
		if p.ContentEncoding != nil {
			m.ContentEncoding = string(*p.ContentEncoding)
		}
		if p.AbsoluteExpiryTime != nil {
			m.AbsoluteExpiryTime = *p.AbsoluteExpiryTime
		}
		if p.CreationTime != nil {
			m.CreationTime = *p.CreationTime
		}
		if p.GroupSequence != nil {
			m.GroupSequence = *p.GroupSequence
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// annotationsToCodec converts a string-keyed map to one with symbol keys:
// annotations (whose keys are symbols, spec 3.2.10), and the properties
// and node properties of connections and links. what names the map in an
// error about one of its values.
func annotationsToCodec(what string, m map[string]any) (codec.Map, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(codec.Map, 0, len(m))
	for k, v := range m {
		c, err := toCodec(v, 1)
		if err != nil {
			return nil, fmt.Errorf("amq: %s %q: %w", what, k, err)
		}
		out = append(out, codec.MapEntry{Key: Symbol(k), Value: c})
	}
	// In key order, not Go's random map order: one map always encodes to
	// the same bytes, and a peer that prints it prints the same.
	slices.SortFunc(out, func(a, b codec.MapEntry) int { return strings.Compare(string(a.Key.(Symbol)), string(b.Key.(Symbol))) })
	return out, nil
}

// annotationsFromCodec converts received annotations. Keys of type ulong
// are reserved by the spec for future standard annotations and are kept as
// their decimal string form prefixed with "ulong:".
func annotationsFromCodec(a codec.Map) map[string]any {
	if len(a) == 0 {
		return nil
	}
	m := make(map[string]any, len(a))
	for _, e := range a {
		v := fromCodec(e.Value, 1)
		switch k := e.Key.(type) {
		case Symbol:
			m[string(k)] = v
		case string:
			m[k] = v
		case uint64:
			m["ulong:"+strconv.FormatUint(k, 10)] = v
		}
	}
	return m
}

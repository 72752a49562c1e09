package amq

import (
	"fmt"
	"strconv"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/typefix"
)

// Symbol is the AMQP symbol type: an ASCII string from a constrained
// domain, used for annotation keys, capabilities and conditions.
type Symbol = amqp.Symbol

// UUID is the AMQP uuid type.
type UUID = amqp.UUID

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
	// Priority is the relative priority; 0 means the AMQP default of 4.
	Priority uint8
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

// SetTo sets the destination address and returns the message, so that
// amq.NewMessage("hi").SetTo("queue1") reads as one expression.
func (m *Message) SetTo(address string) *Message { m.To = address; return m }

// toAMQP converts m to go-amqp's representation. The error names a value
// that cannot be sent (a Described without descriptor, an Array of mixed
// types).
func (m *Message) toAMQP() (*amqp.Message, error) {
	w := &wireMessage{}
	am := &w.am
	var err error
	if am.Annotations, err = mapToAnnotations("annotation", m.Annotations); err != nil {
		return nil, err
	}
	if am.DeliveryAnnotations, err = mapToAnnotations("delivery annotation", m.DeliveryAnnotations); err != nil {
		return nil, err
	}
	if am.Footer, err = mapToAnnotations("footer", m.Footer); err != nil {
		return nil, err
	}
	if len(m.Properties) > 0 {
		if am.ApplicationProperties, _, err = typefix.ToWireMap(m.Properties); err != nil {
			return nil, fmt.Errorf("amq: message property: %w", err)
		}
	}
	body, err := toWire(m.Body)
	if err != nil {
		return nil, fmt.Errorf("amq: message body: %w", err)
	}
	switch b := body.(type) {
	case []byte:
		if m.BinaryAsValue {
			am.Value = body // already boxed: no copy of the slice header
		} else {
			w.data[0] = b
			am.Data = w.data[:]
		}
	case DataSections:
		am.Data = b
	case SequenceSections:
		seq := make([][]any, len(b))
		for i, sec := range b {
			w, err := toWire([]any(sec))
			if err != nil {
				return nil, fmt.Errorf("amq: message body, sequence section %d: %w", i, err)
			}
			seq[i], _ = w.([]any)
		}
		am.Sequence = seq
	case nil:
		am.Value = amqp.Null{}
	default:
		am.Value = b
	}
	if m.Durable || m.Priority != 0 || m.TTL != 0 || m.FirstAcquirer || m.DeliveryCount != 0 {
		h := &w.header
		*h = amqp.MessageHeader{
			Durable:       m.Durable,
			Priority:      m.Priority,
			TTL:           m.TTL,
			FirstAcquirer: m.FirstAcquirer,
			DeliveryCount: m.DeliveryCount,
		}
		if h.Priority == 0 {
			h.Priority = 4
		}
		am.Header = h
	}
	if m.hasProperties() {
		wp := &wireProperties{}
		p := &wp.p
		*p = amqp.MessageProperties{
			MessageID:     m.ID,
			UserID:        m.UserID,
			CorrelationID: m.CorrelationID,
		}
		p.To = strIn(&wp.strs[0], m.To)
		p.Subject = strIn(&wp.strs[1], m.Subject)
		p.ReplyTo = strIn(&wp.strs[2], m.ReplyTo)
		p.GroupID = strIn(&wp.strs[3], m.GroupID)
		p.ReplyToGroupID = strIn(&wp.strs[4], m.ReplyToGroupID)
		p.ContentType = strIn(&wp.strs[5], m.ContentType)
		p.ContentEncoding = strIn(&wp.strs[6], m.ContentEncoding)
		if !m.AbsoluteExpiryTime.IsZero() {
			wp.expiry = m.AbsoluteExpiryTime
			p.AbsoluteExpiryTime = &wp.expiry
		}
		if !m.CreationTime.IsZero() {
			wp.created = m.CreationTime
			p.CreationTime = &wp.created
		}
		if m.GroupSequence != 0 {
			wp.groupSeq = m.GroupSequence
			p.GroupSequence = &wp.groupSeq
		}
		am.Properties = p
	}
	return am, nil
}

// wireMessage is a converted message with room for what its pointers
// point at, and wireProperties its properties section with theirs: a
// message converts with one allocation, or two with properties, instead
// of one per part.
type wireMessage struct {
	am     amqp.Message
	data   [1][]byte
	header amqp.MessageHeader
}

type wireProperties struct {
	p               amqp.MessageProperties
	strs            [7]string
	expiry, created time.Time
	groupSeq        uint32
}

// strIn stores s in slot and points at it; nil for "" (field absent).
func strIn(slot *string, s string) *string {
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

// messageFromAMQP converts a received go-amqp message.
func messageFromAMQP(am *amqp.Message) *Message {
	m := new(Message)
	m.fromAMQP(am)
	return m
}

// fromAMQP sets m from a received go-amqp message; the receiver allocates
// m together with its Delivery.
func (m *Message) fromAMQP(am *amqp.Message) {
	*m = Message{
		Annotations:         fromWireMap(annotationsToMap(am.Annotations)),
		DeliveryAnnotations: fromWireMap(annotationsToMap(am.DeliveryAnnotations)),
		Footer:              fromWireMap(annotationsToMap(am.Footer)),
		Properties:          fromWireMap(am.ApplicationProperties),
	}
	switch {
	case len(am.Data) == 1:
		m.Body = am.Data[0]
	case len(am.Data) > 1:
		m.Body = DataSections(am.Data)
	case len(am.Sequence) > 0:
		seq := make(SequenceSections, len(am.Sequence))
		for i, sec := range am.Sequence {
			seq[i], _ = fromWire(sec).([]any)
		}
		m.Body = seq
	default:
		m.Body = fromWire(am.Value)
		if _, ok := am.Value.([]byte); ok {
			m.BinaryAsValue = true
		}
	}
	if h := am.Header; h != nil {
		m.Durable = h.Durable
		m.Priority = h.Priority
		m.TTL = h.TTL
		m.FirstAcquirer = h.FirstAcquirer
		m.DeliveryCount = h.DeliveryCount
	}
	if p := am.Properties; p != nil {
		m.ID = p.MessageID
		m.UserID = p.UserID
		m.CorrelationID = p.CorrelationID
		m.To = deref(p.To)
		m.Subject = deref(p.Subject)
		m.ReplyTo = deref(p.ReplyTo)
		m.GroupID = deref(p.GroupID)
		m.ReplyToGroupID = deref(p.ReplyToGroupID)
		m.ContentType = deref(p.ContentType)
		m.ContentEncoding = deref(p.ContentEncoding)
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

// mapToAnnotations converts string-keyed annotations to go-amqp's map with
// symbol keys (annotation keys are symbols, spec 3.2.10).
func mapToAnnotations(what string, m map[string]any) (amqp.Annotations, error) {
	if len(m) == 0 {
		return nil, nil
	}
	a := make(amqp.Annotations, len(m))
	for k, v := range m {
		w, err := toWire(v)
		if err != nil {
			return nil, fmt.Errorf("amq: message %s %q: %w", what, k, err)
		}
		a[Symbol(k)] = w
	}
	return a, nil
}

// annotationsToMap converts received annotations. Keys of type ulong are
// reserved by the spec for future standard annotations and are kept as
// their decimal string form prefixed with "ulong:".
func annotationsToMap(a amqp.Annotations) map[string]any {
	if len(a) == 0 {
		return nil
	}
	m := make(map[string]any, len(a))
	for k, v := range a {
		switch k := k.(type) {
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

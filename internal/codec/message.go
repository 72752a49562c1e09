package codec

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Message section descriptors (§3.2).
const (
	DescHeader                uint64 = 0x70
	DescDeliveryAnnotations   uint64 = 0x71
	DescMessageAnnotations    uint64 = 0x72
	DescProperties            uint64 = 0x73
	DescApplicationProperties uint64 = 0x74
	DescData                  uint64 = 0x75
	DescAMQPSequence          uint64 = 0x76
	DescAMQPValue             uint64 = 0x77
	DescFooter                uint64 = 0x78
)

// Message is an AMQP message in the standard format (§3.2). For every
// section, nil is absent; a non-nil empty Map is an empty section.
// The body is Data, Sequence or Value (HasValue); a message should have
// one kind of body only.
type Message struct {
	Header                *Header
	DeliveryAnnotations   Map
	MessageAnnotations    Map
	Properties            *Properties
	ApplicationProperties Map // keys are strings
	// Data holds the data sections, in order.
	Data [][]byte
	// Sequence holds the amqp-sequence sections, in order.
	Sequence []List
	// Value is the body of the amqp-value section when HasValue is true;
	// it may then be nil (a null value).
	Value    any
	HasValue bool
	Footer   Map
}

// Header is the header section (§3.2.1). Durable, FirstAcquirer and
// DeliveryCount: the zero value is absent (the spec default). Priority and
// TTL: nil is absent (priority then defaults to 4, and there is no TTL).
type Header struct {
	Durable       bool
	Priority      *uint8
	TTL           *uint32 // milliseconds
	FirstAcquirer bool
	DeliveryCount uint32
}

func (h *Header) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescHeader)
	w.boolean(h.Durable, h.Durable)
	w.ubytep(h.Priority)
	w.uintp(h.TTL)
	w.boolean(h.FirstAcquirer, h.FirstAcquirer)
	w.uint(h.DeliveryCount, h.DeliveryCount != 0)
	return w.done()
}

// Properties is the properties section (§3.2.4). Every field is optional
// and nil is absent.
type Properties struct {
	// MessageID and CorrelationID are uint64, UUID, []byte or string.
	MessageID          any
	UserID             []byte
	To                 *string
	Subject            *string
	ReplyTo            *string
	CorrelationID      any
	ContentType        *Symbol
	ContentEncoding    *Symbol
	AbsoluteExpiryTime *time.Time
	CreationTime       *time.Time
	GroupID            *string
	GroupSequence      *uint32
	ReplyToGroupID     *string
}

func (p *Properties) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescProperties)
	w.value(p.MessageID)
	w.bin(p.UserID)
	w.strp(p.To)
	w.strp(p.Subject)
	w.strp(p.ReplyTo)
	w.value(p.CorrelationID)
	w.symp(p.ContentType)
	w.symp(p.ContentEncoding)
	w.timep(p.AbsoluteExpiryTime)
	w.timep(p.CreationTime)
	w.strp(p.GroupID)
	w.uintp(p.GroupSequence)
	w.strp(p.ReplyToGroupID)
	return w.done()
}

// MarshalBinary encodes the message: its sections, in the spec's order.
func (m *Message) MarshalBinary() ([]byte, error) {
	return AppendMessage(nil, m)
}

// AppendMessage appends the encoding of m to dst.
func AppendMessage(dst []byte, m *Message) ([]byte, error) {
	return appendMessage(dst, m, nil, false)
}

// AppendMessageData is AppendMessage of m with data as one more data
// section after m's own, the usual message of one binary body: passed
// apart, the body need not go into m.Data, a slice a sender would have to
// allocate on every message.
func AppendMessageData(dst []byte, m *Message, data []byte) ([]byte, error) {
	return appendMessage(dst, m, data, true)
}

func appendMessage(dst []byte, m *Message, extra []byte, hasExtra bool) ([]byte, error) {
	b := dst
	var err error
	if m.Header != nil {
		if b, err = m.Header.appendAMQP(b); err != nil {
			return dst, err
		}
	}
	section := func(code uint64, v any) {
		if err == nil {
			b, err = appendDescribed(b, code, v, 0)
		}
	}
	if m.DeliveryAnnotations != nil {
		section(DescDeliveryAnnotations, m.DeliveryAnnotations)
	}
	if m.MessageAnnotations != nil {
		section(DescMessageAnnotations, m.MessageAnnotations)
	}
	if err != nil {
		return dst, err
	}
	if m.Properties != nil {
		if b, err = m.Properties.appendAMQP(b); err != nil {
			return dst, err
		}
	}
	if m.ApplicationProperties != nil {
		section(DescApplicationProperties, m.ApplicationProperties)
	}
	for _, d := range m.Data {
		b = appendDataSection(b, d)
	}
	if hasExtra {
		b = appendDataSection(b, extra)
	}
	for _, s := range m.Sequence {
		if s == nil {
			s = List{}
		}
		section(DescAMQPSequence, s)
	}
	if m.HasValue {
		section(DescAMQPValue, m.Value)
	}
	if m.Footer != nil {
		section(DescFooter, m.Footer)
	}
	if err != nil {
		return dst, err
	}
	return b, nil
}

// appendDataSection writes a data section directly: through the generic
// encoder, the body would be boxed into an interface, an allocation on
// every message sent.
func appendDataSection(b, data []byte) []byte {
	return appendVar(appendUlong(append(b, 0), DescData), TypeVbin8, TypeVbin32, data)
}

// UnmarshalMessage decodes a message: the concatenated sections of one or
// more transfer payloads. Sections may be absent but must be in the spec's
// order; errors are *DecodeError.
func UnmarshalMessage(data []byte) (*Message, error) {
	m := &Message{}
	if err := m.unmarshal(data, false); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalMessageAliasing is UnmarshalMessage into m, with the data
// sections of m aliasing data instead of copying it: for a receiver that
// owns data and never changes it (the payload of a delivery), it saves a
// copy of every body. m is overwritten, except that the capacity of m.Data
// is reused: a caller that sets it to room of its own saves another
// allocation on a message of one data section.
func UnmarshalMessageAliasing(m *Message, data []byte) error {
	*m = Message{Data: m.Data[:0]}
	err := m.unmarshal(data, true)
	if len(m.Data) == 0 {
		m.Data = nil
	}
	return err
}

func (m *Message) unmarshal(data []byte, alias bool) error {
	d := newDecoder(data)
	last := uint64(0)
	for d.remaining() > 0 {
		at := d.off
		c, _ := d.byte1()
		if TypeCode(c) != TypeDescribed {
			d.off = at
			return d.errorf("message section must be described, got 0x%02x", c)
		}
		code, bin, isData := d.dataSection(alias)
		var s Described
		if !isData {
			var err error
			if s, err = d.described(); err != nil {
				return err
			}
			var ok bool
			code, ok = descriptorCode(s.Descriptor)
			if !ok || code < DescHeader || code > DescFooter {
				d.off = at
				return d.errorf("unknown message section %v", s.Descriptor)
			}
		}
		// Body sections may repeat; the others appear at most once, in order.
		repeatable := code == DescData || code == DescAMQPSequence
		if code < last || (code == last && !repeatable) {
			d.off = at
			return d.errorf("message section 0x%02x out of order", code)
		}
		last = code
		if isData {
			m.Data = append(m.Data, bin)
			continue
		}
		if err := m.setSection(code, s); err != nil {
			if de, ok := err.(*DecodeError); ok && de.Offset < 0 {
				de.Offset = at
			}
			return err
		}
	}
	return nil
}

// dataSection reads, just after the described-type constructor, a data
// section in its usual encoding (descriptor smallulong 0x75, then vbin8 or
// vbin32) without boxing it as a generic value, copied unless alias. ok
// false leaves the decoder where it was, for the generic path.
func (d *decoder) dataSection(alias bool) (code uint64, bin []byte, ok bool) {
	start := d.off
	rest := d.b[d.off:]
	if len(rest) < 3 || TypeCode(rest[0]) != TypeSmallUlong || rest[1] != byte(DescData) {
		return 0, nil, false
	}
	var n, hdr int
	switch TypeCode(rest[2]) {
	case TypeVbin8:
		if len(rest) < 4 {
			return 0, nil, false
		}
		n, hdr = int(rest[3]), 4
	case TypeVbin32:
		if len(rest) < 7 {
			return 0, nil, false
		}
		n, hdr = int(binary.BigEndian.Uint32(rest[3:7])), 7
	default:
		return 0, nil, false
	}
	if n > len(rest)-hdr {
		return 0, nil, false // the generic path reports it
	}
	p := rest[hdr : hdr+n : hdr+n]
	if !alias {
		p = append(make([]byte, 0, n), p...)
	}
	d.off = start + hdr + n
	return DescData, p, true
}

func (m *Message) setSection(code uint64, s Described) error {
	wrong := func(want string) error {
		return &DecodeError{Offset: -1, Reason: fmt.Sprintf("message section 0x%02x: want %s, got %T", code, want, s.Value)}
	}
	asMap := func() (Map, error) {
		if s.Value == nil {
			return Map{}, nil
		}
		mv, ok := s.Value.(Map)
		if !ok {
			return nil, wrong("map")
		}
		return mv, nil
	}
	var err error
	switch code {
	case DescHeader:
		r := readFields("header", s)
		m.Header = &Header{Durable: r.boolean(0), Priority: r.ubytep(1), TTL: r.uintp(2), FirstAcquirer: r.boolean(3), DeliveryCount: r.uint(4)}
		return r.err
	case DescDeliveryAnnotations:
		m.DeliveryAnnotations, err = asMap()
	case DescMessageAnnotations:
		m.MessageAnnotations, err = asMap()
	case DescProperties:
		r := readFields("properties", s)
		m.Properties = &Properties{
			MessageID:          r.value(0),
			UserID:             r.bin(1),
			To:                 r.addressp(2),
			Subject:            r.strp(3),
			ReplyTo:            r.addressp(4),
			CorrelationID:      r.value(5),
			ContentType:        r.symp(6),
			ContentEncoding:    r.symp(7),
			AbsoluteExpiryTime: r.timep(8),
			CreationTime:       r.timep(9),
			GroupID:            r.strp(10),
			GroupSequence:      r.uintp(11),
			ReplyToGroupID:     r.strp(12),
		}
		return r.err
	case DescApplicationProperties:
		m.ApplicationProperties, err = asMap()
	case DescData:
		bin, ok := s.Value.([]byte)
		if !ok {
			return wrong("binary")
		}
		m.Data = append(m.Data, bin)
	case DescAMQPSequence:
		l, ok := s.Value.(List)
		if !ok {
			return wrong("list")
		}
		m.Sequence = append(m.Sequence, l)
	case DescAMQPValue:
		m.Value, m.HasValue = s.Value, true
	case DescFooter:
		m.Footer, err = asMap()
	}
	return err
}

func (r *fieldReader) addressp(i int) *string {
	if r.get(i) == nil {
		return nil
	}
	s := r.address(i)
	return &s
}

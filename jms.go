package amq

// JMSMessageType is the JMS message type of a message, as carried in the
// x-opt-jms-msg-type message annotation that Qpid JMS and AMQ JMS write
// and read (reference 14.2).
type JMSMessageType int8

// The JMS message types and their annotation values.
const (
	JMSMessage       JMSMessageType = 0
	JMSObjectMessage JMSMessageType = 1
	JMSMapMessage    JMSMessageType = 2
	JMSBytesMessage  JMSMessageType = 3
	JMSStreamMessage JMSMessageType = 4
	JMSTextMessage   JMSMessageType = 5
)

// jmsTypeAnnotation is the annotation key of the JMS message type.
const jmsTypeAnnotation = "x-opt-jms-msg-type"

func (t JMSMessageType) String() string {
	switch t {
	case JMSMessage:
		return "Message"
	case JMSObjectMessage:
		return "ObjectMessage"
	case JMSMapMessage:
		return "MapMessage"
	case JMSBytesMessage:
		return "BytesMessage"
	case JMSStreamMessage:
		return "StreamMessage"
	case JMSTextMessage:
		return "TextMessage"
	}
	return "JMSMessageType(?)"
}

// JMSType returns the message's JMS type: the x-opt-jms-msg-type
// annotation when present, otherwise what a JMS client infers from the
// body (reference 14.2): a string is a TextMessage, []byte (a data
// section) a BytesMessage, a map a MapMessage, a list or sequence sections
// a StreamMessage, no body a Message.
func (m *Message) JMSType() JMSMessageType {
	switch v := m.Annotations[jmsTypeAnnotation].(type) {
	case int8:
		return JMSMessageType(v)
	case uint8:
		return JMSMessageType(v)
	case int32:
		return JMSMessageType(v)
	case int64:
		return JMSMessageType(v)
	}
	switch m.Body.(type) {
	case string:
		return JMSTextMessage
	case []byte, DataSections:
		return JMSBytesMessage
	case map[string]any, map[any]any:
		return JMSMapMessage
	case []any, SequenceSections:
		return JMSStreamMessage
	case nil:
		return JMSMessage
	}
	return JMSObjectMessage
}

// SetJMSType writes the x-opt-jms-msg-type annotation (a byte, as JMS
// clients write it), so that a JMS consumer sees the message as the given
// type. It returns m.
func (m *Message) SetJMSType(t JMSMessageType) *Message {
	if m.Annotations == nil {
		m.Annotations = make(map[string]any, 1)
	}
	m.Annotations[jmsTypeAnnotation] = int8(t)
	return m
}

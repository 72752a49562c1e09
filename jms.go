package amq

import "strings"

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
// annotation when present, otherwise the type Qpid JMS gives a message
// that arrives without the annotation (reference 14.2). Qpid JMS decides
// by the body section and, for data sections or no body, the
// content-type (AmqpCodec.createWithoutAnnotation in qpid-jms-client):
//
//   - an amqp-value holding a string or null is a TextMessage, one holding
//     binary a BytesMessage, one holding anything else (a map, a list, a
//     number, ...) an ObjectMessage, whatever the content-type;
//   - amqp-sequence sections are an ObjectMessage;
//   - data sections are an ObjectMessage when the content-type is exactly
//     application/x-java-serialized-object, a TextMessage when it is
//     textual (see jmsTextual), else a BytesMessage;
//   - no body section follows the data rules, except that a content-type
//     that is present but neither of those two nor textual makes a plain
//     Message.
//
// In amq terms: a string or nil Body is a TextMessage (amq sends nil as an
// amqp-value null; a received message with no body section also has a nil
// Body, which JMS would read by the no-body rule, but the two cannot be
// told apart after decoding); a []byte Body or DataSections follow the
// data rule, unless BinaryAsValue is set (an amqp-value binary, a
// BytesMessage); empty DataSections or SequenceSections put no body
// section on the wire and follow the no-body rule.
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
	switch b := m.Body.(type) {
	case nil, string:
		return JMSTextMessage
	case []byte:
		if m.BinaryAsValue {
			return JMSBytesMessage
		}
		return jmsDataType(m.ContentType, JMSBytesMessage)
	case DataSections:
		if len(b) == 0 {
			return jmsDataType(m.ContentType, JMSMessage)
		}
		return jmsDataType(m.ContentType, JMSBytesMessage)
	case SequenceSections:
		if len(b) == 0 {
			return jmsDataType(m.ContentType, JMSMessage)
		}
	}
	return JMSObjectMessage
}

// The content-types Qpid JMS matches exactly (case and parameters count).
const (
	jmsOctetStream      = "application/octet-stream"
	jmsSerializedObject = "application/x-java-serialized-object"
)

// jmsDataType is the JMS type of data sections (or of no body) with the
// given content-type; other is the type for a content-type that is
// present but neither binary, serialized Java nor text: BytesMessage for
// data sections, Message for no body.
func jmsDataType(contentType string, other JMSMessageType) JMSMessageType {
	switch {
	case contentType == "" || contentType == jmsOctetStream:
		return JMSBytesMessage
	case contentType == jmsSerializedObject:
		return JMSObjectMessage
	case jmsTextual(contentType):
		return JMSTextMessage
	}
	return other
}

// jmsTextual reports whether Qpid JMS reads a body with this content-type
// as text (its ContentTypeSupport): the type is text, or application with
// a subtype of xml, json, javascript, ecmascript, xml-dtd or one ending in
// +xml or +json; and the charset parameter, if there is one, is a name
// Java accepts (without one JMS assumes UTF-8). A content-type JMS cannot
// parse (no '/', no subtype) is not textual.
//
// Java also rejects a well-formed charset name its runtime does not know
// ("text/plain;charset=no-such"), and JMS then falls back to BytesMessage
// (Message for no body). Which names a JVM knows varies by runtime, so
// amq accepts every well-formed name here.
func jmsTextual(contentType string) bool {
	slash := strings.IndexByte(contentType, '/')
	if slash < 0 {
		return false
	}
	typ := javaTrim(strings.ToLower(contentType[:slash]))
	// JMS looks for parameters in everything after the '/', subtype
	// included; the subtype has no '=' it could mistake for one.
	rest := javaTrim(strings.ToLower(contentType[slash+1:]))
	sub, _, _ := strings.Cut(rest, ";")
	sub = javaTrim(sub)
	switch {
	case sub == "":
		return false
	case typ == "text":
	case typ == "application" && (sub == "xml" || sub == "json" || sub == "javascript" ||
		sub == "ecmascript" || sub == "xml-dtd" ||
		strings.HasSuffix(sub, "+xml") || strings.HasSuffix(sub, "+json")):
	default:
		return false
	}
	for _, param := range strings.Split(rest, ";") {
		name, value, ok := strings.Cut(javaTrim(param), "=")
		if ok && javaTrim(name) == "charset" {
			// Only the quotes go: "charset= utf-8" names " UTF-8", which
			// Java rejects.
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			return javaCharsetName(strings.ToUpper(value))
		}
	}
	return true
}

// javaTrim trims as Java's String.trim does: every character up to and
// including the space.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// javaCharsetName reports whether java.nio.charset.Charset accepts name
// as a charset name: letters, digits and, after the first character,
// '-', '+', ':', '_' and '.'.
func javaCharsetName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '-' || c == '+' || c == ':' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// SetJMSType writes the x-opt-jms-msg-type annotation (a byte, as JMS
// clients write it), so that a JMS consumer sees the message as the given
// type. It returns m.
//
// The body must suit the type: a string (or nil, or []byte) for a
// TextMessage, []byte for a BytesMessage, a map for a MapMessage, a list
// or SequenceSections for a StreamMessage, and for an ObjectMessage any
// amqp-value, or []byte with ContentType
// application/x-java-serialized-object. Qpid JMS fails to receive a
// message whose body its type cannot hold (a string marked BytesMessage)
// or to read its body.
func (m *Message) SetJMSType(t JMSMessageType) *Message {
	if m.Annotations == nil {
		m.Annotations = make(map[string]any, 1)
	}
	m.Annotations[jmsTypeAnnotation] = int8(t)
	return m
}

package amq_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// jmsTypeCases are what Qpid JMS infers for a message without the
// x-opt-jms-msg-type annotation (AmqpCodec.createWithoutAnnotation), in amq
// terms: the body and the content-type.
var jmsTypeCases = []struct {
	name          string
	body          any
	binaryAsValue bool
	contentType   string
	want          amq.JMSMessageType
}{
	// amqp-value string or null: text, whatever the content-type.
	{"string", "text", false, "", amq.JMSTextMessage},
	{"string octet-stream", "text", false, "application/octet-stream", amq.JMSTextMessage},
	{"string serialized", "text", false, "application/x-java-serialized-object", amq.JMSTextMessage},
	{"nil", nil, false, "", amq.JMSTextMessage},
	{"nil image", nil, false, "image/png", amq.JMSTextMessage},

	// amqp-value binary: bytes, whatever the content-type.
	{"binary value", []byte{1}, true, "", amq.JMSBytesMessage},
	{"binary value text", []byte("t"), true, "text/plain", amq.JMSBytesMessage},
	{"binary value serialized", []byte{1}, true, "application/x-java-serialized-object", amq.JMSBytesMessage},

	// Any other amqp-value: object.
	{"map", map[string]any{"k": "v"}, false, "", amq.JMSObjectMessage},
	{"map any keys", map[any]any{int32(1): "v"}, false, "", amq.JMSObjectMessage},
	{"map text", map[string]any{"k": "v"}, false, "text/plain", amq.JMSObjectMessage},
	{"list", []any{"a", int32(1)}, false, "", amq.JMSObjectMessage},
	{"long", int64(7), false, "", amq.JMSObjectMessage},
	{"bool", true, false, "", amq.JMSObjectMessage},
	{"symbol", amq.Symbol("s"), false, "", amq.JMSObjectMessage},
	{"char", amq.Char('c'), false, "", amq.JMSObjectMessage},
	{"array", []int32{1, 2}, false, "", amq.JMSObjectMessage},
	{"described", amq.Described{Descriptor: amq.Symbol("x:y"), Value: "v"}, false, "", amq.JMSObjectMessage},
	{"uuid", amq.UUID{1}, false, "", amq.JMSObjectMessage},

	// amqp-sequence: object, whatever the content-type.
	{"sequence", amq.SequenceSections{{"a"}}, false, "", amq.JMSObjectMessage},
	{"sequences", amq.SequenceSections{{"a"}, {int32(1)}}, false, "", amq.JMSObjectMessage},
	{"sequence text", amq.SequenceSections{{"a"}}, false, "text/plain", amq.JMSObjectMessage},

	// Data sections: by content-type, bytes unless serialized Java or text.
	{"data", []byte{1, 2}, false, "", amq.JMSBytesMessage},
	{"data octet-stream", []byte{1}, false, "application/octet-stream", amq.JMSBytesMessage},
	{"data serialized", []byte{1}, false, "application/x-java-serialized-object", amq.JMSObjectMessage},
	{"data text/plain", []byte("t"), false, "text/plain", amq.JMSTextMessage},
	{"data text/html charset", []byte("t"), false, "text/html;charset=iso-8859-1", amq.JMSTextMessage},
	{"data quoted charset", []byte("t"), false, `text/plain; charset="utf-16"`, amq.JMSTextMessage},
	{"data charset not first", []byte("t"), false, "text/plain; format=flowed; Charset=UTF-8", amq.JMSTextMessage},
	{"data type case", []byte("t"), false, " TEXT/Plain ", amq.JMSTextMessage},
	{"data trailing semicolon", []byte("t"), false, "text/plain;", amq.JMSTextMessage},
	{"data json", []byte("{}"), false, "application/json", amq.JMSTextMessage},
	{"data +json", []byte("{}"), false, "application/vnd.api+json", amq.JMSTextMessage},
	{"data xml", []byte("<a/>"), false, "application/xml", amq.JMSTextMessage},
	{"data +xml", []byte("<a/>"), false, "application/atom+xml", amq.JMSTextMessage},
	{"data xml-dtd", []byte("t"), false, "application/xml-dtd", amq.JMSTextMessage},
	{"data javascript", []byte("t"), false, "application/javascript", amq.JMSTextMessage},
	{"data ecmascript", []byte("t"), false, "application/ecmascript", amq.JMSTextMessage},
	{"data image", []byte{1}, false, "image/png", amq.JMSBytesMessage},
	{"data other application", []byte{1}, false, "application/pdf", amq.JMSBytesMessage},
	// JMS matches these two content-types exactly: case and parameters count.
	{"data octet-stream case", []byte{1}, false, "Application/Octet-Stream", amq.JMSBytesMessage},
	{"data octet-stream charset", []byte{1}, false, "application/octet-stream; charset=utf-8", amq.JMSBytesMessage},
	{"data serialized case", []byte{1}, false, "Application/x-java-serialized-object", amq.JMSBytesMessage},
	// Content-types and charsets JMS cannot parse are not text.
	{"data no slash", []byte("t"), false, "text", amq.JMSBytesMessage},
	{"data no subtype", []byte("t"), false, "text/", amq.JMSBytesMessage},
	{"data no subtype params", []byte("t"), false, "text/ ;charset=utf-8", amq.JMSBytesMessage},
	{"data empty charset", []byte("t"), false, "text/plain;charset=", amq.JMSBytesMessage},
	{"data empty quoted charset", []byte("t"), false, `text/plain;charset=""`, amq.JMSBytesMessage},
	{"data space in charset", []byte("t"), false, "text/plain;charset= utf-8", amq.JMSBytesMessage},
	{"data charset starts with dash", []byte("t"), false, "text/plain;charset=-x", amq.JMSBytesMessage},
	{"data charset slash", []byte("t"), false, "text/plain;charset=a/b", amq.JMSBytesMessage},
	{"data sections", amq.DataSections{{1}, {2}}, false, "", amq.JMSBytesMessage},
	{"data sections serialized", amq.DataSections{{1}, {2}}, false, "application/x-java-serialized-object", amq.JMSObjectMessage},
	{"data sections text", amq.DataSections{[]byte("a"), []byte("b")}, false, "text/plain", amq.JMSTextMessage},
	{"data sections image", amq.DataSections{{1}, {2}}, false, "image/png", amq.JMSBytesMessage},

	// No body section (empty DataSections or SequenceSections): as data,
	// but a content-type that is none of those makes a plain Message.
	{"no body", amq.DataSections{}, false, "", amq.JMSBytesMessage},
	{"no body octet-stream", amq.DataSections{}, false, "application/octet-stream", amq.JMSBytesMessage},
	{"no body serialized", amq.DataSections{}, false, "application/x-java-serialized-object", amq.JMSObjectMessage},
	{"no body text", amq.DataSections(nil), false, "text/plain;charset=utf-8", amq.JMSTextMessage},
	{"no body json", amq.SequenceSections{}, false, "application/json", amq.JMSTextMessage},
	{"no body image", amq.DataSections{}, false, "image/png", amq.JMSMessage},
	{"no body bad charset", amq.SequenceSections{}, false, "text/plain;charset=", amq.JMSMessage},
	{"no body no sequence", amq.SequenceSections{}, false, "", amq.JMSBytesMessage},
}

func jmsCaseMessage(body any, binaryAsValue bool, contentType string) *amq.Message {
	m := amq.NewMessage(body)
	m.BinaryAsValue = binaryAsValue
	m.ContentType = contentType
	return m
}

func TestJMSTypeInferred(t *testing.T) {
	for _, tt := range jmsTypeCases {
		t.Run(tt.name, func(t *testing.T) {
			m := jmsCaseMessage(tt.body, tt.binaryAsValue, tt.contentType)
			assert.Equal(t, tt.want, m.JMSType())
		})
	}
}

// TestJMSTypeRoundTrip checks that a receiver infers what the sender
// inferred: the rules follow the sections on the wire, not amq's Go types.
// Messages without a body section are left out: they arrive with a nil
// Body, which amq reads as the amqp-value null it sends for nil.
func TestJMSTypeRoundTrip(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "jms-round-trip", nil)
	require.NoError(t, err)
	for _, tt := range jmsTypeCases {
		switch body := tt.body.(type) {
		case amq.DataSections:
			if len(body) == 0 {
				continue
			}
		case amq.SequenceSections:
			if len(body) == 0 {
				continue
			}
		}
		m := jmsCaseMessage(tt.body, tt.binaryAsValue, tt.contentType).SetTo("jms-round-trip")
		m.Subject = tt.name
		require.NoError(t, c.Send(ctx, m), tt.name)
		d, err := r.Receive(ctx)
		require.NoError(t, err, tt.name)
		require.NoError(t, d.Accept(ctx))
		require.Equal(t, tt.name, d.Message.Subject)
		assert.Equal(t, tt.want, d.Message.JMSType(), tt.name)
	}
}

func TestJMSTypeAnnotation(t *testing.T) {
	tests := []struct {
		annotation any
		want       amq.JMSMessageType
	}{
		{int8(3), amq.JMSBytesMessage},
		{uint8(4), amq.JMSStreamMessage},
		{int32(2), amq.JMSMapMessage},
		{int64(0), amq.JMSMessage},
		// Not a number: ignored, the body decides.
		{"3", amq.JMSTextMessage},
	}
	for _, tt := range tests {
		m := amq.NewMessage("text")
		m.Annotations = map[string]any{"x-opt-jms-msg-type": tt.annotation}
		assert.Equal(t, tt.want, m.JMSType(), "%T %v", tt.annotation, tt.annotation)
	}
	for _, typ := range []amq.JMSMessageType{amq.JMSMessage, amq.JMSObjectMessage, amq.JMSMapMessage,
		amq.JMSBytesMessage, amq.JMSStreamMessage, amq.JMSTextMessage} {
		m := amq.NewMessage(nil).SetJMSType(typ)
		assert.Equal(t, typ, m.JMSType(), typ.String())
		assert.Equal(t, int8(typ), m.Annotations["x-opt-jms-msg-type"], typ.String())
	}
	assert.Equal(t, "JMSMessageType(?)", fmt.Sprint(amq.JMSMessageType(9)))
}

func TestJMSType(t *testing.T) {
	// The annotation travels and wins over inference.
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "jms", nil)
	require.NoError(t, err)
	require.NoError(t, c.Send(ctx, amq.NewMessage("not text for JMS").SetTo("jms").SetJMSType(amq.JMSBytesMessage)))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, amq.JMSBytesMessage, d.Message.JMSType())
	assert.Equal(t, int8(3), d.Message.Annotations["x-opt-jms-msg-type"])
	assert.Equal(t, "BytesMessage", d.Message.JMSType().String())
}

//go:build integration

package integration

// amq and Qpid JMS (AMQ JMS) through ActiveMQ Artemis, both ways
// (reference 14.2): what amq makes of each JMS message type, and which JMS
// message type and content a JMS consumer gets from each amq body, with and
// without the x-opt-jms-msg-type annotation (Message.SetJMSType).

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
)

// jmsKinds are the message kinds JmsPeer sends, in its order, and the JMS
// type amq must name each (JmsPeer's header documents the content).
var jmsKinds = []struct {
	kind string
	want amq.JMSMessageType
}{
	{"text", amq.JMSTextMessage},
	{"bytes", amq.JMSBytesMessage},
	{"map", amq.JMSMapMessage},
	{"stream", amq.JMSStreamMessage},
	{"object", amq.JMSObjectMessage},
	{"message", amq.JMSMessage},
}

// javaSerialized is the Java serialization stream header (magic 0xACED,
// version 5) that starts an ObjectMessage's data section.
var javaSerialized = []byte{0xac, 0xed, 0x00, 0x05}

// TestJMSToAmq: JMS sends one message of each type; amq names each type
// and reads the body as the Go value of what JMS put on the wire.
func TestJMSToAmq(t *testing.T) {
	jms := jmsClient(t) // first: without it, no broker need start
	p := getPeer(t, "artemis")
	ctx := testCtx(t, 2*time.Minute)
	queue := p.Queue(uniqueName(t))
	c := amqDial(t, p, p.Addr, nil)
	r := amqReceiver(t, c, queue, nil)

	kinds := make([]string, len(jmsKinds))
	for i, k := range jmsKinds {
		kinds[i] = k.kind
	}
	require.NoError(t, jms.send(ctx, p, queue, kinds...))

	for i, k := range jmsKinds {
		d, err := r.Receive(ctx)
		require.NoError(t, err, "receive %s", k.kind)
		m := d.Message
		require.Equal(t, k.kind, m.Properties["kind"], "message %d", i)
		assert.Equal(t, int32(i), m.Properties["seq"], k.kind)
		assert.Equal(t, k.want, m.JMSType(), k.kind)
		// Qpid JMS always writes the annotation, as a byte.
		assert.Equal(t, int8(k.want), m.Annotations["x-opt-jms-msg-type"], k.kind)

		switch k.kind {
		case "text":
			assert.Equal(t, "hello jms", m.Body)
		case "bytes":
			assert.Equal(t, []byte{1, 2, 3}, m.Body)
			assert.False(t, m.BinaryAsValue, "a BytesMessage travels as a data section")
			assert.Equal(t, "application/octet-stream", m.ContentType)
		case "map":
			assert.Equal(t, map[string]any{"k": "v", "n": int32(7)}, m.Body)
		case "stream":
			// A StreamMessage travels as one amqp-sequence section.
			assert.Equal(t, amq.SequenceSections{{"s", int32(42)}}, m.Body)
		case "object":
			b, ok := m.Body.([]byte)
			require.True(t, ok, "object body %T", m.Body)
			assert.True(t, bytes.HasPrefix(b, javaSerialized), "object body % x", b)
			assert.Contains(t, string(b), "java.util.ArrayList")
			assert.Equal(t, "application/x-java-serialized-object", m.ContentType)
		case "message":
			assert.Nil(t, m.Body)
			assert.Equal(t, "plain", m.Properties["note"])
		}
		require.NoError(t, d.Accept(ctx))
	}
}

// jmsSerializedString is "hi" in Java serialization: the stream header,
// TC_STRING (0x74), a two-byte length and the UTF-8 bytes.
var jmsSerializedString = append(append([]byte{}, javaSerialized...), 0x74, 0x00, 0x02, 'h', 'i')

// TestJMSFromAmq: amq sends each body kind, without and with SetJMSType;
// the JMS consumer gets the message type Message.JMSType names and the
// content that was sent.
func TestJMSFromAmq(t *testing.T) {
	type row struct {
		name string
		msg  *amq.Message
		// want is the JMS type; Message.JMSType must name it too.
		want amq.JMSMessageType
		// body and types are JmsPeer's JSON for the content ("" for types:
		// not checked).
		body, types string
	}
	msg := func(body any, mod func(m *amq.Message)) *amq.Message {
		m := amq.NewMessage(body)
		if mod != nil {
			mod(m)
		}
		return m
	}
	contentType := func(ct string) func(*amq.Message) {
		return func(m *amq.Message) { m.ContentType = ct }
	}
	typed := func(typ amq.JMSMessageType) func(*amq.Message) {
		return func(m *amq.Message) { m.SetJMSType(typ) }
	}
	rows := []row{
		// Without the annotation JMS infers the type from the body
		// sections (and content-type); amq's JMSType mirrors it.
		{"string", msg("hello amq", nil), amq.JMSTextMessage, `"hello amq"`, ""},
		{"nil", msg(nil, nil), amq.JMSTextMessage, `null`, ""},
		{"bytes", msg([]byte{1, 2, 3}, nil), amq.JMSBytesMessage, `[1,2,3]`, ""},
		{"binary value", msg([]byte{1, 2, 3}, func(m *amq.Message) { m.BinaryAsValue = true }), amq.JMSBytesMessage, `[1,2,3]`, ""},
		{"map", msg(map[string]any{"k": "v", "n": int32(7)}, nil), amq.JMSObjectMessage, `{"k":"v","n":7}`, `"LinkedHashMap"`},
		{"list", msg([]any{"s", int32(42)}, nil), amq.JMSObjectMessage, `["s",42]`, `"ArrayList"`},
		{"long", msg(int64(7), nil), amq.JMSObjectMessage, `7`, `"Long"`},
		{"bool", msg(true, nil), amq.JMSObjectMessage, `true`, `"Boolean"`},
		{"sequence", msg(amq.SequenceSections{{"s", int32(42)}}, nil), amq.JMSObjectMessage, `["s",42]`, `"ArrayList"`},
		{"text data", msg([]byte("h\u00e9llo"), contentType("text/plain;charset=utf-8")), amq.JMSTextMessage, `"h\u00e9llo"`, ""},
		{"latin-1 data", msg([]byte("h\xe9llo"), contentType("text/plain; charset=ISO-8859-1")), amq.JMSTextMessage, `"h\u00e9llo"`, ""},
		{"json data", msg([]byte(`{"id":7}`), contentType("application/json")), amq.JMSTextMessage, `"{\"id\":7}"`, ""},
		{"image data", msg([]byte{1, 2, 3}, contentType("image/png")), amq.JMSBytesMessage, `[1,2,3]`, ""},
		{"serialized data", msg(jmsSerializedString, contentType("application/x-java-serialized-object")), amq.JMSObjectMessage, `"hi"`, `"String"`},
		// Qpid JMS keeps only the last body section of a message: of
		// several data or sequence sections, a JMS consumer sees the last.
		{"data sections", msg(amq.DataSections{{1}, {2, 3}}, nil), amq.JMSBytesMessage, `[2,3]`, ""},
		{"sequences", msg(amq.SequenceSections{{"a"}, {"b"}}, nil), amq.JMSObjectMessage, `["b"]`, `"ArrayList"`},
		{"no body", msg(amq.DataSections{}, nil), amq.JMSBytesMessage, `[]`, ""},
		{"no body image", msg(amq.DataSections{}, contentType("image/png")), amq.JMSMessage, `null`, ""},
		{"no body text", msg(amq.DataSections{}, contentType("text/plain")), amq.JMSTextMessage, `null`, ""},

		// With the annotation JMS takes the type as given.
		{"string as text", msg("hello amq", typed(amq.JMSTextMessage)), amq.JMSTextMessage, `"hello amq"`, ""},
		{"bytes as bytes", msg([]byte{1, 2, 3}, typed(amq.JMSBytesMessage)), amq.JMSBytesMessage, `[1,2,3]`, ""},
		{"bytes as text", msg([]byte(`{"id":7}`), typed(amq.JMSTextMessage)), amq.JMSTextMessage, `"{\"id\":7}"`, ""},
		{"map as map", msg(map[string]any{"k": "v", "n": int32(7)}, typed(amq.JMSMapMessage)), amq.JMSMapMessage,
			`{"k":"v","n":7}`, `{"k":"String","n":"Integer"}`},
		{"sequence as stream", msg(amq.SequenceSections{{"s", int32(42)}}, typed(amq.JMSStreamMessage)), amq.JMSStreamMessage,
			`["s",42]`, `["String","Integer"]`},
		{"list as stream", msg([]any{"s", int32(42)}, typed(amq.JMSStreamMessage)), amq.JMSStreamMessage,
			`["s",42]`, `["String","Integer"]`},
		{"nil as message", msg(nil, typed(amq.JMSMessage)), amq.JMSMessage, `null`, ""},
		{"long as object", msg(int64(7), typed(amq.JMSObjectMessage)), amq.JMSObjectMessage, `7`, `"Long"`},
		// An ObjectMessage in data sections must say it is serialized Java.
		{"bytes as object", msg([]byte{1}, typed(amq.JMSObjectMessage)), amq.JMSObjectMessage, "", ""},
	}
	// JMS reads the body of these with an error (JmsPeer's "error").
	wantErr := map[string]string{
		"bytes as object": "MessageFormatException: Failed to read object: Data support still to be added",
	}

	jms := jmsClient(t) // first: without it, no broker need start
	p := getPeer(t, "artemis")
	ctx := testCtx(t, 2*time.Minute)
	queue := p.Queue(uniqueName(t))
	c := amqDial(t, p, p.Addr, nil)
	s := amqSender(t, c, queue, nil)

	got := jms.recvAll(t, ctx, p, queue, len(rows), func() error {
		for i, r := range rows {
			r.msg.Properties = map[string]any{"row": int32(i)}
			if err := s.Send(ctx, r.msg); err != nil {
				return fmt.Errorf("send %s: %w", r.name, err)
			}
		}
		return nil
	})
	seen := make([]bool, len(rows))
	for i, g := range got {
		n, ok := g.Props["row"].(float64)
		require.True(t, ok && n >= 0 && int(n) < len(rows) && !seen[int(n)], "JMS message %d: no row or a row twice: %+v", i, g)
		seen[int(n)] = true
		r := rows[int(n)]
		t.Run(r.name, func(t *testing.T) {
			assert.Equal(t, r.want.String(), g.Class, "JMS class")
			assert.Equal(t, r.want, r.msg.JMSType(), "Message.JMSType")
			if want, ok := wantErr[r.name]; ok {
				assert.Equal(t, want, g.Error)
				return
			}
			require.Empty(t, g.Error, "JMS could not read the body")
			assert.JSONEq(t, r.body, string(g.Body), "body")
			if r.types != "" {
				assert.JSONEq(t, r.types, string(g.Types), "types")
			}
		})
	}
}

// TestJMSRelayWithoutAnnotation: amq takes each JMS message type, drops
// the annotations and forwards body, content-type and properties; the JMS
// consumer then infers a type from the body alone, and it is the type
// Message.JMSType names for the forwarded message.
func TestJMSRelayWithoutAnnotation(t *testing.T) {
	jms := jmsClient(t) // first: without it, no broker need start
	p := getPeer(t, "artemis")
	ctx := testCtx(t, 2*time.Minute)
	in, out := p.Queue(uniqueName(t)), p.Queue(uniqueName(t))
	c := amqDial(t, p, p.Addr, nil)
	r := amqReceiver(t, c, in, nil)
	s := amqSender(t, c, out, nil)

	kinds := make([]string, len(jmsKinds))
	for i, k := range jmsKinds {
		kinds[i] = k.kind
	}
	require.NoError(t, jms.send(ctx, p, in, kinds...))

	forwarded := map[string]*amq.Message{}
	got := jms.recvAll(t, ctx, p, out, len(jmsKinds), func() error {
		for range jmsKinds {
			d, err := r.Receive(ctx)
			if err != nil {
				return err
			}
			m := d.Message
			fwd := &amq.Message{Body: m.Body, BinaryAsValue: m.BinaryAsValue, ContentType: m.ContentType, Properties: m.Properties}
			forwarded[fmt.Sprint(m.Properties["kind"])] = fwd
			if err := s.Send(ctx, fwd); err != nil {
				return err
			}
			if err := d.Accept(ctx); err != nil {
				return err
			}
		}
		return nil
	})

	// What Qpid JMS infers from the bodies it writes itself.
	want := map[string]struct {
		class amq.JMSMessageType
		body  string
	}{
		"text":    {amq.JMSTextMessage, `"hello jms"`},
		"bytes":   {amq.JMSBytesMessage, `[1,2,3]`},          // data, application/octet-stream
		"map":     {amq.JMSObjectMessage, `{"k":"v","n":7}`}, // amqp-value map
		"stream":  {amq.JMSObjectMessage, `["s",42]`},        // amqp-sequence
		"object":  {amq.JMSObjectMessage, `["a","b"]`},       // data, x-java-serialized-object
		"message": {amq.JMSTextMessage, `null`},              // no body: amq forwards nil as amqp-value null
	}
	for _, g := range got {
		kind := fmt.Sprint(g.Props["kind"])
		fwd, w := forwarded[kind], want[kind]
		require.NotNil(t, fwd, "JMS got a message amq did not forward, or one twice: %+v", g)
		delete(forwarded, kind)
		t.Run(kind, func(t *testing.T) {
			assert.Equal(t, w.class.String(), g.Class, "JMS class")
			assert.Equal(t, w.class, fwd.JMSType(), "Message.JMSType")
			require.Empty(t, g.Error, "JMS could not read the body")
			assert.JSONEq(t, w.body, string(g.Body), "body")
		})
	}
}

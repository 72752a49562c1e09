package codec

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// These tests cross-check the message format against an independent
// implementation, github.com/Azure/go-amqp (the client engine of amq).

// mapByKey flattens a Map for an order-insensitive comparison (go-amqp
// encodes Go maps in random order).
func mapByKey(t *testing.T, m Map) map[any]any {
	t.Helper()
	if m == nil {
		return nil
	}
	out := map[any]any{}
	for _, e := range m {
		out[fmt.Sprintf("%T:%v", e.Key, e.Key)] = e.Value
	}
	return out
}

func TestGoAMQPToCodec(t *testing.T) {
	now := time.UnixMilli(1700000000123).UTC()
	to, subject, replyTo, ct, ce, gid, rgid := "queue1", "subj", "reply", "text/plain", "gzip", "g", "rg"
	gseq := uint32(9)
	in := &amqp.Message{
		Header: &amqp.MessageHeader{Durable: true, Priority: 9, TTL: 5 * time.Second, FirstAcquirer: true, DeliveryCount: 3},
		DeliveryAnnotations: amqp.Annotations{
			"x-opt-d": "d",
		},
		Annotations: amqp.Annotations{
			"x-opt-jms-msg-type": int8(5),
			int64(7):             "seven", // go-amqp writes integer keys as long, not ulong
		},
		Properties: &amqp.MessageProperties{
			MessageID: amqp.UUID{1, 2, 3}, UserID: []byte("user"), To: &to, Subject: &subject, ReplyTo: &replyTo,
			CorrelationID: uint64(42), ContentType: &ct, ContentEncoding: &ce, AbsoluteExpiryTime: &now, CreationTime: &now,
			GroupID: &gid, GroupSequence: &gseq, ReplyToGroupID: &rgid,
		},
		ApplicationProperties: map[string]any{
			"s": "v", "i32": int32(-70000), "i64": int64(1) << 40, "u8": uint8(1), "f": 1.5, "b": true, "t": now, "sym": amqp.Symbol("sy"),
		},
		Data:   [][]byte{[]byte("hello"), []byte("world")},
		Footer: amqp.Annotations{"x-opt-f": int64(1)},
	}
	enc, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := UnmarshalMessage(enc)
	if err != nil {
		t.Fatalf("UnmarshalMessage: %v\n% x", err, enc)
	}
	if !m.Header.Durable || *m.Header.Priority != 9 || *m.Header.TTL != 5000 || !m.Header.FirstAcquirer || m.Header.DeliveryCount != 3 {
		t.Errorf("Header = %+v", m.Header)
	}
	wantProps := &Properties{
		MessageID: UUID{1, 2, 3}, UserID: []byte("user"), To: &to, Subject: &subject, ReplyTo: &replyTo,
		CorrelationID: uint64(42), ContentType: ptr(Symbol(ct)), ContentEncoding: ptr(Symbol(ce)), AbsoluteExpiryTime: &now, CreationTime: &now,
		GroupID: &gid, GroupSequence: &gseq, ReplyToGroupID: &rgid,
	}
	if !reflect.DeepEqual(m.Properties, wantProps) {
		t.Errorf("Properties =\n%#v\nwant\n%#v", m.Properties, wantProps)
	}
	check := func(name string, got Map, want Map) {
		if !reflect.DeepEqual(mapByKey(t, got), mapByKey(t, want)) {
			t.Errorf("%s = %#v\nwant %#v", name, got, want)
		}
	}
	check("DeliveryAnnotations", m.DeliveryAnnotations, Map{{Key: Symbol("x-opt-d"), Value: "d"}})
	check("MessageAnnotations", m.MessageAnnotations, Map{{Key: Symbol("x-opt-jms-msg-type"), Value: int8(5)}, {Key: int64(7), Value: "seven"}})
	check("ApplicationProperties", m.ApplicationProperties, Map{
		{Key: "s", Value: "v"}, {Key: "i32", Value: int32(-70000)}, {Key: "i64", Value: int64(1) << 40}, {Key: "u8", Value: uint8(1)}, {Key: "f", Value: 1.5}, {Key: "b", Value: true}, {Key: "t", Value: now}, {Key: "sym", Value: Symbol("sy")},
	})
	check("Footer", m.Footer, Map{{Key: Symbol("x-opt-f"), Value: int64(1)}})
	if !reflect.DeepEqual(m.Data, [][]byte{[]byte("hello"), []byte("world")}) || m.HasValue || m.Sequence != nil {
		t.Errorf("body = %q %v %v", m.Data, m.HasValue, m.Sequence)
	}

	// Value and sequence bodies.
	for _, c := range []struct {
		in   *amqp.Message
		want *Message
	}{
		{&amqp.Message{Value: "v"}, &Message{Value: "v", HasValue: true}},
		{&amqp.Message{Value: []any{int64(1), "x"}}, &Message{Value: List{int64(1), "x"}, HasValue: true}},
		{&amqp.Message{Value: []string{"a", "b"}}, &Message{Value: []string{"a", "b"}, HasValue: true}},
		{&amqp.Message{Value: []int32{1, 300}}, &Message{Value: []int32{1, 300}, HasValue: true}},
		{&amqp.Message{Value: amqp.UUID{9}}, &Message{Value: UUID{9}, HasValue: true}},
		{&amqp.Message{Sequence: [][]any{{"a", int64(1)}, {}}}, &Message{Sequence: []List{{"a", int64(1)}, {}}}},
	} {
		enc, err := c.in.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalMessage(enc)
		if err != nil {
			t.Fatalf("UnmarshalMessage(% x): %v", enc, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("got %#v\nwant %#v\nwire % x", got, c.want, enc)
		}
	}
}

func TestCodecToGoAMQP(t *testing.T) {
	now := time.UnixMilli(1700000000123).UTC()
	in := fullMessage()
	in.Properties.AbsoluteExpiryTime = &now
	in.ApplicationProperties = Map{{Key: "s", Value: "v"}, {Key: "i", Value: int32(-1)}, {Key: "l", Value: int64(1) << 40}, {Key: "b", Value: true}, {Key: "t", Value: now}, {Key: "u", Value: UUID{5}}, {Key: "sym", Value: Symbol("x")}}
	in.MessageAnnotations = Map{{Key: Symbol("x-opt-jms-msg-type"), Value: int8(5)}, {Key: uint64(7), Value: "seven"}}
	in.Header.Priority = ptr(uint8(7))
	in.Header.TTL = ptr(uint32(1500))
	enc, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var m amqp.Message
	if err := m.UnmarshalBinary(enc); err != nil {
		t.Fatalf("go-amqp UnmarshalBinary: %v", err)
	}
	wantHeader := &amqp.MessageHeader{Durable: true, Priority: 7, TTL: 1500 * time.Millisecond, FirstAcquirer: true, DeliveryCount: 3}
	if !reflect.DeepEqual(m.Header, wantHeader) {
		t.Errorf("Header = %+v", m.Header)
	}
	p := m.Properties
	if p.MessageID != (amqp.UUID{1, 2, 3}) || string(p.UserID) != "user" || *p.To != "queue1" || *p.Subject != "" || *p.ReplyTo != "reply" ||
		p.CorrelationID != uint64(42) || *p.ContentType != "text/plain" || *p.ContentEncoding != "gzip" ||
		!p.AbsoluteExpiryTime.Equal(now) || !p.CreationTime.Equal(ts(0)) || *p.GroupID != "g" || *p.GroupSequence != 0 || *p.ReplyToGroupID != "rg" {
		t.Errorf("Properties = %+v", p)
	}
	wantApp := map[string]any{"s": "v", "i": int32(-1), "l": int64(1) << 40, "b": true, "t": now, "u": amqp.UUID{5}, "sym": "x"} // go-amqp returns symbols as strings here
	if len(m.ApplicationProperties) != len(wantApp) {
		t.Errorf("ApplicationProperties = %#v", m.ApplicationProperties)
	}
	for k, v := range wantApp {
		got := m.ApplicationProperties[k]
		if gt, ok := got.(time.Time); ok {
			if !gt.Equal(v.(time.Time)) {
				t.Errorf("app %s = %v", k, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("app %s = %#v, want %#v", k, got, v)
		}
	}
	if m.Annotations["x-opt-jms-msg-type"] != int8(5) || m.Annotations[uint64(7)] != "seven" {
		t.Errorf("Annotations = %#v", m.Annotations)
	}
	if m.DeliveryAnnotations["x-opt-d"] != "d" || !reflect.DeepEqual(m.Footer["x-opt-hash"], []byte{1}) {
		t.Errorf("DeliveryAnnotations = %#v, Footer = %#v", m.DeliveryAnnotations, m.Footer)
	}
	if !reflect.DeepEqual(m.Data, in.Data) {
		t.Errorf("Data = %q", m.Data)
	}

	for _, c := range []struct {
		in    *Message
		check func(*amqp.Message) bool
	}{
		{&Message{Value: "v", HasValue: true}, func(m *amqp.Message) bool { return m.Value == "v" }},
		{&Message{Value: List{int64(1), "x"}, HasValue: true}, func(m *amqp.Message) bool { return reflect.DeepEqual(m.Value, []any{int64(1), "x"}) }},
		{&Message{Value: []string{"a", "b"}, HasValue: true}, func(m *amqp.Message) bool { return reflect.DeepEqual(m.Value, []string{"a", "b"}) }},
		{&Message{Value: []int64{1, 2}, HasValue: true}, func(m *amqp.Message) bool { return reflect.DeepEqual(m.Value, []int64{1, 2}) }},
		{&Message{Value: Map{{Key: "k", Value: uint32(300)}}, HasValue: true}, func(m *amqp.Message) bool { return reflect.DeepEqual(m.Value, map[string]any{"k": uint32(300)}) }},
		{&Message{Value: make([]byte, 70000), HasValue: true}, func(m *amqp.Message) bool { return len(m.Value.([]byte)) == 70000 }},
		{&Message{Sequence: []List{{"a"}, {int32(2)}}}, func(m *amqp.Message) bool { return reflect.DeepEqual(m.Sequence, [][]any{{"a"}, {int32(2)}}) }},
	} {
		enc, err := c.in.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var m amqp.Message
		if err := m.UnmarshalBinary(enc); err != nil {
			t.Fatalf("go-amqp UnmarshalBinary(% x): %v", enc, err)
		}
		if !c.check(&m) {
			t.Errorf("go-amqp decoded %#v as %#v / %#v", c.in, m.Value, m.Sequence)
		}
	}
}

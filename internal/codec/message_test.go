package codec

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func fullMessage() *Message {
	now := ts(1700000000123)
	return &Message{
		Header:              &Header{Durable: true, Priority: ptr(uint8(0)), TTL: ptr(uint32(0)), FirstAcquirer: true, DeliveryCount: 3},
		DeliveryAnnotations: Map{{Key: Symbol("x-opt-d"), Value: "d"}},
		MessageAnnotations:  Map{{Key: Symbol("x-opt-jms-msg-type"), Value: int8(5)}, {Key: uint64(7), Value: nil}},
		Properties: &Properties{
			MessageID: UUID{1, 2, 3}, UserID: []byte("user"), To: ptr("queue1"), Subject: ptr(""), ReplyTo: ptr("reply"),
			CorrelationID: uint64(42), ContentType: ptr(Symbol("text/plain")), ContentEncoding: ptr(Symbol("gzip")),
			AbsoluteExpiryTime: &now, CreationTime: ptr(ts(0)), GroupID: ptr("g"), GroupSequence: ptr(uint32(0)), ReplyToGroupID: ptr("rg"),
		},
		ApplicationProperties: Map{{Key: "s", Value: "v"}, {Key: "i", Value: int32(-1)}, {Key: "b", Value: true}, {Key: "n", Value: nil}, {Key: "t", Value: now}},
		Data:                  [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{0xfe}, 1000)},
		Footer:                Map{{Key: Symbol("x-opt-hash"), Value: []byte{1}}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	tests := map[string]*Message{
		"empty":             {},
		"full":              fullMessage(),
		"value string":      {Value: "hello", HasValue: true},
		"value null":        {HasValue: true},
		"value described":   {Value: Described{Descriptor: uint64(1), Value: List{}}, HasValue: true},
		"value map":         {Value: Map{{Key: "k", Value: List{int64(1), []string{"a"}}}}, HasValue: true},
		"sequence":          {Sequence: []List{{int32(1), "two"}, {}}},
		"empty sections":    {DeliveryAnnotations: Map{}, MessageAnnotations: Map{}, ApplicationProperties: Map{}, Footer: Map{}, Properties: &Properties{}, Header: &Header{}},
		"properties string": {Properties: &Properties{MessageID: "id", CorrelationID: []byte{9}}},
		"data only":         {Data: [][]byte{{0}}},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			enc, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalMessage(enc)
			if err != nil {
				t.Fatalf("UnmarshalMessage(% x): %v", enc, err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("got  %#v\nwant %#v", got, m)
			}
			var aliased Message
			if err := UnmarshalMessageAliasing(&aliased, enc); err != nil || !reflect.DeepEqual(&aliased, m) {
				t.Errorf("UnmarshalMessageAliasing: %v\ngot  %#v\nwant %#v", err, &aliased, m)
			}
			app, err := AppendMessage([]byte("x"), m)
			if err != nil || !bytes.Equal(app[1:], enc) {
				t.Errorf("AppendMessage = % x, %v", app, err)
			}
		})
	}
}

func TestMessageSectionEncoding(t *testing.T) {
	enc, err := (&Message{Header: &Header{Durable: true}, Data: [][]byte{[]byte("hi")}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := h("00 53 70 c0 02 01 41  00 53 75 a0 02 6869")
	if !bytes.Equal(enc, want) {
		t.Errorf("= % x\nwant % x", enc, want)
	}
}

func TestUnmarshalMessageAlternatives(t *testing.T) {
	// Symbolic section descriptors, a null map section, a value section
	// holding a null.
	in := h("00" + sym("amqp:message-annotations:map") + "40" + "00" + sym("amqp:amqp-value:*") + "40")
	m, err := UnmarshalMessage(in)
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{MessageAnnotations: Map{}, HasValue: true}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %#v", m)
	}
	// A symbol in an address field (some brokers send one).
	m, err = UnmarshalMessage(h("00 53 73" + l8(3, "40 40 a3 01 71")))
	if err != nil || *m.Properties.To != "q" {
		t.Errorf("To = %v, %v", m, err)
	}
}

func TestUnmarshalMessageErrors(t *testing.T) {
	tests := map[string]string{
		"not described":             "45",
		"unknown section":           "00 53 79 45",
		"performative as section":   "00 53 10 45",
		"symbolic unknown":          "00" + sym("x") + "45",
		"out of order":              "00 53 75 a0 00  00 53 70 45",
		"header twice":              "00 53 70 45 00 53 70 45",
		"value twice":               "00 53 77 40 00 53 77 40",
		"data not binary":           "00 53 75 a1 00",
		"sequence not list":         "00 53 76 a1 00",
		"annotations not map":       "00 53 72 45",
		"header field wrong type":   "00 53 70" + l8(1, "43"),
		"properties to wrong type":  "00 53 73" + l8(3, "40 40 43"),
		"properties time wrong":     "00 53 73" + l8(9, "40 40 40 40 40 40 40 40 43"),
		"truncated":                 "00 53 75 a0 05 00",
		"trailing garbage":          "00 53 75 a0 00 ff",
		"header body not list":      "00 53 70 43",
		"app properties not map":    "00 53 74 a0 00",
		"footer not map":            "00 53 78 43",
		"delivery annotations list": "00 53 71 45",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := UnmarshalMessage(h(in))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("UnmarshalMessage = %#v, %v; want *DecodeError", m, err)
			}
			if !strings.HasPrefix(err.Error(), "amqp codec: decode error") {
				t.Errorf("error text %q", err)
			}
		})
	}
}

func TestMessageEncodeError(t *testing.T) {
	for _, m := range []*Message{
		{Value: struct{}{}, HasValue: true},
		{ApplicationProperties: Map{{Key: "k", Value: make(chan int)}}},
		{MessageAnnotations: Map{{Key: "k", Value: struct{}{}}}},
		{Properties: &Properties{MessageID: struct{}{}}},
	} {
		if b, err := AppendMessage([]byte{1}, m); err == nil || !bytes.Equal(b, []byte{1}) {
			t.Errorf("AppendMessage(%#v) = % x, %v; want error and dst unchanged", m, b, err)
		}
	}
}

// TestUnmarshalMessageAliasing: the data sections share the decoded bytes
// (no copy of the body), room the caller gives in Data is used, and the
// copying decoder still copies.
func TestUnmarshalMessageAliasing(t *testing.T) {
	enc, err := (&Message{Data: [][]byte{[]byte("hello")}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var room [1][]byte
	m := Message{Data: room[:0:1]}
	if err := UnmarshalMessageAliasing(&m, enc); err != nil {
		t.Fatal(err)
	}
	if len(m.Data) != 1 || &m.Data[0] != &room[0] {
		t.Fatalf("Data %v does not use the room given", m.Data)
	}
	copied, err := UnmarshalMessage(enc)
	if err != nil {
		t.Fatal(err)
	}
	enc[len(enc)-1] = '!'
	if string(m.Data[0]) != "hell!" {
		t.Errorf("aliased body %q does not share the input", m.Data[0])
	}
	if string(copied.Data[0]) != "hello" {
		t.Errorf("copied body %q changed with the input", copied.Data[0])
	}
	allocs := testing.AllocsPerRun(100, func() {
		m.Data = room[:0:1]
		_ = UnmarshalMessageAliasing(&m, enc)
	})
	if allocs != 0 {
		t.Errorf("decoding a message of one data section into room allocates %v times, want 0", allocs)
	}
}

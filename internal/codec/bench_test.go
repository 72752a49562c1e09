package codec

import (
	"bytes"
	"testing"
)

// typicalMessage is about 100 bytes on the wire: a header, a few
// properties, two application properties and a short data body.
func typicalMessage() *Message {
	return &Message{
		Header:                &Header{Durable: true},
		Properties:            &Properties{MessageID: "id-000042", To: ptr("queue1"), ContentType: ptr(Symbol("text/plain"))},
		ApplicationProperties: Map{{Key: "k", Value: int64(1)}, {Key: "trace", Value: "abc"}},
		Data:                  [][]byte{[]byte("hello, this is a typical message body")},
	}
}

func BenchmarkMessageEncode(b *testing.B) {
	m := typicalMessage()
	buf, _ := m.MarshalBinary()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendMessage(buf[:0], m)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageDecode(b *testing.B) {
	enc, _ := typicalMessage().MarshalBinary()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UnmarshalMessage(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransferFrame is the server's hot path: a transfer frame
// carrying a typical message, written then read.
func BenchmarkTransferFrame(b *testing.B) {
	msg, _ := typicalMessage().MarshalBinary()
	f := Frame{Channel: 1, Body: &Transfer{Handle: 1, DeliveryID: ptr(uint32(7)), DeliveryTag: []byte{7}, MessageFormat: ptr(uint32(0))}, Payload: msg}
	buf, _ := AppendFrame(nil, f)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	r := bytes.NewReader(nil)
	for b.Loop() {
		buf, _ = AppendFrame(buf[:0], f)
		r.Reset(buf)
		if _, err := ReadFrame(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTypicalMessageSize(t *testing.T) {
	enc, _ := typicalMessage().MarshalBinary()
	if len(enc) < 90 || len(enc) > 130 {
		t.Errorf("typical message is %d bytes, want about 100", len(enc))
	}
}

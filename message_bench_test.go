package amq

import (
	"testing"
	"time"
)

// typicalMessage is a 100-byte data body with the properties and
// application properties a service usually sets.
func typicalMessage() *Message {
	return &Message{
		Body:         make([]byte, 100),
		Durable:      true,
		ID:           "id-000042",
		To:           "queue1",
		ContentType:  "application/octet-stream",
		CreationTime: time.Unix(1700000000, 0),
		Properties:   map[string]any{"k": int64(1), "trace": "abc"},
	}
}

// BenchmarkMessageToWire encodes a message, as every send does; Plain is a
// bare body (amq.NewMessage(body)).
func BenchmarkMessageToWire(b *testing.B) {
	b.Run("Typical", func(b *testing.B) {
		m := typicalMessage()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Plain", func(b *testing.B) {
		m := NewMessage(make([]byte, 100))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// sinkMessage keeps the converted message on the heap, as a delivery's is.
var sinkMessage *Message

// BenchmarkMessageFromWire decodes a received message, as every delivery
// does.
func BenchmarkMessageFromWire(b *testing.B) {
	b.Run("Typical", func(b *testing.B) {
		payload, _ := typicalMessage().encode()
		b.ReportAllocs()
		for b.Loop() {
			sinkMessage, _ = decodeMessage(payload)
		}
	})
	b.Run("Plain", func(b *testing.B) {
		payload, _ := NewMessage(make([]byte, 100)).encode()
		b.ReportAllocs()
		for b.Loop() {
			sinkMessage, _ = decodeMessage(payload)
		}
	})
}

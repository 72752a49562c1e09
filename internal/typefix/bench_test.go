package typefix_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/typefix"
)

type sink struct{ net.Conn }

func (sink) Write(b []byte) (int, error) { return len(b), nil }

// loop is a net.Conn whose reads return the same bytes forever.
type loop struct {
	net.Conn
	b   []byte
	off int
}

func (l *loop) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.b[l.off:])
		n += c
		l.off = (l.off + c) % len(l.b)
	}
	return n, nil
}

func message(b *testing.B, v any) []byte {
	m, err := (&codec.Message{ApplicationProperties: codec.Map{{Key: "k", Value: "v"}}, Value: v, HasValue: true}).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	return transferFrame(0, false, m)
}

func benchRead(b *testing.B, frame []byte) {
	frames := bytes.Repeat(frame, 64)
	c := typefix.Wrap(&loop{b: frames})
	buf := make([]byte, 64<<10)
	// Skip the 8-byte header the wrapper expects? It needs none: frames parse from the start.
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	got := 0
	for i := 0; i < b.N; i++ {
		for got < len(frame) {
			n, _ := c.Read(buf[:len(frame)-got])
			got += n
		}
		got -= len(frame)
	}
}

// BenchmarkReadPlain: a ~100-byte message without char or decimal.
func BenchmarkReadPlain(b *testing.B) {
	benchRead(b, message(b, "a body of about one hundred bytes, plain text, nothing special in it at all......"))
}

// BenchmarkReadRaw is the same without the wrapper: the baseline.
func BenchmarkReadRaw(b *testing.B) {
	frame := message(b, "a body of about one hundred bytes, plain text, nothing special in it at all......")
	c := &loop{b: bytes.Repeat(frame, 64)}
	buf := make([]byte, len(frame))
	b.SetBytes(int64(len(frame)))
	for i := 0; i < b.N; i++ {
		c.Read(buf)
	}
}

// BenchmarkReadChar: a message with a char, rewritten.
func BenchmarkReadChar(b *testing.B) {
	benchRead(b, message(b, codec.List{"a body with one char in it", codec.Char('x')}))
}

func BenchmarkWritePlain(b *testing.B) {
	frame := message(b, "a body of about one hundred bytes, plain text, nothing special in it at all......")
	c := typefix.Wrap(sink{})
	b.SetBytes(int64(len(frame)))
	for i := 0; i < b.N; i++ {
		c.Write(frame)
	}
}

package frametrace

import (
	"bytes"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

// BenchmarkWrite measures the cost of tracing when it is on: 1 KiB
// transfers written through a wrapped conn, lines discarded.
func BenchmarkWrite(b *testing.B) {
	s := &stream{t: b}
	s.header(codec.ProtoAMQP)
	start := len(s.b)
	s.frame(0, &codec.Transfer{Handle: 0, DeliveryID: ptr[uint32](1), DeliveryTag: []byte{0, 0, 0, 1}, MessageFormat: ptr[uint32](0)}, bytes.Repeat([]byte("x"), 1024)...)
	frame := s.b[start:]
	m := &memConn{}
	c := Wrap(m, "b", func(string) {})
	_, _ = c.Write(s.b[:start])
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Write(frame)
		m.written.Reset()
	}
}

package frametrace

import (
	"bytes"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

// FuzzTrace feeds arbitrary bytes through both directions of a wrapped
// conn, in chunks of 1 to 16 bytes (or all at once if chunk >= 128), after
// an AMQP protocol header if chunk&0x40 so that random bytes reach the
// frame decoder. internal/codec has no checked-in corpus (testdata/fuzz), so the
// seeds are real streams built with codec. Whatever the input: no panic,
// the bytes pass unchanged, at most one line per 8 bytes (plus one), and
// every line bounded.
func FuzzTrace(f *testing.F) {
	f.Add(uint8(1), clientStream(f))
	f.Add(uint8(7), serverStream(f))
	f.Add(uint8(0x40|2), []byte{0, 0, 0, 0x0c, 2, 0, 0, 1, 0, 0x53, 0x18, 0x45})
	f.Add(uint8(0), append(codec.ProtoAMQP[:], 0, 0, 0, 8, 2, 0, 0, 0))
	f.Add(uint8(3), []byte("AMQP\x03\x01\x00\x00\x00\x00\x00\x10\x02\x01\x00\x00\x00\x53\x41\x45"))
	f.Add(uint8(2), []byte("garbage"))
	for _, p := range []codec.Performative{
		&codec.Attach{Name: "l", Role: codec.RoleReceiver, Source: &codec.Source{Address: "a", Filter: codec.Map{{Key: codec.Symbol("f"), Value: codec.Described{Descriptor: codec.Symbol("apache.org:selector-filter:string"), Value: "x > 1"}}}, DefaultOutcome: &codec.Modified{DeliveryFailed: true}}},
		&codec.Transfer{Handle: 1, State: &codec.TransactionalState{TxnID: []byte{1}, Outcome: &codec.Accepted{}}},
		&codec.Disposition{First: 1, State: &codec.Received{SectionNumber: 1, SectionOffset: 2}},
		&codec.SASLChallenge{Challenge: []byte("r=abc,s=c2FsdA==,i=4096")},
	} {
		s := &stream{t: f}
		if p.FrameType() == codec.FrameSASL {
			s.header(codec.ProtoSASL)
		} else {
			s.header(codec.ProtoAMQP)
		}
		s.frame(3, p)
		f.Add(uint8(5), s.b)
	}
	f.Fuzz(func(t *testing.T, chunk uint8, data []byte) {
		size := int(chunk%16) + 1
		if chunk >= 128 {
			size = len(data) + 1
		}
		if chunk&0x40 != 0 {
			data = append(codec.ProtoAMQP[:], data...)
		}
		var got lines
		m := &memConn{r: data, chunk: size}
		c := Wrap(m, "f", got.add)
		if b := readAll(c, size); !bytes.Equal(b, data) {
			t.Fatal("read bytes changed")
		}
		writeChunks(t, c, data, size)
		if !bytes.Equal(m.written.Bytes(), data) {
			t.Fatal("written bytes changed")
		}
		out := got.get()
		if limit := 2 * (len(data)/headerSize + 1); len(out) > limit {
			t.Fatalf("%d lines for %d bytes", len(out), len(data))
		}
		for _, l := range out {
			if len(l) > maxLine+64 {
				t.Fatalf("line of %d bytes", len(l))
			}
		}
	})
}

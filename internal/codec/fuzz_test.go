package codec

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// seedValues are real encodings for the fuzz corpora.
func seedValues(f *testing.F) {
	for _, v := range []any{
		nil, true, uint32(300), int64(-1), 1.5, "s", Symbol("sym"), []byte{1}, ts(5), UUID{1}, Char('x'), Decimal64{},
		List{uint32(1), "a", List{}}, Map{{Key: Symbol("k"), Value: []int32{1, 2}}}, list300, mapLarge, nested,
		Described{Descriptor: uint64(0x77), Value: Map{}}, Array{Descriptor: Symbol("d"), Elem: TypeList8, Values: []any{List{true}}},
		[]string{long300}, [][]byte{{}}, []bool{true},
	} {
		b, err := Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, p := range append(fullPerformatives(), minimalPerformatives()...) {
		b, err := Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzUnmarshal(f *testing.F) {
	seedValues(f)
	f.Add(h("f0 00000005 7fffffff 40"))
	f.Add(h("e0 02 03 41"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, n, err := Unmarshal(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("n = %d for %d bytes", n, len(data))
		}
		// Whatever decodes re-encodes, and decodes to the same value.
		enc, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(Unmarshal(% x) = %#v): %v", data[:n], v, err)
		}
		v2, n2, err := Unmarshal(enc)
		if err != nil || n2 != len(enc) || !equalValues(v, v2) {
			t.Fatalf("re-decode of %#v = %#v, %v", v, v2, err)
		}
	})
}

func FuzzUnmarshalMessage(f *testing.F) {
	for _, m := range []*Message{
		fullMessage(), {}, {Value: "v", HasValue: true}, {Sequence: []List{{int32(1)}}},
		{Properties: &Properties{MessageID: "id", To: ptr("q")}, ApplicationProperties: Map{{Key: "k", Value: int64(1)}}, Data: [][]byte{[]byte("hello")}},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(h("00" + sym("amqp:amqp-value:*") + "40"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := UnmarshalMessage(data)
		var aliased Message
		aliasErr := UnmarshalMessageAliasing(&aliased, data)
		if (err == nil) != (aliasErr == nil) {
			t.Fatalf("UnmarshalMessage: %v; UnmarshalMessageAliasing: %v", err, aliasErr)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			return
		}
		if !reflect.DeepEqual(normalize(m), normalize(&aliased)) {
			t.Fatalf("aliasing decode:\n got %#v\nwant %#v", &aliased, m)
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(%#v): %v", m, err)
		}
		m2, err := UnmarshalMessage(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("re-decode:\n got %#v\nwant %#v", m2, m)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	for _, p := range append(fullPerformatives(), minimalPerformatives()...) {
		fr := Frame{Type: p.FrameType(), Channel: 1, Body: p}
		if _, ok := p.(*Transfer); ok {
			msg, _ := fullMessage().MarshalBinary()
			fr.Payload = msg
		}
		b, err := AppendFrame(nil, fr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(h("00000008 02 00 0000"))
	f.Add(h("00000010 03 00 0007 deadbeef 00531845"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ReadFrame(bytes.NewReader(data), 1<<20)
		// The reader the engine uses (transfers and dispositions decoded
		// into reused memory, small payloads packed into shared chunks)
		// reads the same frame, or fails too.
		pr := NewFrameReader(bytes.NewReader(data), 1<<20)
		pr.ReuseTransfers()
		pr.PackPayloads()
		if pf, perr := pr.ReadFrame(); (perr == nil) != (err == nil) || err == nil && !reflect.DeepEqual(normalize(pf), normalize(fr)) {
			t.Fatalf("engine's reader: %#v, %v\nReadFrame:       %#v, %v", pf, perr, fr, err)
		}
		if err != nil {
			var de *DecodeError
			var fe *FramingError
			if !errors.As(err, &de) && !errors.As(err, &fe) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		enc, err := AppendFrame(nil, fr)
		if err != nil {
			t.Fatalf("AppendFrame(%#v): %v", fr, err)
		}
		fr2, err := ReadFrame(bytes.NewReader(enc), 0)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !reflect.DeepEqual(normalize(fr), normalize(fr2)) {
			t.Fatalf("re-read:\n got %#v\nwant %#v", fr2, fr)
		}
		// A message in a transfer payload never panics the decoder.
		if _, ok := fr.Body.(*Transfer); ok {
			_, _ = UnmarshalMessage(fr.Payload)
		}
	})
}

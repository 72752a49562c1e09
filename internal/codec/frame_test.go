package codec

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

func TestFrameEncoding(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
		want string
	}{
		{"heartbeat", Frame{}, "00000008 02 00 0000"},
		{"heartbeat on channel", Frame{Channel: 0x0102}, "00000008 02 00 0102"},
		{"close", Frame{Channel: 1, Body: &Close{}}, "0000000c 02 00 0001 00531845"},
		{"sasl outcome", Frame{Type: FrameSASL, Body: &SASLOutcome{}}, "00000010 02 01 0000 00534 4c0030150 00"},
		{"transfer with payload", Frame{Body: &Transfer{Handle: 0}, Payload: []byte{0xAB}}, "00000010 02 00 0000 005314c0020143 ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendFrame([]byte("pre"), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b[3:], h(tt.want)) || string(b[:3]) != "pre" {
				t.Errorf("= % x\nwant % x", b[3:], h(tt.want))
			}
			var w bytes.Buffer
			if err := WriteFrame(&w, tt.f); err != nil || !bytes.Equal(w.Bytes(), b[3:]) {
				t.Errorf("WriteFrame = % x, %v", w.Bytes(), err)
			}
			// Byte-at-a-time reads must work the same.
			got, err := ReadFrame(iotest.OneByteReader(bytes.NewReader(b[3:])), 512)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.f) {
				t.Errorf("ReadFrame = %#v, want %#v", got, tt.f)
			}
		})
	}
}

func TestReadFrameExtendedHeader(t *testing.T) {
	// doff 3: four bytes of extended header are skipped.
	in := h("00000010 03 00 0007 deadbeef 00531845")
	f, err := ReadFrame(bytes.NewReader(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Body.(*Close); !ok || f.Channel != 7 {
		t.Errorf("got %#v", f)
	}
	// An extended header with no body is a heartbeat.
	f, err = ReadFrame(bytes.NewReader(h("0000000c 03 00 0000 00000000")), 0)
	if err != nil || f.Body != nil {
		t.Errorf("got %#v, %v", f, err)
	}
}

func TestReadFrameSequence(t *testing.T) {
	var buf []byte
	frames := []Frame{
		{Type: FrameSASL, Body: &SASLMechanisms{Mechanisms: []Symbol{"PLAIN"}}},
		{Body: &Open{ContainerID: "x"}},
		{},
		{Channel: 3, Body: &Transfer{Handle: 1, DeliveryID: ptr(uint32(1)), DeliveryTag: []byte{1}, MessageFormat: ptr(uint32(0))}, Payload: bytes.Repeat([]byte{1}, 200000)},
	}
	for _, f := range frames {
		var err error
		if buf, err = AppendFrame(buf, f); err != nil {
			t.Fatal(err)
		}
	}
	r := bytes.NewReader(buf)
	for i, want := range frames {
		got, err := ReadFrame(r, 0)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("frame %d: got %#v", i, got)
		}
	}
	if _, err := ReadFrame(r, 0); err != io.EOF {
		t.Errorf("at end: %v, want io.EOF", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     uint32
		framing bool // *FramingError; otherwise see err
		err     error
	}{
		{"size below 8", "00000007 02 00 0000", 0, true, nil},
		{"size zero", "00000000 02 00 0000", 0, true, nil},
		{"doff below 2", "00000008 01 00 0000", 0, true, nil},
		{"doff zero", "00000008 00 00 0000", 0, true, nil},
		{"doff beyond size", "0000000c 04 00 0000 00000000", 0, true, nil},
		{"too large", "00000400 02 00 0000", 512, true, nil},
		{"huge announced", "ffffffff 02 00 0000", 65536, true, nil},
		{"unknown type", "00000008 02 02 0000", 0, true, nil},
		{"empty input", "", 0, false, io.EOF},
		{"short header", "000000", 0, false, io.ErrUnexpectedEOF},
		{"short body", "00000010 02 00 0000 0053", 0, false, io.ErrUnexpectedEOF},
		{"huge body, no data", "7fffffff 02 00 0000 0053", 0, false, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(h(tt.in)), tt.max)
			var fe *FramingError
			if tt.framing {
				if !errors.As(err, &fe) || fe.Condition() != ErrCondFramingError {
					t.Fatalf("err = %v, want *FramingError", err)
				}
				return
			}
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
	// A malformed body is a *DecodeError.
	_, err := ReadFrame(bytes.NewReader(h("0000000c 02 00 0000 00531045")), 0)
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Errorf("bad body: %v", err)
	}
	// Read errors pass through.
	boom := errors.New("boom")
	if _, err := ReadFrame(iotest.ErrReader(boom), 0); err != boom {
		t.Errorf("reader error: %v", err)
	}
}

func TestAppendFrameErrors(t *testing.T) {
	for name, f := range map[string]Frame{
		"sasl body in amqp frame": {Type: FrameAMQP, Body: &SASLInit{}},
		"amqp body in sasl frame": {Type: FrameSASL, Body: &Open{}},
		"payload without body":    {Payload: []byte{1}},
		"payload after close":     {Body: &Close{}, Payload: []byte{1}},
		"nil pointer body":        {Body: (*Close)(nil)},
		"bad field":               {Body: &Open{Properties: Map{{Key: "k", Value: struct{}{}}}}},
	} {
		b, err := AppendFrame([]byte{9}, f)
		if err == nil || !bytes.Equal(b, []byte{9}) {
			t.Errorf("%s: AppendFrame = % x, %v", name, b, err)
		}
		if err := WriteFrame(io.Discard, f); err == nil {
			t.Errorf("%s: WriteFrame succeeded", name)
		}
	}
}

func TestDecodeFrameBody(t *testing.T) {
	p, payload, err := DecodeFrameBody(FrameAMQP, nil)
	if p != nil || payload != nil || err != nil {
		t.Errorf("empty body = %v, %v, %v", p, payload, err)
	}
	if _, _, err := DecodeFrameBody(7, h("00531845")); err == nil {
		t.Error("unknown frame type accepted")
	}
	p, payload, err = DecodeFrameBody(FrameAMQP, h("005314c0020143"))
	if err != nil || p.(*Transfer).Handle != 0 || len(payload) != 0 {
		t.Errorf("transfer without payload = %#v, % x, %v", p, payload, err)
	}
}

func TestProtoHeader(t *testing.T) {
	for _, c := range []struct {
		in [8]byte
		id uint8
	}{{ProtoAMQP, ProtoIDAMQP}, {ProtoTLS, ProtoIDTLS}, {ProtoSASL, ProtoIDSASL}} {
		id, err := ReadProtoHeader(bytes.NewReader(c.in[:]))
		if err != nil || id != c.id {
			t.Errorf("ReadProtoHeader(%q) = %d, %v", c.in[:], id, err)
		}
	}
	for _, bad := range []string{"AMQP\x00\x01\x00\x01", "AMQP\x01\x01\x00\x00", "AMQP\x00\x00\x09\x01", "HTTP/1.1", "amqp\x00\x01\x00\x00"} {
		_, err := ReadProtoHeader(bytes.NewReader([]byte(bad)))
		var pe *ProtoHeaderError
		if !errors.As(err, &pe) || string(pe.Header[:]) != bad || pe.Error() == "" {
			t.Errorf("ReadProtoHeader(%q) = %v", bad, err)
		}
	}
	if _, err := ReadProtoHeader(bytes.NewReader([]byte("AMQ"))); err != io.ErrUnexpectedEOF {
		t.Errorf("short header: %v", err)
	}
}

func TestFrameReader(t *testing.T) {
	id, format := uint32(1), uint32(0)
	big := bytes.Repeat([]byte{7}, 100<<10)
	frames := []Frame{
		{Type: FrameAMQP, Channel: 1, Body: &Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{1}, MessageFormat: &format}, Payload: []byte("first")},
		{Type: FrameAMQP},
		{Type: FrameAMQP, Channel: 2, Body: &Disposition{Role: RoleReceiver, First: 1, Settled: true, State: &Accepted{}}},
		{Type: FrameAMQP, Body: &Transfer{Handle: 0, More: true}, Payload: big},
		{Type: FrameAMQP, Body: &Transfer{Handle: 0}, Payload: []byte{}},
		{Type: FrameAMQP, Body: &Transfer{Handle: 0}, Payload: []byte("last")},
	}
	var stream []byte
	for _, f := range frames {
		var err error
		if stream, err = AppendFrame(stream, f); err != nil {
			t.Fatal(err)
		}
	}
	fr := NewFrameReader(bytes.NewReader(stream), 0)
	var got []Frame
	for range frames {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
	for i, f := range got {
		want, err := ReadFrame(bytes.NewReader(mustFrame(t, frames[i])), 0)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(f, want) {
			t.Errorf("frame %d: %#v, want %#v", i, f, want)
		}
	}
	// Payloads are the frames' own: reading more does not change them,
	// and each is exactly as long as it is.
	if string(got[0].Payload) != "first" || cap(got[0].Payload) != len("first") || !bytes.Equal(got[3].Payload, big) {
		t.Errorf("payloads changed under the reader: %q (cap %d)", got[0].Payload, cap(got[0].Payload))
	}
	// The header is checked as ReadFrame does.
	bad := NewFrameReader(bytes.NewReader([]byte{0, 0, 0, 4, 2, 0, 0, 0}), 0)
	var fe *FramingError
	if _, err := bad.ReadFrame(); !errors.As(err, &fe) {
		t.Errorf("frame size 4: %v, want a *FramingError", err)
	}
	short := NewFrameReader(bytes.NewReader(stream[:20]), 0)
	if _, err := short.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated frame: %v, want io.ErrUnexpectedEOF", err)
	}
}

func mustFrame(t *testing.T, f Frame) []byte {
	t.Helper()
	b, err := AppendFrame(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package frametrace

import (
	"bytes"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

func TestGarbage(t *testing.T) {
	var got lines
	raw, peer := net.Pipe()
	c := Wrap(raw, "g", got.add)
	garbage := []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n")
	go func() {
		writeChunks(t, peer, garbage, 5)
		writeChunks(t, peer, garbage, 64)
		peer.Close()
	}()
	if b := readAll(c, 7); !bytes.Equal(b, append(garbage[:len(garbage):len(garbage)], garbage...)) {
		t.Fatalf("read %q", b)
	}
	compareLines(t, got.get(), []string{
		`[g]: <- (undecodable: no AMQP protocol header; tracing of this direction stopped) 474554202f204854`,
	})
}

func TestUndecodableMidStream(t *testing.T) {
	s := &stream{t: t}
	s.header(codec.ProtoAMQP).
		frame(0, &codec.Open{ContainerID: "c"}).
		raw(0, 0, 0, 0x0b, 2, 0, 0, 0, 0x53, 0x10, 0xff).       // not a described value: framing intact
		raw(0, 0, 0, 0x0c, 2, 0, 0, 0, 0x00, 0x53, 0x10, 0xff). // a body that does not decode
		frame(0, &codec.Begin{IncomingWindow: 1}).
		raw(0, 0, 0, 5, 2, 0, 0, 0). // size below 8: framing lost
		frame(0, &codec.Close{})
	compareLines(t, trace(t, s.b), []string{
		`[r]: -> AMQP`,
		`[r]: AMQP:FRAME:0 -> @open(16) [container-id="c"]`,
		`[r]: AMQP:FRAME:0 -> (frame body is not a described performative) 5310ff`,
		`[r]: AMQP:FRAME:0 -> (undecodable frame body: amqp codec: decode error at offset 3: unknown format code 0xff) 005310ff`,
		`[r]: AMQP:FRAME:0 -> @begin(17) [next-outgoing-id=0x0, incoming-window=0x1, outgoing-window=0x0]`,
		`[r]: -> (undecodable: frame size 5 is below 8; tracing of this direction stopped) 0000000502000000`,
	})
}

func TestProtocolHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want []string
	}{
		{"TLS", append(codec.ProtoTLS[:], "\x16\x03\x01 client hello"...), []string{`[r]: -> TLS`}},
		{"version", []byte("AMQP\x00\x01\x00\x0a"), []string{`[r]: -> (undecodable: unsupported protocol header "AMQP\x00\x01\x00\n"; tracing of this direction stopped) 414d51500001000a`}},
		{"SASL then AMQP frame header", append(append(codec.ProtoSASL[:], codec.ProtoAMQP[:]...), codec.ProtoAMQP[:]...), []string{
			`[r]: -> SASL`, `[r]: -> AMQP`,
			`[r]: -> (undecodable: data offset 0 is below 2; tracing of this direction stopped) 414d515000010000`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compareLines(t, trace(t, tc.b), tc.want)
		})
	}
}

// A frame larger than what a direction buffers is traced from its start
// and the frames after it still decode.
func TestOversizedFrame(t *testing.T) {
	payload := bytes.Repeat([]byte{0xab}, 3*maxBuffered)
	s := &stream{t: t}
	s.header(codec.ProtoAMQP).
		frame(0, &codec.Transfer{Handle: 7}, payload...).
		frame(0, &codec.Close{})
	var got lines
	m := &memConn{r: s.b, chunk: 100_000}
	c := Wrap(m, "o", got.add)
	if b := readAll(c, 70_000); !bytes.Equal(b, s.b) {
		t.Fatal("read bytes changed by tracing")
	}
	compareLines(t, got.get(), []string{
		`[o]: <- AMQP`,
		`[o]: AMQP:FRAME:0 <- @transfer(20) [handle=0x7] (786432) "` + strings.Repeat(`\xab`, 64) + `"...`,
		`[o]: AMQP:FRAME:0 <- @close(24) []`,
	})
	if in := c.(*tracedConn).in; cap(in.buf) > keepBuffer {
		t.Errorf("buffer of %d bytes kept after the frame", cap(in.buf))
	}
}

// The max-frame-size a side announces bounds what the other side sends.
func TestMaxFrameSize(t *testing.T) {
	var got lines
	raw, peer := net.Pipe()
	c := Wrap(raw, "m", got.add)
	out := &stream{t: t}
	out.header(codec.ProtoAMQP).frame(0, &codec.Open{ContainerID: "c", MaxFrameSize: 512})
	in := &stream{t: t}
	in.header(codec.ProtoAMQP).frame(0, &codec.Transfer{Handle: 0}, make([]byte, 600)...)
	go func() {
		b := make([]byte, len(out.b))
		_, _ = peer.Read(b)
		writeChunks(t, peer, in.b, 1000)
		peer.Close()
	}()
	writeChunks(t, c, out.b, 1000)
	readAll(c, 1000)
	compareLines(t, got.get(), []string{
		`[m]: -> AMQP`,
		`[m]: AMQP:FRAME:0 -> @open(16) [container-id="c", max-frame-size=0x200]`,
		`[m]: <- AMQP`,
		`[m]: <- (undecodable: frame size 615 exceeds max-frame-size 512; tracing of this direction stopped) 0000026702000000`,
	})
}

// A sink that panics stops tracing; the connection does not notice.
func TestPanickingSink(t *testing.T) {
	m := &memConn{}
	c := Wrap(m, "p", func(string) { panic("sink") })
	s := &stream{t: t}
	s.header(codec.ProtoAMQP).frame(0, &codec.Open{ContainerID: "c"}).frame(0, &codec.Close{})
	writeChunks(t, c, s.b, 5)
	if !bytes.Equal(m.written.Bytes(), s.b) {
		t.Fatal("written bytes changed")
	}
	if d := c.(*tracedConn).out; !d.stopped {
		t.Error("direction not stopped after a panic")
	}
}

func TestEnabled(t *testing.T) {
	for v, want := range map[string]bool{
		"1": true, "true": true, "TRUE": true, "Yes": true, " 1 ": true,
		"": false, "0": false, "false": false, "no": false, "2": false,
	} {
		t.Setenv(EnvVar, v)
		if got := Enabled(); got != want {
			t.Errorf("PN_TRACE_FRM=%q: Enabled() = %v", v, got)
		}
	}
	os.Unsetenv(EnvVar)
	if Enabled() {
		t.Error("unset: Enabled() = true")
	}
}

func TestStderrWriter(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = f
	w := StderrWriter()
	w("[x]: -> AMQP")
	w("[x]: <- AMQP")
	os.Stderr = saved
	f.Close()
	b, _ := os.ReadFile(f.Name())
	if string(b) != "[x]: -> AMQP\n[x]: <- AMQP\n" {
		t.Errorf("stderr got %q", b)
	}
}

package frametrace

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

// trace returns the lines produced by writing b through a wrapped conn.
func trace(t *testing.T, b []byte) []string {
	t.Helper()
	var got lines
	m := &memConn{}
	c := Wrap(m, "r", got.add)
	writeChunks(t, c, b, 3)
	if m.written.String() != string(b) {
		t.Fatal("written bytes changed by tracing")
	}
	return got.get()
}

func assertAbsent(t *testing.T, out []string, secrets ...string) {
	t.Helper()
	all := strings.Join(out, "\n")
	for _, s := range secrets {
		for _, form := range []string{s, hex.EncodeToString([]byte(s))} {
			if strings.Contains(all, form) {
				t.Errorf("secret %q appears in the trace:\n%s", form, all)
			}
		}
	}
}

func TestRedactPlain(t *testing.T) {
	s := &stream{t: t}
	s.header(codec.ProtoSASL).frame(0, &codec.SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00user\x00s3cret")})
	out := trace(t, s.b)
	compareLines(t, out, []string{
		`[r]: -> SASL`,
		`[r]: SASL:FRAME:0 -> @sasl-init(65) [mechanism=:PLAIN, initial-response=<redacted>]`,
	})
	assertAbsent(t, out, "s3cret")
}

func TestRedactMechanisms(t *testing.T) {
	for _, tc := range []struct {
		name    string
		frames  []codec.Performative
		want    []string
		secrets []string
	}{
		{
			name:    "XOAUTH2",
			frames:  []codec.Performative{&codec.SASLInit{Mechanism: "XOAUTH2", InitialResponse: []byte("user=u\x01auth=Bearer tok123\x01\x01")}},
			want:    []string{`[r]: SASL:FRAME:0 -> @sasl-init(65) [mechanism=:XOAUTH2, initial-response=<redacted>]`},
			secrets: []string{"tok123", "Bearer"},
		},
		{
			name: "SCRAM",
			frames: []codec.Performative{
				&codec.SASLInit{Mechanism: "SCRAM-SHA-256", InitialResponse: []byte("n,,n=user,r=clientnonce")},
				&codec.SASLResponse{Response: []byte("c=biws,r=clientnonceserver,p=proofXYZ")},
			},
			want: []string{
				`[r]: SASL:FRAME:0 -> @sasl-init(65) [mechanism=:SCRAM-SHA-256, initial-response=<redacted>]`,
				`[r]: SASL:FRAME:0 -> @sasl-response(67) [response=<redacted>]`,
			},
			secrets: []string{"proofXYZ", "clientnonce"},
		},
		{
			name:    "unknown mechanism",
			frames:  []codec.Performative{&codec.SASLInit{Mechanism: "X-CUSTOM", InitialResponse: []byte("secret-thing"), Hostname: "h"}},
			want:    []string{`[r]: SASL:FRAME:0 -> @sasl-init(65) [mechanism=:X-CUSTOM, initial-response=<redacted>, hostname="h"]`},
			secrets: []string{"secret-thing"},
		},
		{
			name:   "ANONYMOUS is shown",
			frames: []codec.Performative{&codec.SASLInit{Mechanism: "ANONYMOUS", InitialResponse: []byte("trace@host")}},
			want:   []string{`[r]: SASL:FRAME:0 -> @sasl-init(65) [mechanism=:ANONYMOUS, initial-response=b"trace@host"]`},
		},
		{
			name:   "EXTERNAL is shown",
			frames: []codec.Performative{&codec.SASLInit{Mechanism: "EXTERNAL", InitialResponse: []byte{}}},
			want:   []string{`[r]: SASL:FRAME:0 -> @sasl-init(65) [mechanism=:EXTERNAL, initial-response=b""]`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &stream{t: t}
			s.header(codec.ProtoSASL)
			for _, f := range tc.frames {
				s.frame(0, f)
			}
			out := trace(t, s.b)
			compareLines(t, out, append([]string{`[r]: -> SASL`}, tc.want...))
			assertAbsent(t, out, tc.secrets...)
		})
	}
}

// Credentials stay hidden however the frame carrying them is malformed.
func TestRedactMalformed(t *testing.T) {
	sym := func(d string, v any) []byte {
		b, err := codec.Marshal(codec.Described{Descriptor: codec.Symbol(d), Value: v})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	num := func(code uint64, v any) []byte {
		b, err := codec.Marshal(codec.Described{Descriptor: code, Value: v})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	frame := func(typ byte, body []byte) []byte {
		n := 8 + len(body)
		return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 2, typ, 0, 0}, body...)
	}
	secret := []byte("\x00user\x00s3cret")
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"symbolic descriptor", frame(1, sym("amqp:sasl-init:list", codec.List{codec.Symbol("PLAIN"), secret})),
			`SASL:FRAME:0 -> @sasl-init(65) [mechanism=:PLAIN, initial-response=<redacted>]`},
		{"value not a list", frame(1, num(0x41, secret)), `SASL:FRAME:0 -> @sasl-init(65) <redacted>`},
		{"response not a list", frame(1, num(0x43, codec.Map{{Key: "p", Value: secret}})), `SASL:FRAME:0 -> @sasl-response(67) <redacted>`},
		{"mechanism not a symbol", frame(1, num(0x41, codec.List{"ANONYMOUS", secret})),
			`SASL:FRAME:0 -> @sasl-init(65) [mechanism="ANONYMOUS", initial-response=<redacted>]`},
		{"in an AMQP frame", frame(0, num(0x41, codec.List{codec.Symbol("PLAIN"), secret})),
			`AMQP:FRAME:0 -> @sasl-init(65) [mechanism=:PLAIN, initial-response=<redacted>]`},
		{"undecodable body", frame(1, append(num(0x41, codec.List{codec.Symbol("PLAIN"), secret})[:20], 0xff)),
			`SASL:FRAME:0 -> (undecodable frame body: amqp codec: decode error at offset 5: size 22 exceeds the 16 bytes left) 21 bytes not shown`},
		{"undecodable AMQP frame in the SASL layer", frame(0, append([]byte{0}, secret...)),
			`AMQP:FRAME:0 -> (undecodable frame body: amqp codec: decode error at offset 2: unknown format code 0x75) 13 bytes not shown`},
		{"trailing bytes", frame(1, append(num(0x41, codec.List{codec.Symbol("ANONYMOUS")}), secret...)),
			`SASL:FRAME:0 -> @sasl-init(65) [mechanism=:ANONYMOUS] (12)`},
		{"not described", frame(1, secret),
			`SASL:FRAME:0 -> (undecodable frame body: amqp codec: decode error at offset 1: unknown format code 0x75) 12 bytes not shown`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := trace(t, append(codec.ProtoSASL[:], tc.b...))
			compareLines(t, out, []string{`[r]: -> SASL`, `[r]: ` + tc.want})
			assertAbsent(t, out, "s3cret")
		})
	}
	t.Run("undecodable stream", func(t *testing.T) {
		b := append(codec.ProtoSASL[:], []byte("s3cret and more bytes")...)
		out := trace(t, b)
		compareLines(t, out, []string{
			`[r]: -> SASL`,
			`[r]: -> (undecodable: unknown frame type 116; tracing of this direction stopped) 8 bytes not shown`,
		})
		assertAbsent(t, out, "s3cret")
	})
}

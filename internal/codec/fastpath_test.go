package codec

import (
	"bytes"
	"reflect"
	"testing"
)

// fastSeeds are transfer and disposition bodies as peers encode them.
func fastSeeds(t testing.TB) [][]byte {
	id, id2, format, big := uint32(7), uint32(300), uint32(0), uint32(1<<20)
	perfs := []Performative{
		&Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{1, 2}, MessageFormat: &format},
		&Transfer{Handle: 3, DeliveryID: &big, DeliveryTag: bytes.Repeat([]byte{9}, 300), MessageFormat: &format, Settled: true, More: true},
		&Transfer{Handle: 1, More: true},
		&Transfer{Handle: 1, Aborted: true},
		&Transfer{Handle: 1, DeliveryID: &id, State: &Accepted{}, Resume: true, Batchable: true},
		&Transfer{Handle: 1, DeliveryID: &id, State: &Rejected{}},
		&Disposition{Role: RoleReceiver, First: 5, Settled: true, State: &Accepted{}},
		&Disposition{Role: RoleReceiver, First: 5, Last: &id2, Settled: true, State: &Accepted{}, Batchable: true},
		&Disposition{Role: RoleSender, First: 0},
		&Disposition{Role: RoleReceiver, First: 1, State: &Released{}},
	}
	var out [][]byte
	for _, p := range perfs {
		b, err := AppendFrame(nil, Frame{Type: FrameAMQP, Body: p, Payload: []byte("payload")})
		if _, isT := p.(*Transfer); !isT {
			b, err = AppendFrame(nil, Frame{Type: FrameAMQP, Body: p})
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[8:])
	}
	// Other encodings of the same fields: uint as 0x70, booleans as 0x56,
	// list32, accepted as an empty list8.
	out = append(out,
		h("00 53 14 c0 0e 05 70 00000001 70 00000002 a0 00 43"),
		h("00 53 14 d0 0000000b 00000004 52 01 40 a0 01 ff 43 aa bb"),
		h("00 53 15 c0 0d 05 41 52 03 40 56 01 00 53 24 c0 01 00"),
		h("00 53 15 c0 06 04 56 00 52 03 40 56 02"),
		h("00 53 14 c0 04 02 52 01 50 01"),
	)
	return out
}

// The fast paths decode exactly what the generic decoder does, or step
// aside.
func checkFastPath(t *testing.T, body []byte) {
	t.Helper()
	if len(body) == 0 {
		return // a heartbeat, before either decoder
	}
	got, gotPayload, err := DecodeFrameBody(FrameAMQP, body)
	want, wantPayload, wantErr := decodeFrameBodyGeneric(FrameAMQP, body)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("% x: error %v, generic decoder %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	if !reflect.DeepEqual(got, want) || !bytes.Equal(gotPayload, wantPayload) || (gotPayload == nil) != (wantPayload == nil) {
		t.Fatalf("% x:\n fast    %#v %q\n generic %#v %q", body, got, gotPayload, want, wantPayload)
	}
	// Decoded into the box a reusing FrameReader shares between frames:
	// nothing of the frame before may show through.
	reused, _, err := decodeFrameBody(FrameAMQP, body, &sharedBox)
	if err != nil || !reflect.DeepEqual(reused, want) {
		t.Fatalf("% x: into a reused box %#v, %v\n generic %#v", body, reused, err, want)
	}
}

// sharedBox is reused by every checkFastPath, as by a FrameReader after
// ReuseTransfers.
var sharedBox transferBox

func TestFastPathMatchesGeneric(t *testing.T) {
	hits := 0
	for _, body := range fastSeeds(t) {
		checkFastPath(t, body)
		if _, _, ok := fastTransfer(body, nil); ok {
			hits++
		}
		if _, ok := fastDisposition(body, nil); ok {
			hits++
		}
		// Every truncation and every single-byte change too.
		for i := range body {
			checkFastPath(t, body[:i])
			for _, c := range []byte{0x00, 0x01, 0x40, 0x41, 0x43, 0x52, 0x70, 0xa0, 0xc0, 0xff, body[i] + 1} {
				mut := bytes.Clone(body)
				mut[i] = c
				checkFastPath(t, mut)
			}
		}
	}
	if hits < 10 {
		t.Errorf("the fast paths took only %d of the seeds", hits)
	}
}

func FuzzFastPath(f *testing.F) {
	for _, b := range fastSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastPath(t, body)
	})
}

package codec

import (
	"bytes"
	"fmt"
	"testing"
)

// transferStream encodes n single-frame transfers, payload i being
// payloadOf(i).
func transferStream(t *testing.T, n int, payloadOf func(int) []byte) []byte {
	t.Helper()
	var stream []byte
	for i := range n {
		id, format := uint32(i), uint32(0)
		var err error
		stream, err = AppendFrame(stream, Frame{Type: FrameAMQP, Body: &Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{byte(i)}, MessageFormat: &format}, Payload: payloadOf(i)})
		if err != nil {
			t.Fatal(err)
		}
	}
	return stream
}

func TestPackPayloadsKeepsEachPayloadApart(t *testing.T) {
	sizes := []int{100, 0, 1, MaxPackedPayload, MaxPackedPayload + 1, 300, 3000, 200}
	payloadOf := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, sizes[i%len(sizes)]) }
	const n = 200 // several chunks
	fr := NewFrameReader(bytes.NewReader(transferStream(t, n, payloadOf)), 0)
	fr.ReuseTransfers()
	fr.PackPayloads()
	var got [][]byte
	for range n {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f.Payload)
	}
	// Appending to one payload (a message's next frame) must not write
	// over the payload read after it.
	for i := 0; i < n; i += 7 {
		_ = append(got[i], bytes.Repeat([]byte{'!'}, 64)...)
	}
	for i, p := range got {
		if want := payloadOf(i); !bytes.Equal(p, want) || cap(p) != len(p) {
			t.Fatalf("payload %d: %d bytes (cap %d), want %d bytes of %q", i, len(p), cap(p), len(want), want[:min(1, len(want))])
		}
	}
}

func TestPackPayloadsSharesAllocations(t *testing.T) {
	const n = 1000
	stream := transferStream(t, n, func(int) []byte { return bytes.Repeat([]byte{1}, 130) })
	read := func(pack bool) float64 {
		r := bytes.NewReader(stream)
		fr := NewFrameReader(r, 0)
		fr.ReuseTransfers()
		if pack {
			fr.PackPayloads()
		}
		if _, err := fr.ReadFrame(); err != nil { // the reader's buffer
			t.Fatal(err)
		}
		// n-2 counted calls and AllocsPerRun's warm-up call: n frames.
		return testing.AllocsPerRun(n-2, func() {
			if _, err := fr.ReadFrame(); err != nil {
				panic(fmt.Sprint(err))
			}
		})
	}
	if got := read(false); got != 1 {
		t.Errorf("without packing: %.2f allocations per 130-byte transfer, want 1", got)
	}
	if got := read(true); got > 0.1 {
		t.Errorf("packed: %.2f allocations per 130-byte transfer, want at most 1 per %d-byte chunk", got, PackChunk)
	}
}

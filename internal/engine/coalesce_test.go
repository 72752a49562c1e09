package engine

import (
	"bytes"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

// TestAcceptsCoalesced: accepted dispositions of consecutive deliveries
// queued while the writer is busy go out as one ranged disposition; any
// other frame, another channel, a gap or another outcome starts a new one.
func TestAcceptsCoalesced(t *testing.T) {
	c := &Conn{wsig: make(chan struct{}, 1)}
	accept := func(ch uint16, id uint32) {
		t.Helper()
		if err := c.sendLocked(ch, &codec.Disposition{Role: codec.RoleReceiver, First: id, Settled: true, State: &codec.Accepted{}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	accept(1, 5)
	accept(1, 6)
	accept(1, 7)
	accept(2, 8)  // another channel
	accept(2, 10) // a gap
	_ = c.sendLocked(2, &codec.Disposition{Role: codec.RoleReceiver, First: 11, Settled: true, State: &codec.Rejected{}}, nil)
	accept(2, 12)
	_ = c.sendLocked(2, &codec.Flow{IncomingWindow: 1}, nil)
	accept(2, 13)
	accept(2, 0xffffffff)
	accept(2, 0) // no range across the wrap

	type disp struct {
		ch          uint16
		first, last uint32
		accepted    bool
	}
	var got []disp
	r := bytes.NewReader(c.wbuf)
	for r.Len() > 0 {
		f, err := codec.ReadFrame(r, 0)
		if err != nil {
			t.Fatal(err)
		}
		d, ok := f.Body.(*codec.Disposition)
		if !ok {
			got = append(got, disp{ch: f.Channel})
			continue
		}
		last := d.First
		if d.Last != nil {
			last = *d.Last
		}
		_, acc := d.State.(*codec.Accepted)
		if !d.Settled || d.Role != codec.RoleReceiver {
			t.Errorf("disposition %+v", d)
		}
		got = append(got, disp{f.Channel, d.First, last, acc})
	}
	want := []disp{
		{1, 5, 7, true}, {2, 8, 8, true}, {2, 10, 10, true}, {2, 11, 11, false}, {2, 12, 12, true},
		{2, 0, 0, false}, // the flow
		{2, 13, 13, true}, {2, 0xffffffff, 0xffffffff, true}, {2, 0, 0, true},
	}
	if len(got) != len(want) {
		t.Fatalf("frames %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Once the writer took the buffer, nothing is merged into frames
	// already written.
	c.wmu.Lock()
	c.wbuf, c.wdisp = c.wbuf[:0], accepts{}
	c.wmu.Unlock()
	accept(2, 1)
	if f, err := codec.ReadFrame(bytes.NewReader(c.wbuf), 0); err != nil || f.Body.(*codec.Disposition).Last != nil {
		t.Errorf("after a write: %+v, %v", f.Body, err)
	}
}

package server

import (
	"context"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

// TestRangeDispositionSignalsOnceCounted: a disposition settling a range of
// deliveries wakes the Sender's Settlements after every delivery of the
// range is counted, so a handler that waits until SettledCount reaches what
// it sent is not left waiting for a signal that already went. Each round
// sends a batch and has the peer settle it with one disposition.
func TestRangeDispositionSignalsOnceCounted(t *testing.T) {
	const batch, rounds = 500, 20
	done := make(chan uint64, 1)
	h := HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *Sender) {
		var sent uint64
		for range rounds {
			for range batch {
				if _, err := s.Send(ctx, &codec.Message{Value: "m", HasValue: true}, false); err != nil {
					return
				}
				sent++
			}
			for s.SettledCount() < sent {
				select {
				case <-s.Settlements():
				case <-ctx.Done():
					return
				}
			}
		}
		done <- s.SettledCount()
		<-ctx.Done()
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	r := rawDial(t, srv)
	r.open(0)
	r.send(0, &codec.Begin{IncomingWindow: batch * rounds, OutgoingWindow: 1000}, nil)
	expect[*codec.Begin](r)
	r.send(0, &codec.Attach{Name: "range", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Address: "q"}}, nil)
	expect[*codec.Attach](r)
	r.send(0, &codec.Flow{Handle: u32(0), IncomingWindow: batch * rounds, OutgoingWindow: 1000, LinkCredit: u32(batch * rounds), DeliveryCount: u32(0), NextIncomingID: u32(0)}, nil)

	var next uint32
	for range rounds {
		first := next
		for range batch {
			tr := expect[*codec.Transfer](r)
			if tr.DeliveryID == nil || *tr.DeliveryID != next {
				t.Fatalf("transfer with delivery-id %v, want %d", tr.DeliveryID, next)
			}
			next++
		}
		r.send(0, &codec.Disposition{Role: codec.RoleReceiver, First: first, Last: u32(next - 1), Settled: true, State: &codec.Accepted{}}, nil)
	}
	select {
	case n := <-done:
		if n != batch*rounds {
			t.Fatalf("SettledCount %d, want %d", n, batch*rounds)
		}
	case <-testCtx(t).Done():
		t.Fatal("the handler still waits for a settlement signal: a range disposition signalled before it was counted")
	}
}

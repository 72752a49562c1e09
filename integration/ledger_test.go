//go:build integration

package integration

// A ledger of what a producer was told and what a consumer got, for the
// tests that crash a broker: every message whose Send returned nil must be
// received; duplicates are counted and reported.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

type ledger struct {
	mu       sync.Mutex
	issued   map[int]time.Time // seq -> when SendAsync returned
	accepted map[int]time.Time // seq -> when its outcome (accepted) came
	received map[int]int       // seq -> how many times it arrived
	done     bool              // the producer has returned

	mark    int           // when this many are accepted,
	reached chan struct{} // this is closed
}

// newLedger returns a ledger whose reached channel closes once mark
// messages are accepted.
func newLedger(mark int) *ledger {
	return &ledger{issued: map[int]time.Time{}, accepted: map[int]time.Time{}, received: map[int]int{},
		mark: mark, reached: make(chan struct{})}
}

// awaitMark waits until the ledger's mark of messages is accepted, and
// fails t when the producer ends first (its error on produced) or ctx ends.
func (l *ledger) awaitMark(ctx context.Context, t testing.TB, produced <-chan error) {
	t.Helper()
	select {
	case <-l.reached:
	case err := <-produced:
		t.Fatalf("the producer ended before %d were accepted: %v", l.mark, err)
	case <-ctx.Done():
		t.Fatalf("%d messages not accepted in time", l.mark)
	}
}

// seqMessage is message seq of a ledger run: durable, numbered.
func seqMessage(seq int) *amq.Message {
	m := amq.NewMessage(fmt.Sprintf("m %d", seq))
	m.Durable = true
	m.Properties = map[string]any{"seq": int64(seq)}
	return m
}

// produce sends messages from..to-1 with at most window outcomes
// outstanding, and records each one whose outcome is accepted. It returns
// the first error (an unaccepted outcome is one: with reconnect on, amq
// hides a lost connection from the sender).
func (l *ledger) produce(ctx context.Context, s *amq.Sender, from, to, window int) error {
	type pending struct {
		seq int
		r   *amq.Receipt
	}
	inflight := make(chan pending, window)
	errc := make(chan error, 1)
	go func() {
		var first error
		for p := range inflight {
			if first != nil {
				continue
			}
			if err := p.r.Wait(ctx); err != nil {
				first = fmt.Errorf("outcome of message %d: %w", p.seq, err)
				continue
			}
			l.mu.Lock()
			l.accepted[p.seq] = time.Now()
			if len(l.accepted) == l.mark {
				close(l.reached)
			}
			l.mu.Unlock()
		}
		errc <- first
	}()
	var sendErr error
	for seq := from; seq < to; seq++ {
		r, err := s.SendAsync(ctx, seqMessage(seq))
		if err != nil {
			sendErr = fmt.Errorf("SendAsync %d: %w", seq, err)
			break
		}
		l.mu.Lock()
		l.issued[seq] = time.Now()
		l.mu.Unlock()
		inflight <- pending{seq, r}
	}
	close(inflight)
	if err := <-errc; err != nil {
		return err
	}
	return sendErr
}

// consume records what r delivers until every accepted message has arrived
// or ctx ends; then it keeps reading for quiet to count late duplicates.
func (l *ledger) consume(ctx context.Context, r *amq.Receiver, quiet time.Duration) error {
	for {
		if l.missingCount() == 0 && l.producerDone() {
			break
		}
		// A bounded receive, so that the end of the producer is noticed
		// when nothing is left to arrive.
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		d, err := r.Receive(rctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			return fmt.Errorf("receive with %d accepted messages missing: %w", l.missingCount(), err)
		}
		l.record(d)
	}
	for {
		qctx, cancel := context.WithTimeout(ctx, quiet)
		d, err := r.Receive(qctx)
		cancel()
		if err != nil {
			return nil // quiet: nothing more
		}
		l.record(d)
	}
}

// producerDone reports whether setProducerDone was called: until then more
// accepted messages may come.
func (l *ledger) producerDone() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

func (l *ledger) setProducerDone() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}

func (l *ledger) record(d *amq.Delivery) {
	seq, _ := d.Message.Properties["seq"].(int64)
	l.mu.Lock()
	l.received[int(seq)]++
	l.mu.Unlock()
}

func (l *ledger) missingCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for seq := range l.accepted {
		if l.received[seq] == 0 {
			n++
		}
	}
	return n
}

// ledgerReport is what a crash test measures.
type ledgerReport struct {
	Accepted, Received, Lost, Duplicates int
	// UnacceptedReceived are messages that arrived though their Send had
	// not returned nil (in flight at the crash): allowed.
	UnacceptedReceived int
	// LostSeqs are the first few lost sequence numbers.
	LostSeqs []int
}

func (l *ledger) report() ledgerReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r ledgerReport
	r.Accepted = len(l.accepted)
	for seq := range l.accepted {
		if l.received[seq] == 0 {
			r.Lost++
			r.LostSeqs = append(r.LostSeqs, seq)
		}
	}
	sort.Ints(r.LostSeqs)
	if len(r.LostSeqs) > 10 {
		r.LostSeqs = r.LostSeqs[:10]
	}
	for seq, k := range l.received {
		r.Received++
		r.Duplicates += k - 1
		if _, ok := l.accepted[seq]; !ok {
			r.UnacceptedReceived++
		}
	}
	return r
}

func (r ledgerReport) String() string {
	return fmt.Sprintf("%d accepted, %d distinct received, %d lost, %d duplicates, %d received without an accepted outcome",
		r.Accepted, r.Received, r.Lost, r.Duplicates, r.UnacceptedReceived)
}

// issuedBefore is the number of messages whose SendAsync returned before t.
func (l *ledger) issuedBefore(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.issued {
		if at.Before(t) {
			n++
		}
	}
	return n
}

// acceptedCount is how many outcomes have come so far.
func (l *ledger) acceptedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

// firstAcceptedIssuedAfter is when the first message whose SendAsync
// returned after t was accepted: the moment sending works again after a
// crash at t. Zero if none.
func (l *ledger) firstAcceptedIssuedAfter(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for seq, at := range l.issued {
		if !at.After(t) {
			continue
		}
		if acc, ok := l.accepted[seq]; ok && (first.IsZero() || acc.Before(first)) {
			first = acc
		}
	}
	return first
}

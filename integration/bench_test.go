//go:build integration

package integration

// Broker throughput, measured and never asserted: 100-byte messages through
// the embedded broker and the Qpid Proton C example broker, with raw
// go-amqp as the client on both sides, so that the figures compare the
// brokers and nothing else.
//
//	go test -tags integration -run '^$' -bench BrokerThroughput -benchtime 20000x ./integration/

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/amqtest"
)

const (
	throughputBody   = 100  // bytes per message body
	throughputWindow = 1000 // unsettled sends in flight, and receiver credit
)

// throughputBrokers are the brokers compared: name and a function giving a
// URL to dial (raw go-amqp, credentials included).
var throughputBrokers = []struct {
	name string
	url  func(tb testing.TB) string
}{
	{"embedded", func(tb testing.TB) string {
		return amqtest.NewBroker(tb, amqtest.WithMaxQueueMessages(-1)).URL()
	}},
	{"proton-c", func(tb testing.TB) string { return getPeer(tb, "proton-c").URL }},
}

// throughputRig is one sender and one receiver, each on its own connection,
// attached to the same fresh queue.
type throughputRig struct {
	snd *amqp.Sender
	rcv *amqp.Receiver
}

func newThroughputRig(tb testing.TB, url string) *throughputRig {
	tb.Helper()
	addr := uniqueName(tb)
	_, rs := rawSession(tb, url, nil)
	rcv := rawReceiver(tb, rs, addr, &amqp.ReceiverOptions{Credit: throughputWindow})
	_, ss := rawSession(tb, url, nil)
	snd := rawSender(tb, ss, addr, nil)
	return &throughputRig{snd: snd, rcv: rcv}
}

// run pushes n messages, numbered from first, through the broker: the
// sender pipelines with at most throughputWindow receipts outstanding
// (each must come back accepted), the receiver accepts every message and
// checks each number arrives exactly once. It returns the time from the
// first send to the last message received.
func (r *throughputRig) run(ctx context.Context, first, n int) (time.Duration, error) {
	start := time.Now()
	sendErr := make(chan error, 1)
	go func() {
		sem := make(chan struct{}, throughputWindow)
		receipts := make(chan amqp.SendReceipt, throughputWindow)
		var wg sync.WaitGroup
		var outcomeErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rc := range receipts {
				st, err := rc.Wait(ctx)
				<-sem
				if outcomeErr != nil {
					continue
				}
				if err != nil {
					outcomeErr = err
				} else if _, ok := st.(*amqp.StateAccepted); !ok {
					outcomeErr = fmt.Errorf("outcome %T, want accepted", st)
				}
			}
		}()
		var err error
		body := make([]byte, throughputBody)
		for i := first; i < first+n && err == nil; i++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				err = ctx.Err()
				continue
			}
			binary.BigEndian.PutUint64(body, uint64(i))
			var rc amqp.SendReceipt
			// go-amqp copies the body when it encodes the transfer.
			rc, err = r.snd.SendWithReceipt(ctx, amqp.NewMessage(body), nil)
			if err != nil {
				<-sem
				err = fmt.Errorf("send %d: %w", i, err)
				continue
			}
			receipts <- rc
		}
		close(receipts)
		wg.Wait()
		sendErr <- errors.Join(err, outcomeErr)
	}()

	seen := make([]bool, n)
	var recvErr error
	for got := 0; got < n; got++ {
		m, err := r.rcv.Receive(ctx, nil)
		if err != nil {
			recvErr = fmt.Errorf("receive %d of %d: %w", got, n, err)
			break
		}
		data := m.GetData()
		if len(data) != throughputBody {
			recvErr = fmt.Errorf("message of %d bytes, want %d", len(data), throughputBody)
			break
		}
		i := int(binary.BigEndian.Uint64(data)) - first
		if i < 0 || i >= n || seen[i] {
			recvErr = fmt.Errorf("message number %d unexpected or seen twice", i+first)
			break
		}
		seen[i] = true
		if err := r.rcv.AcceptMessage(ctx, m); err != nil {
			recvErr = fmt.Errorf("accept: %w", err)
			break
		}
	}
	elapsed := time.Since(start)
	return elapsed, errors.Join(recvErr, <-sendErr)
}

// BenchmarkBrokerThroughput reports each broker's msgs/s for b.N messages.
func BenchmarkBrokerThroughput(b *testing.B) {
	for _, br := range throughputBrokers {
		b.Run(br.name, func(b *testing.B) {
			rig := newThroughputRig(b, br.url(b))
			ctx := testCtx(b, 10*time.Minute)
			// Warm up the links and the broker's queue.
			if _, err := rig.run(ctx, 0, throughputWindow); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			elapsed, err := rig.run(ctx, throughputWindow, b.N)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// TestBrokerThroughputRatio runs the benchmark's workload for a fixed count
// against both brokers in the same run and logs the rates and their ratio.
// Speed is measured, never asserted: the test fails only when a message is
// lost, duplicated or not accepted.
func TestBrokerThroughputRatio(t *testing.T) {
	const n = 50000
	rates := map[string]float64{}
	for _, br := range throughputBrokers {
		t.Run(br.name, func(t *testing.T) {
			rig := newThroughputRig(t, br.url(t))
			ctx := testCtx(t, 5*time.Minute)
			elapsed, err := rig.run(ctx, 0, n)
			if err != nil {
				t.Fatal(err)
			}
			rates[br.name] = float64(n) / elapsed.Seconds()
			t.Logf("%s: %d messages of %d bytes in %v: %.0f msgs/s", br.name, n, throughputBody, elapsed.Round(time.Millisecond), rates[br.name])
		})
	}
	if e, p := rates["embedded"], rates["proton-c"]; e > 0 && p > 0 {
		t.Logf("embedded / proton-c throughput ratio: %.2f (%.0f vs %.0f msgs/s, race detector %s)", e/p, e, p, raceState)
	}
}

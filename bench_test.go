package amq_test

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// The benchmarks put amq beside raw go-amqp on the same embedded broker in
// the same run, so that their ratio is what the facade costs (or saves).
// Compare with: go test -run '^$' -bench 'Send|Receive' -benchmem .
//
// Besides ns/op each reports cpu-ns/op, the CPU time of the whole process
// (client, broker and runtime) per message: on a shared machine it moves
// far less than the wall time, and it is what the facade adds or removes.

const benchBodySize = 100

func benchBroker(b *testing.B) *amqtest.Broker {
	return amqtest.NewBroker(b, amqtest.WithMaxQueueMessages(-1), amqtest.WithMaxQueueBytes(-1))
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure resets the timer and returns the function that reports
// cpu-ns/op at the end of the timed loop.
func measure(b *testing.B) func() {
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

// parallel runs op b.N times in total over n goroutines.
func parallel(b *testing.B, n int, op func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// pipeline keeps up to inFlight sends awaiting their outcome: send starts
// one, and a second goroutine waits for the outcomes in order.
func pipeline[R any](b *testing.B, inFlight int, send func() (R, error), wait func(R) error) {
	window := make(chan R, inFlight)
	done := make(chan error, 1)
	go func() {
		for r := range window {
			if err := wait(r); err != nil {
				done <- err
				for range window {
				}
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		r, err := send()
		if err != nil {
			close(window)
			b.Fatal(err)
		}
		window <- r
	}
	close(window)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSend: blocking sends from 1 and 64 goroutines, 256 unsettled
// sends in flight with receipts, and pre-settled sends.
func BenchmarkSend(b *testing.B) {
	body := make([]byte, benchBodySize)
	ctx := context.Background()
	for _, goroutines := range []int{1, 64} {
		name := "blocking"
		if goroutines > 1 {
			name = "blocking-64"
		}
		b.Run("amq/"+name, func(b *testing.B) {
			s := amqSender(b, benchBroker(b), nil)
			defer measure(b)()
			parallel(b, goroutines, func() error { return s.Send(ctx, amq.NewMessage(body)) })
		})
		b.Run("raw/"+name, func(b *testing.B) {
			s := rawSender(b, benchBroker(b))
			defer measure(b)()
			parallel(b, goroutines, func() error { return s.Send(ctx, amqp.NewMessage(body), nil) })
		})
	}
	const inFlight = 256
	b.Run("amq/receipts", func(b *testing.B) {
		s := amqSender(b, benchBroker(b), nil)
		defer measure(b)()
		pipeline(b, inFlight,
			func() (*amq.Receipt, error) { return s.SendAsync(ctx, amq.NewMessage(body)) },
			func(r *amq.Receipt) error { return r.Wait(ctx) })
	})
	b.Run("raw/receipts", func(b *testing.B) {
		s := rawSender(b, benchBroker(b))
		defer measure(b)()
		pipeline(b, inFlight,
			func() (amqp.SendReceipt, error) { return s.SendWithReceipt(ctx, amqp.NewMessage(body), nil) },
			func(r amqp.SendReceipt) error { _, err := r.Wait(ctx); return err })
	})
	b.Run("amq/presettled", func(b *testing.B) {
		s := amqSender(b, benchBroker(b), &amq.SenderOptions{Presettled: true})
		defer measure(b)()
		for range b.N {
			if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw/presettled", func(b *testing.B) {
		s := rawSender(b, benchBroker(b))
		settled := &amqp.SendOptions{Settled: true}
		defer measure(b)()
		for range b.N {
			if err := s.Send(ctx, amqp.NewMessage(body), settled); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReceive receives b.N messages queued beforehand, accepting
// each: amq with auto-accept over Deliveries and with Receive, raw go-amqp
// with Receive and AcceptMessage, all with a credit window of 1000.
func BenchmarkReceive(b *testing.B) {
	const credit = 1000
	ctx := context.Background()
	amqReceiver := func(b *testing.B) *amq.Receiver {
		br := benchBroker(b)
		fill(b, br)
		c, err := amq.Dial(ctx, br.URL(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		r, err := c.NewReceiver(ctx, "bench", &amq.ReceiverOptions{Credit: credit})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	b.Run("amq/auto-accept", func(b *testing.B) {
		r := amqReceiver(b)
		defer measure(b)()
		deliveries := r.Deliveries()
		for range b.N {
			if _, ok := <-deliveries; !ok {
				b.Fatal(r.Err())
			}
		}
	})
	b.Run("amq/receive", func(b *testing.B) {
		r := amqReceiver(b)
		defer measure(b)()
		for range b.N {
			if _, err := r.Receive(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw/accept", func(b *testing.B) {
		br := benchBroker(b)
		fill(b, br)
		c, err := amqp.Dial(ctx, br.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		sess, err := c.NewSession(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		r, err := sess.NewReceiver(ctx, "bench", &amqp.ReceiverOptions{Credit: credit})
		if err != nil {
			b.Fatal(err)
		}
		defer measure(b)()
		for range b.N {
			m, err := r.Receive(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.AcceptMessage(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fill queues b.N messages at "bench" on br, untimed.
func fill(b *testing.B, br *amqtest.Broker) {
	b.StopTimer()
	defer b.StartTimer()
	s := amqSender(b, br, nil)
	body := make([]byte, benchBodySize)
	ctx := context.Background()
	pipeline(b, 1000,
		func() (*amq.Receipt, error) { return s.SendAsync(ctx, amq.NewMessage(body)) },
		func(r *amq.Receipt) error { return r.Wait(ctx) })
	if err := s.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

func amqSender(b *testing.B, br *amqtest.Broker, opts *amq.SenderOptions) *amq.Sender {
	ctx := context.Background()
	c, err := amq.Dial(ctx, br.URL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	s, err := c.NewSender(ctx, "bench", opts)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func rawSender(b *testing.B, br *amqtest.Broker) *amqp.Sender {
	ctx := context.Background()
	c, err := amqp.Dial(ctx, br.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	sess, err := c.NewSession(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	// Mixed, as amq's senders are, so that one link can send both ways.
	mixed := amqp.SenderSettleModeMixed
	s, err := sess.NewSender(ctx, "bench", &amqp.SenderOptions{SettlementMode: &mixed})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

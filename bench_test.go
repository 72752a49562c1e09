package amq_test

import (
	"context"
	"testing"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// The benchmarks put amq beside raw go-amqp on the same embedded broker in
// the same run, so that their ratio is what the facade costs (or saves).
// Compare with: go test -run '^$' -bench 'Send' -benchmem .

const benchBodySize = 100

func benchBroker(b *testing.B) *amqtest.Broker {
	return amqtest.NewBroker(b, amqtest.WithMaxQueueMessages(-1), amqtest.WithMaxQueueBytes(-1))
}

func BenchmarkSend(b *testing.B) {
	body := make([]byte, benchBodySize)
	b.Run("amq/blocking", func(b *testing.B) {
		s := amqSender(b, benchBroker(b))
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw/blocking", func(b *testing.B) {
		s := rawSender(b, benchBroker(b))
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := s.Send(ctx, amqp.NewMessage(body), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	const inFlight = 256
	b.Run("amq/receipts", func(b *testing.B) {
		s := amqSender(b, benchBroker(b))
		ctx := context.Background()
		window := make(chan *amq.Receipt, inFlight)
		b.ReportAllocs()
		b.ResetTimer()
		done := make(chan error, 1)
		go func() {
			for r := range window {
				if err := r.Wait(ctx); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for range b.N {
			r, err := s.SendAsync(ctx, amq.NewMessage(body))
			if err != nil {
				b.Fatal(err)
			}
			window <- r
		}
		close(window)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	})
	b.Run("raw/receipts", func(b *testing.B) {
		s := rawSender(b, benchBroker(b))
		ctx := context.Background()
		window := make(chan amqp.SendReceipt, inFlight)
		b.ReportAllocs()
		b.ResetTimer()
		done := make(chan error, 1)
		go func() {
			for r := range window {
				if _, err := r.Wait(ctx); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for range b.N {
			r, err := s.SendWithReceipt(ctx, amqp.NewMessage(body), nil)
			if err != nil {
				b.Fatal(err)
			}
			window <- r
		}
		close(window)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	})
}

func amqSender(b *testing.B, br *amqtest.Broker) *amq.Sender {
	ctx := context.Background()
	c, err := amq.Dial(ctx, br.URL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	s, err := c.NewSender(ctx, "bench", nil)
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
	s, err := sess.NewSender(ctx, "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

//go:build integration

package integration

// Smoke tests of every peer with raw go-amqp (the engine under amq): they
// prove the peers and the harness independently of the facade, and pin down
// the peers' quirks that amq has to live with.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/goamqpws"
)

// rawSession dials p and opens one session; both are closed by t.Cleanup.
func rawSession(t testing.TB, url string, opts *amqp.ConnOptions) (*amqp.Conn, *amqp.Session) {
	t.Helper()
	ctx := testCtx(t, 15*time.Second)
	c, err := goamqpws.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("session on %s: %v", url, err)
	}
	return c, s
}

func rawSender(t testing.TB, s *amqp.Session, addr string, opts *amqp.SenderOptions) *amqp.Sender {
	t.Helper()
	snd, err := s.NewSender(testCtx(t, 15*time.Second), addr, opts)
	if err != nil {
		t.Fatalf("attach sender to %q: %v", addr, err)
	}
	// No link Close in cleanup: the connection's close ends the link, and
	// RabbitMQ 3.10 never completes a link close (see TestQuirks).
	return snd
}

func rawReceiver(t testing.TB, s *amqp.Session, addr string, opts *amqp.ReceiverOptions) *amqp.Receiver {
	t.Helper()
	r, err := s.NewReceiver(testCtx(t, 15*time.Second), addr, opts)
	if err != nil {
		t.Fatalf("attach receiver to %q: %v", addr, err)
	}
	return r
}

// sendN sends n messages "<prefix> i" with application property seq=i,
// pipelined, and checks every outcome is accepted (unless presettled).
func sendN(ctx context.Context, snd *amqp.Sender, prefix string, n int, presettled bool) error {
	if presettled {
		for i := 0; i < n; i++ {
			if err := snd.Send(ctx, seqMsg(prefix, i), &amqp.SendOptions{Settled: true}); err != nil {
				return fmt.Errorf("send %d: %w", i, err)
			}
		}
		return nil
	}
	receipts := make(chan amqp.SendReceipt, 512)
	errc := make(chan error, 1)
	go func() {
		var first error
		for r := range receipts {
			if first != nil {
				continue
			}
			st, err := r.Wait(ctx)
			if err != nil {
				first = err
				continue
			}
			if _, ok := st.(*amqp.StateAccepted); !ok {
				first = fmt.Errorf("outcome %T %+v, want accepted", st, st)
			}
		}
		errc <- first
	}()
	var sendErr error
	for i := 0; i < n; i++ {
		r, err := snd.SendWithReceipt(ctx, seqMsg(prefix, i), nil)
		if err != nil {
			sendErr = fmt.Errorf("send %d: %w", i, err)
			break
		}
		receipts <- r
	}
	close(receipts)
	return errors.Join(sendErr, <-errc)
}

func seqMsg(prefix string, i int) *amqp.Message {
	m := amqp.NewMessage([]byte(fmt.Sprintf("%s %d", prefix, i)))
	m.ApplicationProperties = map[string]any{"seq": int64(i)}
	return m
}

// receiveN receives n messages and checks they are "<prefix> 0..n-1" in
// order (one producer, one queue: brokers keep FIFO order).
func receiveN(ctx context.Context, r *amqp.Receiver, prefix string, n int, accept bool) error {
	for i := 0; i < n; i++ {
		m, err := r.Receive(ctx, nil)
		if err != nil {
			return fmt.Errorf("receive %d of %d: %w", i, n, err)
		}
		if want := fmt.Sprintf("%s %d", prefix, i); string(m.GetData()) != want {
			return fmt.Errorf("message %d: body %q, want %q", i, m.GetData(), want)
		}
		if accept {
			if err := r.AcceptMessage(ctx, m); err != nil {
				return fmt.Errorf("accept %d: %w", i, err)
			}
		}
	}
	return nil
}

// expectNothing checks that no message arrives on r within d: used after
// an outcome that must not redeliver. A bounded wait is the assertion here.
func expectNothing(t testing.TB, r *amqp.Receiver, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := r.Receive(ctx, nil)
	if err == nil {
		t.Fatalf("unexpected message %q", m.GetData())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive: %v", err)
	}
}

func TestRawConnect(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		ctx := testCtx(t, 15*time.Second)
		c, err := goamqpws.Dial(ctx, p.URL, &amqp.ConnOptions{ContainerID: "amq-it-connect"})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		s, err := c.NewSession(ctx, nil)
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("session close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	})
}

func TestRawSendReceive1000(t *testing.T) {
	const n = 1000
	for _, presettled := range []bool{false, true} {
		t.Run(fmt.Sprintf("presettled=%v", presettled), func(t *testing.T) {
			eachPeer(t, func(t *testing.T, p *Peer) {
				p.Require(t, FeatExactCredit)
				ctx := testCtx(t, 2*time.Minute)
				_, s := rawSession(t, p.URL, nil)
				addr := p.Queue(uniqueName(t))
				snd := rawSender(t, s, addr, nil)
				rcvOpts := &amqp.ReceiverOptions{Credit: 100}
				r := rawReceiver(t, s, addr, rcvOpts)
				var wg sync.WaitGroup
				var sendErr error
				wg.Add(1)
				go func() {
					defer wg.Done()
					sendErr = sendN(ctx, snd, "m", n, presettled)
				}()
				recvErr := receiveN(ctx, r, "m", n, true)
				wg.Wait()
				if sendErr != nil || recvErr != nil {
					t.Fatalf("send: %v; receive: %v", sendErr, recvErr)
				}
				expectNothing(t, r, 300*time.Millisecond)
			})
		})
	}
}

func TestRawOutcomes(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatOutcomes)
		ctx := testCtx(t, time.Minute)
		_, s := rawSession(t, p.URL, nil)
		addr := p.Queue(uniqueName(t))
		snd := rawSender(t, s, addr, nil)
		r := rawReceiver(t, s, addr, &amqp.ReceiverOptions{Credit: 10})

		// release: redelivered, delivery-count unchanged.
		if err := snd.Send(ctx, seqMsg("r", 0), nil); err != nil {
			t.Fatal(err)
		}
		m, err := r.Receive(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.ReleaseMessage(ctx, m); err != nil {
			t.Fatalf("release: %v", err)
		}
		m, err = r.Receive(ctx, nil)
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		if string(m.GetData()) != "r 0" {
			t.Fatalf("after release got %q", m.GetData())
		}
		t.Logf("%s: delivery-count after release: %d", p.Name, headerCount(m))

		if !p.Has(FeatModify) {
			t.Logf("%s: modify not tested: %s", p.Name, p.Missing[FeatModify])
			if err := r.RejectMessage(ctx, m, nil); err != nil {
				t.Fatalf("reject: %v", err)
			}
			expectNothing(t, r, 500*time.Millisecond)
			return
		}
		// modify(delivery-failed): redelivered with delivery-count bumped.
		before := headerCount(m)
		if err := r.ModifyMessage(ctx, m, &amqp.ModifyMessageOptions{DeliveryFailed: true}); err != nil {
			t.Fatalf("modify: %v", err)
		}
		m, err = r.Receive(ctx, nil)
		if err != nil {
			t.Fatalf("after modify: %v", err)
		}
		if string(m.GetData()) != "r 0" {
			t.Fatalf("after modify got %q", m.GetData())
		}
		if headerCount(m) <= before {
			t.Errorf("%s: delivery-count %d after modify(delivery-failed), want > %d", p.Name, headerCount(m), before)
		}

		// reject: gone for good.
		if err := r.RejectMessage(ctx, m, &amqp.Error{Condition: "amqp:precondition-failed", Description: "test rejects"}); err != nil {
			t.Fatalf("reject: %v", err)
		}
		expectNothing(t, r, 500*time.Millisecond)

		// accept after all that still works on a fresh message.
		if err := snd.Send(ctx, seqMsg("a", 0), nil); err != nil {
			t.Fatal(err)
		}
		if err := receiveN(ctx, r, "a", 1, true); err != nil {
			t.Fatal(err)
		}
	})
}

func headerCount(m *amqp.Message) uint32 {
	if m.Header == nil {
		return 0
	}
	return m.Header.DeliveryCount
}

func TestRawRejectedSend(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatRejectAddress)
		ctx := testCtx(t, 30*time.Second)
		_, s := rawSession(t, p.URL, nil)
		snd := rawSender(t, s, p.RejectAddress, nil)
		err := snd.Send(ctx, seqMsg("x", 0), nil)
		var ae *amqp.Error
		if !errors.As(err, &ae) {
			t.Fatalf("send to %s: %v (%T), want rejected with an *amqp.Error", p.RejectAddress, err, err)
		}
		if ae.Condition != "amqp:precondition-failed" {
			t.Fatalf("condition %q, want amqp:precondition-failed", ae.Condition)
		}
	})
}

// TestRawQueueVsTopic: two receivers on a queue compete (each message once);
// two subscribers on a topic each get every message.
func TestRawQueueVsTopic(t *testing.T) {
	const n = 20
	eachPeer(t, func(t *testing.T, p *Peer) {
		t.Run("queue", func(t *testing.T) {
			ctx := testCtx(t, time.Minute)
			_, s := rawSession(t, p.URL, nil)
			addr := p.Queue(uniqueName(t))
			caps := &amqp.ReceiverOptions{Credit: 5, SourceCapabilities: []string{"queue"}}
			r1 := rawReceiver(t, s, addr, caps)
			r2 := rawReceiver(t, s, addr, caps)
			snd := rawSender(t, s, addr, &amqp.SenderOptions{TargetCapabilities: []string{"queue"}})
			if err := sendN(ctx, snd, "q", n, false); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			counts := make([]int, 2)
			collect := func(i int, r *amqp.Receiver) {
				defer wg.Done()
				for {
					c, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
					m, err := r.Receive(c, nil)
					cancel()
					if err != nil {
						return
					}
					r.AcceptMessage(ctx, m)
					mu.Lock()
					seen[string(m.GetData())]++
					counts[i]++
					mu.Unlock()
				}
			}
			wg.Add(2)
			go collect(0, r1)
			go collect(1, r2)
			wg.Wait()
			if len(seen) != n {
				t.Fatalf("queue: %d distinct messages, want %d", len(seen), n)
			}
			for b, c := range seen {
				if c != 1 {
					t.Fatalf("queue: %q delivered %d times", b, c)
				}
			}
			t.Logf("%s: competing consumers got %v", p.Name, counts)
		})
		t.Run("topic", func(t *testing.T) {
			p.Require(t, FeatTopic)
			ctx := testCtx(t, time.Minute)
			_, s := rawSession(t, p.URL, nil)
			addr := p.Topic(uniqueName(t))
			opts := &amqp.ReceiverOptions{Credit: 50, SourceCapabilities: p.TopicCaps}
			r1 := rawReceiver(t, s, addr, opts)
			r2 := rawReceiver(t, s, addr, opts)
			snd := rawSender(t, s, addr, &amqp.SenderOptions{TargetCapabilities: p.TopicCaps})
			if err := sendN(ctx, snd, "t", n, false); err != nil {
				t.Fatal(err)
			}
			for i, r := range []*amqp.Receiver{r1, r2} {
				if err := receiveN(ctx, r, "t", n, true); err != nil {
					t.Fatalf("subscriber %d: %v", i, err)
				}
			}
		})
	})
}

// TestRawDurableSubscription: a durable topic subscriber goes away (its
// connection closes without closing the link), messages are published, and
// the same container-id + link name gets them on re-attach.
func TestRawDurableSubscription(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatDurableSub)
		ctx := testCtx(t, time.Minute)
		addr := p.Topic(uniqueName(t))
		container := uniqueName(t)
		subOpts := &amqp.ReceiverOptions{
			Name:               "sub-" + container,
			Credit:             10,
			SourceCapabilities: p.TopicCaps,
			Durability:         amqp.DurabilityUnsettledState,
			ExpiryPolicy:       amqp.ExpiryPolicyNever,
			SourceDurability:   amqp.DurabilityUnsettledState,
			SourceExpiryPolicy: amqp.ExpiryPolicyNever,
		}
		c1, s1 := rawSession(t, p.URL, &amqp.ConnOptions{ContainerID: container})
		rawReceiver(t, s1, addr, subOpts)
		if err := c1.Close(); err != nil {
			t.Fatalf("close subscriber connection: %v", err)
		}
		_, ps := rawSession(t, p.URL, nil)
		snd := rawSender(t, ps, addr, &amqp.SenderOptions{TargetCapabilities: p.TopicCaps})
		if err := sendN(ctx, snd, "d", 5, false); err != nil {
			t.Fatal(err)
		}
		_, s2 := rawSession(t, p.URL, &amqp.ConnOptions{ContainerID: container})
		r := rawReceiver(t, s2, addr, subOpts)
		if err := receiveN(ctx, r, "d", 5, true); err != nil {
			t.Fatalf("after re-attach: %v", err)
		}
	})
}

// TestRawDynamicRequestReply: a responder on a queue answers to the
// requester's dynamic reply address.
func TestRawDynamicRequestReply(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatDynamic)
		ctx := testCtx(t, time.Minute)
		_, s := rawSession(t, p.URL, nil)
		reply := rawReceiver(t, s, "", &amqp.ReceiverOptions{DynamicAddress: true, Credit: 10})
		if reply.Address() == "" {
			t.Fatal("dynamic receiver got no address")
		}
		t.Logf("%s: dynamic address %q", p.Name, reply.Address())
		svc := p.Queue(uniqueName(t))
		reqs := rawReceiver(t, s, svc, &amqp.ReceiverOptions{Credit: 10})
		go func() {
			for {
				m, err := reqs.Receive(ctx, nil)
				if err != nil {
					return
				}
				reqs.AcceptMessage(ctx, m)
				out, err := s.NewSender(ctx, *m.Properties.ReplyTo, nil)
				if err != nil {
					return
				}
				resp := amqp.NewMessage(bytes.ToUpper(m.GetData()))
				resp.Properties = &amqp.MessageProperties{CorrelationID: m.Properties.MessageID}
				out.Send(ctx, resp, nil)
				out.Close(ctx)
			}
		}()
		req := rawSender(t, s, svc, nil)
		for i := 0; i < 3; i++ {
			m := amqp.NewMessage([]byte(fmt.Sprintf("ping %d", i)))
			id := fmt.Sprintf("req-%d", i)
			m.Properties = &amqp.MessageProperties{MessageID: id, ReplyTo: ptr(reply.Address())}
			if err := req.Send(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
			resp, err := reply.Receive(ctx, nil)
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			reply.AcceptMessage(ctx, resp)
			if got, want := string(resp.GetData()), fmt.Sprintf("PING %d", i); got != want {
				t.Fatalf("reply body %q, want %q", got, want)
			}
			if resp.Properties == nil || resp.Properties.CorrelationID != id {
				t.Fatalf("reply correlation-id %v, want %q", resp.Properties, id)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestRawLargeMessage: 1 MiB body crosses in many transfer frames.
func TestRawLargeMessage(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatMultiFrameIn)
		ctx := testCtx(t, time.Minute)
		_, s := rawSession(t, p.URL, &amqp.ConnOptions{MaxFrameSize: 16 * 1024})
		addr := p.Queue(uniqueName(t))
		snd := rawSender(t, s, addr, nil)
		r := rawReceiver(t, s, addr, nil)
		body := make([]byte, 1<<20)
		for i := range body {
			body[i] = byte(i*7 + i>>8)
		}
		if err := snd.Send(ctx, amqp.NewMessage(body), nil); err != nil {
			t.Fatalf("send 1 MiB: %v", err)
		}
		m, err := r.Receive(ctx, nil)
		if err != nil {
			t.Fatalf("receive 1 MiB: %v", err)
		}
		r.AcceptMessage(ctx, m)
		if !bytes.Equal(m.GetData(), body) {
			t.Fatalf("1 MiB body differs (got %d bytes)", len(m.GetData()))
		}
	})
}

func TestRawIPv6(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		u := p.IPv6URL(t)
		ctx := testCtx(t, 30*time.Second)
		_, s := rawSession(t, u, nil)
		addr := p.Queue(uniqueName(t))
		snd := rawSender(t, s, addr, nil)
		r := rawReceiver(t, s, addr, nil)
		if err := sendN(ctx, snd, "v6", 10, false); err != nil {
			t.Fatal(err)
		}
		if err := receiveN(ctx, r, "v6", 10, true); err != nil {
			t.Fatal(err)
		}
	})
}

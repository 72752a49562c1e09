//go:build integration

package integration

// The amq facade against every peer.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

func amqDial(t testing.TB, p *Peer, url string, mod func(*amq.ConnectOptions)) *amq.Client {
	t.Helper()
	insecure := true
	opts := &amq.ConnectOptions{User: p.User, Password: p.Password}
	opts.SASL.AllowInsecure = &insecure // loopback, cleartext PLAIN is fine here
	if mod != nil {
		mod(opts)
	}
	c, err := amq.Dial(testCtx(t, 20*time.Second), url, opts)
	if err != nil {
		t.Fatalf("amq.Dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func amqSender(t testing.TB, c *amq.Client, addr string, opts *amq.SenderOptions) *amq.Sender {
	t.Helper()
	s, err := c.NewSender(testCtx(t, 15*time.Second), addr, opts)
	if err != nil {
		t.Fatalf("NewSender %q: %v", addr, err)
	}
	return s
}

func amqReceiver(t testing.TB, c *amq.Client, addr string, opts *amq.ReceiverOptions) *amq.Receiver {
	t.Helper()
	r, err := c.NewReceiver(testCtx(t, 15*time.Second), addr, opts)
	if err != nil {
		t.Fatalf("NewReceiver %q: %v", addr, err)
	}
	return r
}

func bodyString(t testing.TB, m *amq.Message) string {
	t.Helper()
	switch b := m.Body.(type) {
	case string:
		return b
	case []byte:
		return string(b)
	default:
		t.Fatalf("body of type %T: %v", m.Body, m.Body)
		return ""
	}
}

// amqSendN pipelines n sends with SendAsync and waits for every outcome.
func amqSendN(ctx context.Context, s *amq.Sender, prefix string, n int) error {
	receipts := make(chan *amq.Receipt, 1000)
	errc := make(chan error, 1)
	go func() {
		var first error
		for r := range receipts {
			if err := r.Wait(ctx); err != nil && first == nil {
				first = err
			}
		}
		errc <- first
	}()
	var sendErr error
	for i := 0; i < n; i++ {
		m := amq.NewMessage(fmt.Sprintf("%s %d", prefix, i))
		m.Properties = map[string]any{"seq": int64(i)}
		r, err := s.SendAsync(ctx, m)
		if err != nil {
			sendErr = fmt.Errorf("SendAsync %d: %w", i, err)
			break
		}
		receipts <- r
	}
	close(receipts)
	return errors.Join(sendErr, <-errc)
}

func amqReceiveN(ctx context.Context, t testing.TB, r *amq.Receiver, prefix string, n int) error {
	for i := 0; i < n; i++ {
		d, err := r.Receive(ctx)
		if err != nil {
			return fmt.Errorf("receive %d of %d: %w", i, n, err)
		}
		if got, want := bodyString(t, d.Message), fmt.Sprintf("%s %d", prefix, i); got != want {
			return fmt.Errorf("message %d: %q, want %q", i, got, want)
		}
	}
	return nil
}

func TestAmqConnect(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.ContainerID = "amq-it-connect" })
		if c.ContainerID() != "amq-it-connect" {
			t.Fatalf("ContainerID %q", c.ContainerID())
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

func TestAmqSendReceive1000(t *testing.T) {
	const n = 1000
	for _, presettled := range []bool{false, true} {
		t.Run(fmt.Sprintf("presettled=%v", presettled), func(t *testing.T) {
			eachPeer(t, func(t *testing.T, p *Peer) {
				ctx := testCtx(t, 2*time.Minute)
				c := amqDial(t, p, p.Addr, nil)
				addr := p.Queue(uniqueName(t))
				r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 100})
				s := amqSender(t, c, addr, &amq.SenderOptions{Presettled: presettled})
				var wg sync.WaitGroup
				var sendErr error
				wg.Add(1)
				go func() {
					defer wg.Done()
					if presettled {
						for i := 0; i < n && sendErr == nil; i++ {
							sendErr = s.Send(ctx, amq.NewMessage(fmt.Sprintf("m %d", i)))
						}
						return
					}
					sendErr = amqSendN(ctx, s, "m", n)
				}()
				recvErr := amqReceiveN(ctx, t, r, "m", n)
				wg.Wait()
				if sendErr != nil || recvErr != nil {
					t.Fatalf("send: %v; receive: %v", sendErr, recvErr)
				}
			})
		})
	}
}

func TestAmqOutcomes(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatOutcomes)
		ctx := testCtx(t, time.Minute)
		c := amqDial(t, p, p.Addr, nil)
		addr := p.Queue(uniqueName(t))
		r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 10, ManualAccept: true})
		s := amqSender(t, c, addr, nil)
		if err := s.Send(ctx, amq.NewMessage("x")); err != nil {
			t.Fatal(err)
		}
		next := func(what string) *amq.Delivery {
			t.Helper()
			d, err := r.Receive(ctx)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if bodyString(t, d.Message) != "x" {
				t.Fatalf("%s: body %q", what, bodyString(t, d.Message))
			}
			return d
		}
		d := next("first")
		if err := d.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		d = next("after release")
		if p.Has(FeatModify) {
			before := d.Message.DeliveryCount
			if err := d.Modify(ctx, &amq.ModifyOptions{DeliveryFailed: true}); err != nil {
				t.Fatalf("Modify: %v", err)
			}
			d = next("after modify")
			if d.Message.DeliveryCount <= before {
				t.Errorf("delivery count %d after modify(delivery-failed), want > %d", d.Message.DeliveryCount, before)
			}
		} else {
			t.Logf("modify not tested on %s: %s", p.Name, p.Missing[FeatModify])
		}
		if err := d.Reject(ctx, "amqp:precondition-failed", "test rejects"); err != nil {
			t.Fatalf("Reject: %v", err)
		}
		c2, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if d, err := r.Receive(c2); err == nil {
			t.Fatalf("rejected message came back: %q", bodyString(t, d.Message))
		}
	})
}

func TestAmqRejectedSend(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatRejectAddress)
		c := amqDial(t, p, p.Addr, nil)
		err := c.Send(testCtx(t, 30*time.Second), amq.NewMessage("x").SetTo(p.RejectAddress))
		var rej *amq.RejectedError
		if !errors.As(err, &rej) {
			t.Fatalf("Send to %s: %v (%T), want *amq.RejectedError", p.RejectAddress, err, err)
		}
		t.Logf("%s: %v", p.Name, err)
	})
}

func TestAmqQueueVsTopic(t *testing.T) {
	const n = 10
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatTopic)
		ctx := testCtx(t, time.Minute)
		c := amqDial(t, p, p.Addr, nil)
		addr := p.Topic(uniqueName(t))
		opts := &amq.ReceiverOptions{Credit: 50, Capabilities: p.TopicCaps}
		r1 := amqReceiver(t, c, addr, opts)
		r2 := amqReceiver(t, c, addr, opts)
		s := amqSender(t, c, addr, &amq.SenderOptions{Capabilities: p.TopicCaps})
		if err := amqSendN(ctx, s, "t", n); err != nil {
			t.Fatal(err)
		}
		for i, r := range []*amq.Receiver{r1, r2} {
			if err := amqReceiveN(ctx, t, r, "t", n); err != nil {
				t.Fatalf("subscriber %d: %v", i, err)
			}
		}
	})
}

func TestAmqDurableSubscription(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatDurableSub)
		ctx := testCtx(t, time.Minute)
		container := uniqueName(t)
		addr := p.Topic(uniqueName(t))
		c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.ContainerID = container })
		opts := &amq.ReceiverOptions{Name: "sub", Durable: true, Capabilities: p.TopicCaps, Credit: 10}
		r := amqReceiver(t, c, addr, opts)
		if err := r.Detach(ctx); err != nil {
			t.Fatalf("Detach: %v", err)
		}
		s := amqSender(t, amqDial(t, p, p.Addr, nil), addr, &amq.SenderOptions{Capabilities: p.TopicCaps})
		if err := amqSendN(ctx, s, "d", 5); err != nil {
			t.Fatal(err)
		}
		r = amqReceiver(t, c, addr, opts)
		if err := amqReceiveN(ctx, t, r, "d", 5); err != nil {
			t.Fatalf("after re-attach: %v", err)
		}
		if err := r.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

func TestAmqDynamicRequestReply(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatDynamic)
		ctx := testCtx(t, time.Minute)
		c := amqDial(t, p, p.Addr, nil)
		reply := amqReceiver(t, c, "", &amq.ReceiverOptions{DynamicAddress: true})
		if reply.Address() == "" {
			t.Fatal("no dynamic address")
		}
		svc := p.Queue(uniqueName(t))
		reqs := amqReceiver(t, c, svc, nil)
		go func() {
			for d := range reqs.Deliveries() {
				m := amq.NewMessage(strings.ToUpper(bodyString(t, d.Message))).SetTo(d.Message.ReplyTo)
				m.CorrelationID = d.Message.ID
				if c.Send(ctx, m) != nil {
					return
				}
			}
		}()
		for i := 0; i < 3; i++ {
			m := amq.NewMessage(fmt.Sprintf("ping %d", i)).SetTo(svc)
			m.ID = fmt.Sprintf("req-%d", i)
			m.ReplyTo = reply.Address()
			if err := c.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
			d, err := reply.Receive(ctx)
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if got := bodyString(t, d.Message); got != fmt.Sprintf("PING %d", i) {
				t.Fatalf("reply %q", got)
			}
			if d.Message.CorrelationID != m.ID {
				t.Fatalf("correlation id %v, want %v", d.Message.CorrelationID, m.ID)
			}
		}
	})
}

func TestAmqLargeMessage(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatMultiFrameIn)
		ctx := testCtx(t, time.Minute)
		c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.MaxFrameSize = 16 * 1024 })
		addr := p.Queue(uniqueName(t))
		r := amqReceiver(t, c, addr, nil)
		body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		if err := amqSender(t, c, addr, nil).Send(ctx, amq.NewMessage(body)); err != nil {
			t.Fatalf("send 1 MiB: %v", err)
		}
		d, err := r.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := d.Message.Body.([]byte)
		if !ok || !bytes.Equal(got, body) {
			t.Fatalf("1 MiB body differs (%T, %d bytes)", d.Message.Body, len(got))
		}
	})
}

func TestAmqIPv6(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		u := p.IPv6URL(t)
		if !strings.Contains(u, "[::1]") {
			t.Fatalf("IPv6 URL %q", u)
		}
		ctx := testCtx(t, 30*time.Second)
		c := amqDial(t, p, u, nil)
		addr := p.Queue(uniqueName(t))
		r := amqReceiver(t, c, addr, nil)
		if err := amqSendN(ctx, amqSender(t, c, addr, nil), "v6", 10); err != nil {
			t.Fatal(err)
		}
		if err := amqReceiveN(ctx, t, r, "v6", 10); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAmqRabbitMQStall: 20 runs of 50,000 messages through one receiver
// with credit 1000, each run bounded by a deadline; a stall is a failure.
func TestAmqRabbitMQStall(t *testing.T) {
	const runs, n = 20, 50000
	p := getPeer(t, "rabbitmq")
	c := amqDial(t, p, p.Addr, nil)
	addr := p.Queue(uniqueName(t))
	r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 1000})
	s := amqSender(t, c, addr, nil)
	for run := 0; run < runs; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		start := time.Now()
		prefix := fmt.Sprintf("s%d", run)
		var sendErr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendErr = amqSendN(ctx, s, prefix, n)
		}()
		recvErr := amqReceiveN(ctx, t, r, prefix, n)
		cancel()
		wg.Wait()
		if sendErr != nil || recvErr != nil {
			t.Fatalf("run %d: stalled or failed: send: %v; receive: %v", run, sendErr, recvErr)
		}
		el := time.Since(start)
		t.Logf("run %d: %d messages in %v (%.0f msg/s)", run, n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	}
}

// ---- interop: the reference client and rhea through every broker ------------

func TestInterop(t *testing.T) {
	const n = 20
	clients := []func(testing.TB) *interopClient{rheaClient}
	for _, pp := range protonPythons {
		clients = append(clients, func(t testing.TB) *interopClient { return protonClientFor(t, pp) })
	}
	for _, mk := range clients {
		probe := mk(t)
		t.Run(probe.Name, func(t *testing.T) {
			eachPeer(t, func(t *testing.T, p *Peer) {
				cl := mk(t)
				if cl.prefix == "proton" {
					p.Require(t, FeatProtonClients)
				}
				url := p.URL
				t.Run(cl.Name+"-to-go", func(t *testing.T) {
					ctx := testCtx(t, 90*time.Second)
					c := amqDial(t, p, p.Addr, nil)
					addr := p.Queue(uniqueName(t))
					r := amqReceiver(t, c, addr, nil)
					wait, _ := cl.start(t, ctx, "send", url, addr, n)
					if _, err := wait(); err != nil {
						t.Fatal(err)
					}
					for i := 1; i <= n; i++ {
						d, err := r.Receive(ctx)
						if err != nil {
							t.Fatalf("receive %d: %v", i, err)
						}
						m := d.Message
						prefix := cl.prefix
						if got, want := bodyString(t, m), fmt.Sprintf("%s %d", prefix, i); got != want {
							t.Fatalf("body %q, want %q", got, want)
						}
						if m.Subject != "interop" || m.ContentType != "text/plain" {
							t.Errorf("subject %q content-type %q", m.Subject, m.ContentType)
						}
						if m.ID != fmt.Sprintf("%s-%d", prefix, i) {
							t.Errorf("id %#v", m.ID)
						}
						if fmt.Sprint(m.Properties["seq"]) != fmt.Sprint(i) || m.Properties["kind"] != prefix {
							t.Errorf("properties %#v", m.Properties)
						}
					}
				})
				t.Run("go-to-"+cl.Name, func(t *testing.T) {
					ctx := testCtx(t, 90*time.Second)
					c := amqDial(t, p, p.Addr, nil)
					addr := p.Queue(uniqueName(t))
					wait, ready := cl.start(t, ctx, "recv", url, addr, n)
					select {
					case <-ready:
					case <-ctx.Done():
						t.Fatal("client never attached")
					}
					s := amqSender(t, c, addr, nil)
					for i := 1; i <= n; i++ {
						m := amq.NewMessage(fmt.Sprintf("go %d", i))
						m.ID = fmt.Sprintf("go-%d", i)
						m.Subject = "interop"
						m.ContentType = "text/plain"
						m.Properties = map[string]any{"seq": int64(i), "kind": "go"}
						if err := s.Send(ctx, m); err != nil {
							t.Fatalf("send %d: %v", i, err)
						}
					}
					out, err := wait()
					if err != nil {
						t.Fatal(err)
					}
					lines := strings.Split(strings.TrimSpace(out), "\n")
					if len(lines) != n {
						t.Fatalf("%s printed %d messages, want %d:\n%s", cl.Name, len(lines), n, out)
					}
					for i, line := range lines {
						var m interopMsg
						if err := json.Unmarshal([]byte(line), &m); err != nil {
							t.Fatalf("line %d: %v: %s", i, err, line)
						}
						if fmt.Sprint(m.Body) != fmt.Sprintf("go %d", i+1) {
							t.Errorf("message %d body %v", i, m.Body)
						}
						if m.ID == nil || *m.ID != fmt.Sprintf("go-%d", i+1) {
							t.Errorf("message %d id %v", i, m.ID)
						}
						if m.Subject == nil || *m.Subject != "interop" {
							t.Errorf("message %d subject %v", i, m.Subject)
						}
						if fmt.Sprint(m.Props["seq"]) != fmt.Sprint(i+1) || m.Props["kind"] != "go" {
							t.Errorf("message %d properties %v", i, m.Props)
						}
					}
				})
			})
		})
	}
}

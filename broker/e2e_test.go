package broker_test

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"testing"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/broker"
)

func TestE2EQueueCompetingConsumers(t *testing.T) {
	b := listen(t, nil)
	s := session(t, dial(t, b.URL(), "c"))
	// Manual credit: each receiver may take exactly 10 of the 20 messages.
	r1 := newReceiver(t, s, "jobs", &amqp.ReceiverOptions{Credit: -1})
	r2 := newReceiver(t, s, "jobs", &amqp.ReceiverOptions{Credit: -1})
	if err := r1.IssueCredit(10); err != nil {
		t.Fatal(err)
	}
	if err := r2.IssueCredit(10); err != nil {
		t.Fatal(err)
	}
	snd := newSender(t, s, "jobs", &amqp.SenderOptions{TargetCapabilities: []string{"queue"}})
	for i := range 20 {
		sendText(t, snd, fmt.Sprint(i), nil)
	}
	var got []string
	for _, r := range []*amqp.Receiver{r1, r2} {
		for range 10 {
			body, m := receiveText(t, r)
			if err := r.AcceptMessage(ctxT(t), m); err != nil {
				t.Fatal(err)
			}
			got = append(got, body)
		}
	}
	sort.Strings(got)
	want := make([]string, 20)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v", got)
	}
	if d := b.QueueDepth("jobs"); d != 0 {
		t.Fatalf("depth %d", d)
	}
}

func TestE2ETopicFanout(t *testing.T) {
	b := listen(t, nil)
	s := session(t, dial(t, b.URL(), "c"))
	topic := &amqp.ReceiverOptions{SourceCapabilities: []string{"topic"}}
	r1 := newReceiver(t, s, "news", topic)
	r2 := newReceiver(t, s, "news", topic)
	snd := newSender(t, s, "news", &amqp.SenderOptions{TargetCapabilities: []string{"topic"}})
	for i := range 5 {
		sendText(t, snd, fmt.Sprint(i), nil)
	}
	for _, r := range []*amqp.Receiver{r1, r2} {
		for i := range 5 {
			body, m := receiveText(t, r)
			if body != fmt.Sprint(i) {
				t.Fatalf("got %q want %d", body, i)
			}
			_ = r.AcceptMessage(ctxT(t), m)
		}
	}
}

func TestE2ENodeKeepsKindAndEchoes(t *testing.T) {
	b := listen(t, nil)
	s := session(t, dial(t, b.URL(), "c"))
	// Created as a topic; a later "queue" attach still gets topic fan-out.
	r1 := newReceiver(t, s, "/topic/events", nil)
	r2 := newReceiver(t, s, "events", &amqp.ReceiverOptions{SourceCapabilities: []string{"queue"}})
	snd := newSender(t, s, "events", nil)
	sendText(t, snd, "x", nil)
	for _, r := range []*amqp.Receiver{r1, r2} {
		if body, _ := receiveText(t, r); body != "x" {
			t.Fatalf("got %q", body)
		}
	}
}

func TestE2EDurableSubscription(t *testing.T) {
	b := listen(t, nil)
	durable := &amqp.ReceiverOptions{
		Name:               "sub1",
		SourceCapabilities: []string{"topic"},
		SourceDurability:   amqp.DurabilityUnsettledState,
		SourceExpiryPolicy: amqp.ExpiryPolicyNever,
	}
	c1 := dial(t, b.URL(), "client-1")
	_ = newReceiver(t, session(t, c1), "prices", durable)
	// Detach without closing: the connection goes away.
	_ = c1.Close()

	pub := newSender(t, session(t, dial(t, b.URL(), "pub")), "prices",
		&amqp.SenderOptions{TargetCapabilities: []string{"topic"}})
	for i := range 3 {
		sendText(t, pub, fmt.Sprint(i), nil)
	}
	eventually(t, "3 messages kept for the detached subscription", func() bool {
		return b.QueueDepth("prices") == 3
	})

	c2 := dial(t, b.URL(), "client-1")
	r := newReceiver(t, session(t, c2), "prices", durable)
	for i := range 3 {
		body, m := receiveText(t, r)
		if body != fmt.Sprint(i) {
			t.Fatalf("got %q want %d", body, i)
		}
		_ = r.AcceptMessage(ctxT(t), m)
	}
	// Closing ends the subscription: nothing collects any more.
	if err := r.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sendText(t, pub, "after close", nil)
	eventually(t, "subscription deleted", func() bool { return b.QueueDepth("prices") == 0 })
}

func TestE2EDynamicReplyQueue(t *testing.T) {
	b := listen(t, nil)
	// The service: reads requests, answers on an anonymous-relay sender.
	svc := session(t, dial(t, b.URL(), "svc"))
	reqs := newReceiver(t, svc, "requests", nil)
	replies := newSender(t, svc, "", nil)
	done := make(chan error, 1)
	go func() {
		m, err := reqs.Receive(ctxT(t), nil)
		if err != nil {
			done <- err
			return
		}
		_ = reqs.AcceptMessage(ctxT(t), m)
		out := amqp.NewMessage(bytes.ToUpper(m.GetData()))
		out.Properties = &amqp.MessageProperties{To: m.Properties.ReplyTo, CorrelationID: m.Properties.MessageID}
		done <- replies.Send(ctxT(t), out, nil)
	}()

	cli := session(t, dial(t, b.URL(), "cli"))
	rr := newReceiver(t, cli, "", &amqp.ReceiverOptions{DynamicAddress: true})
	addr := rr.Address()
	if addr == "" {
		t.Fatal("no dynamic address in the attach reply")
	}
	req := amqp.NewMessage([]byte("ping"))
	req.Properties = &amqp.MessageProperties{MessageID: "m1", ReplyTo: &addr}
	if err := newSender(t, cli, "requests", nil).Send(ctxT(t), req, nil); err != nil {
		t.Fatal(err)
	}
	body, m := receiveText(t, rr)
	if body != "PING" || m.Properties.CorrelationID != "m1" {
		t.Fatalf("reply %q corr %v", body, m.Properties.CorrelationID)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestE2EThousandMessages(t *testing.T) {
	for _, presettled := range []bool{true, false} {
		t.Run(fmt.Sprintf("presettled=%v", presettled), func(t *testing.T) {
			b := listen(t, nil)
			s := session(t, dial(t, b.URL(), "c"))
			sopts := &amqp.SenderOptions{}
			ropts := &amqp.ReceiverOptions{Credit: 100}
			if presettled {
				sopts.SettlementMode = amqp.SenderSettleModeSettled.Ptr()
				ropts.RequestedSenderSettleMode = amqp.SenderSettleModeSettled.Ptr()
			}
			snd := newSender(t, s, "bulk", sopts)
			r := newReceiver(t, s, "bulk", ropts)
			const n = 1000
			errc := make(chan error, 1)
			go func() {
				for i := range n {
					if err := snd.Send(ctxT(t), amqp.NewMessage([]byte(fmt.Sprint(i))), nil); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := range n {
				body, m := receiveText(t, r)
				if body != fmt.Sprint(i) {
					t.Fatalf("got %q want %d", body, i)
				}
				if !presettled {
					if err := r.AcceptMessage(ctxT(t), m); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			eventually(t, "queue empty", func() bool { return b.QueueDepth("bulk") == 0 })
		})
	}
}

func TestE2ELargeMessage(t *testing.T) {
	b := listen(t, nil)
	s := session(t, dial(t, b.URL(), "c"))
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := newSender(t, s, "big", nil).Send(ctxT(t), amqp.NewMessage(big), nil); err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, s, "big", nil)
	m, err := r.Receive(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.GetData(), big) {
		t.Fatalf("got %d bytes back", len(m.GetData()))
	}
}

func TestE2EBoundedQueue(t *testing.T) {
	b := listen(t, &broker.Options{MaxQueueMessages: 10})
	s := session(t, dial(t, b.URL(), "c"))
	// A receiver that never grants credit.
	_ = newReceiver(t, s, "slow", &amqp.ReceiverOptions{Credit: -1})
	snd := newSender(t, s, "slow", nil)
	var sendErr error
	for i := 0; i < 100 && sendErr == nil; i++ {
		sendErr = snd.Send(ctxT(t), amqp.NewMessage([]byte("x")), nil)
	}
	var ae *amqp.Error
	if !errors.As(sendErr, &ae) || ae.Condition != amqp.ErrCondResourceLimitExceeded {
		t.Fatalf("send error = %v, want resource-limit-exceeded", sendErr)
	}
	if d := b.QueueDepth("slow"); d != 10 {
		t.Fatalf("depth %d, want 10", d)
	}
	// The broker still serves other clients and other nodes.
	s2 := session(t, dial(t, b.URL(), "other"))
	sendText(t, newSender(t, s2, "fast", nil), "ok", nil)
	if body, _ := receiveText(t, newReceiver(t, s2, "fast", nil)); body != "ok" {
		t.Fatalf("got %q", body)
	}
}

func TestE2ELostReceiverRedelivers(t *testing.T) {
	b := listen(t, nil)
	sendText(t, newSender(t, session(t, dial(t, b.URL(), "p")), "work", nil), "job", nil)

	c1 := dial(t, b.URL(), "w1")
	r1 := newReceiver(t, session(t, c1), "work", &amqp.ReceiverOptions{Credit: 1})
	_, m := receiveText(t, r1)
	if m.Header != nil && m.Header.DeliveryCount != 0 {
		t.Fatalf("first delivery count %d", m.Header.DeliveryCount)
	}
	_ = c1.Close() // never settled

	r2 := newReceiver(t, session(t, dial(t, b.URL(), "w2")), "work", nil)
	body, m := receiveText(t, r2)
	if body != "job" || m.Header == nil || m.Header.DeliveryCount != 1 || m.Header.FirstAcquirer {
		t.Fatalf("redelivered %q header %+v", body, m.Header)
	}
	_ = r2.AcceptMessage(ctxT(t), m)
	eventually(t, "queue empty", func() bool { return b.QueueDepth("work") == 0 })
}

func TestE2EReleaseAndModify(t *testing.T) {
	b := listen(t, nil)
	s := session(t, dial(t, b.URL(), "c"))
	sendText(t, newSender(t, s, "rm", nil), "m", nil)
	r := newReceiver(t, s, "rm", &amqp.ReceiverOptions{Credit: 1})

	_, m := receiveText(t, r)
	if err := r.ReleaseMessage(ctxT(t), m); err != nil {
		t.Fatal(err)
	}
	_, m = receiveText(t, r)
	if m.Header != nil && m.Header.DeliveryCount != 0 {
		t.Fatalf("released message count %d, want 0", m.Header.DeliveryCount)
	}
	err := r.ModifyMessage(ctxT(t), m, &amqp.ModifyMessageOptions{
		DeliveryFailed: true,
		Annotations:    amqp.Annotations{"x-opt-reason": "retry"},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, m = receiveText(t, r)
	if m.Header == nil || m.Header.DeliveryCount != 1 || m.Annotations["x-opt-reason"] != "retry" {
		t.Fatalf("modified: header %+v annotations %v", m.Header, m.Annotations)
	}
	// Undeliverable here: only another link may have it.
	if err := r.ModifyMessage(ctxT(t), m, &amqp.ModifyMessageOptions{UndeliverableHere: true}); err != nil {
		t.Fatal(err)
	}
	other := newReceiver(t, s, "rm", nil)
	if body, m := receiveText(t, other); body != "m" || m.Header.DeliveryCount != 1 {
		t.Fatalf("other got %q %+v", body, m.Header)
	}
}

func TestE2ESelector(t *testing.T) {
	b := listen(t, nil)
	s := session(t, dial(t, b.URL(), "c"))
	red := newReceiver(t, s, "paint", &amqp.ReceiverOptions{
		Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("color = 'red' AND size > 1")},
	})
	snd := newSender(t, s, "paint", nil)
	sendText(t, snd, "blue", map[string]any{"color": "blue", "size": 5})
	sendText(t, snd, "small red", map[string]any{"color": "red", "size": 1})
	sendText(t, snd, "red", map[string]any{"color": "red", "size": 5})
	if body, _ := receiveText(t, red); body != "red" {
		t.Fatalf("selector receiver got %q", body)
	}
	if d := b.QueueDepth("paint"); d != 2 {
		t.Fatalf("depth %d, want the 2 unselected", d)
	}

	_, err := s.NewReceiver(ctxT(t), "paint", &amqp.ReceiverOptions{
		Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("color = = 'red'")},
	})
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondInvalidField {
		t.Fatalf("bad selector: err = %v, want invalid-field", err)
	}
}

func TestE2EBrowse(t *testing.T) {
	b := listen(t, nil)
	s := session(t, dial(t, b.URL(), "c"))
	snd := newSender(t, s, "catalog", nil)
	for i := range 3 {
		sendText(t, snd, fmt.Sprint(i), nil)
	}
	br := newReceiver(t, s, "catalog", &amqp.ReceiverOptions{SourceDistributionMode: "copy"})
	for i := range 3 {
		body, m := receiveText(t, br)
		if body != fmt.Sprint(i) {
			t.Fatalf("browsed %q", body)
		}
		_ = br.AcceptMessage(ctxT(t), m)
	}
	if d := b.QueueDepth("catalog"); d != 3 {
		t.Fatalf("depth %d after browsing, want 3", d)
	}
}

func TestE2EDrain(t *testing.T) {
	b := listen(t, nil)
	s := session(t, dial(t, b.URL(), "c"))
	snd := newSender(t, s, "d", nil)
	sendText(t, snd, "1", nil)
	sendText(t, snd, "2", nil)
	r := newReceiver(t, s, "d", &amqp.ReceiverOptions{Credit: -1})
	if err := r.IssueCredit(5); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1", "2"} {
		if body, _ := receiveText(t, r); body != want {
			t.Fatalf("got %q want %q", body, want)
		}
	}
	// Three credits left and nothing to send: the drain hands them back.
	if err := r.DrainCredit(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}
	// No credit left: a new message waits on the queue.
	sendText(t, snd, "3", nil)
	if d := b.QueueDepth("d"); d != 1 {
		t.Fatalf("depth %d, want 1", d)
	}
}

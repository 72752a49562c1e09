package server

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	amqp "github.com/Azure/go-amqp"
	"github.com/amqgo/amq/internal/codec"
)

func TestThousandMessages(t *testing.T) {
	for _, settled := range []bool{true, false} {
		t.Run(fmt.Sprintf("settled=%v", settled), func(t *testing.T) {
			q := newQueues()
			srv := startServer(t, &Options{Handler: q.handler(), AllowAnonymous: true})
			ctx := testCtx(t)
			c := dial(t, srv.URL(), nil)
			s := newSession(t, c)
			mode := amqp.SenderSettleModeUnsettled
			if settled {
				mode = amqp.SenderSettleModeSettled
			}
			snd, err := s.NewSender(ctx, "bulk", &amqp.SenderOptions{SettlementMode: &mode})
			if err != nil {
				t.Fatal(err)
			}
			const n = 1000
			for i := range n {
				if err := snd.Send(ctx, amqp.NewMessage([]byte(fmt.Sprint(i))), nil); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			rcv, err := s.NewReceiver(ctx, "bulk", &amqp.ReceiverOptions{Credit: 50})
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				m, err := rcv.Receive(ctx, nil)
				if err != nil {
					t.Fatalf("receive %d: %v", i, err)
				}
				if got := string(m.GetData()); got != fmt.Sprint(i) {
					t.Fatalf("message %d: got %q", i, got)
				}
				// Every outcome kind travels back to the server's sender.
				switch i % 4 {
				case 0:
					err = rcv.AcceptMessage(ctx, m)
				case 1:
					err = rcv.RejectMessage(ctx, m, &amqp.Error{Condition: "test:bad", Description: "no"})
				case 2:
					err = rcv.ReleaseMessage(ctx, m)
				case 3:
					err = rcv.ModifyMessage(ctx, m, &amqp.ModifyMessageOptions{DeliveryFailed: true})
				}
				if err != nil {
					t.Fatalf("settle %d: %v", i, err)
				}
			}
			counts := map[string]int{}
			for range n {
				select {
				case o := <-q.outcomes:
					counts[fmt.Sprintf("%T", o)]++
				case <-ctx.Done():
					t.Fatalf("outcomes: %v so far", counts)
				}
			}
			want := map[string]int{"*codec.Accepted": 250, "*codec.Rejected": 250, "*codec.Released": 250, "*codec.Modified": 250}
			if fmt.Sprint(counts) != fmt.Sprint(want) {
				t.Fatalf("outcomes = %v, want %v", counts, want)
			}
		})
	}
}

func TestLargeMultiFrameMessage(t *testing.T) {
	q := newQueues()
	srv := startServer(t, &Options{Handler: q.handler(), AllowAnonymous: true, MaxFrameSize: 16 * 1024})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), &amqp.ConnOptions{MaxFrameSize: 4096})
	s := newSession(t, c)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	snd, err := s.NewSender(ctx, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, amqp.NewMessage(big), nil); err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "big", &amqp.ReceiverOptions{MaxMessageSize: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.GetData(), big) {
		t.Fatalf("got %d bytes back, want the 1 MiB sent", len(m.GetData()))
	}
	if err := rcv.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
}

func TestMaxMessageSizeEnforced(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true, MaxMessageSize: 1000})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	snd, err := s.NewSender(ctx, "small", nil)
	if err != nil {
		t.Fatal(err)
	}
	if snd.MaxMessageSize() != 1000 {
		t.Fatalf("announced max-message-size %d", snd.MaxMessageSize())
	}
	// go-amqp refuses to send it itself; a raw client shows the server's side.
	r := rawDial(t, srv)
	r.anonOpenBegin()
	r.send(0, &codec.Attach{Name: "l", Handle: 0, Role: codec.RoleSender, Target: &codec.Target{Address: "small"}, Source: &codec.Source{}}, nil)
	expect[*codec.Attach](r)
	expect[*codec.Flow](r)
	r.send(0, &codec.Transfer{Handle: 0, DeliveryID: u32(0), DeliveryTag: []byte{1}, MessageFormat: u32(0)}, make([]byte, 2000))
	d := expect[*codec.Detach](r)
	if d.Error == nil || d.Error.Condition != codec.ErrCondMessageSizeExceeded {
		t.Fatalf("detach error = %v, want message-size-exceeded", d.Error)
	}
}

// TestDetachClosedVsNot checks the handler sees the peer's closed flag.
func TestDetachClosedVsNot(t *testing.T) {
	type reason struct {
		closed bool
		err    *codec.Error
	}
	reasons := make(chan reason, 2)
	h := HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *Sender) {
		<-s.Done()
		closed, err := s.Link().DetachReason()
		reasons <- reason{closed, err}
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	r := rawDial(t, srv)
	r.anonOpenBegin()
	for i, closed := range []bool{false, true} {
		r.send(0, &codec.Attach{Name: "sub", Handle: uint32(i), Role: codec.RoleReceiver,
			Source: &codec.Source{Address: "topic", Durable: 2, ExpiryPolicy: "never"}, Target: &codec.Target{}}, nil)
		expect[*codec.Attach](r)
		r.send(0, &codec.Detach{Handle: uint32(i), Closed: closed}, nil)
		d := expect[*codec.Detach](r)
		if d.Closed != closed {
			t.Fatalf("echoed closed=%v, want %v", d.Closed, closed)
		}
		got := <-reasons
		if got.closed != closed || got.err != nil {
			t.Fatalf("DetachReason = %v, %v; want %v, nil", got.closed, got.err, closed)
		}
	}
}

// TestCreditFlow checks that Send blocks without credit, that the peer's
// credit is honoured exactly, and that drain is answered.
func TestCreditFlow(t *testing.T) {
	sent := make(chan int, 100)
	h := HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *Sender) {
		for i := 0; ; i++ {
			if _, err := s.Send(ctx, &codec.Message{Value: fmt.Sprint(i), HasValue: true}, true); err != nil {
				return
			}
			sent <- i
		}
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	rcv, err := s.NewReceiver(ctx, "src", &amqp.ReceiverOptions{Credit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.IssueCredit(3); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m, err := rcv.Receive(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Value != fmt.Sprint(i) {
			t.Fatalf("got %v, want %d", m.Value, i)
		}
	}
	for range 3 {
		<-sent
	}
	// No credit left: the server's fourth Send is blocked. A drain with no
	// credit outstanding completes at once; prove nothing more came.
	if err := rcv.DrainCredit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if m := rcv.Prefetched(); m != nil {
		t.Fatalf("message %v arrived without credit", m.Value)
	}
	select {
	case i := <-sent:
		t.Fatalf("Send %d completed without credit", i)
	default:
	}
	if err := rcv.IssueCredit(1); err != nil {
		t.Fatal(err)
	}
	m, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Value != "3" {
		t.Fatalf("got %v, want 3", m.Value)
	}
}

// TestDrainAnswered: a drain with credit outstanding and nothing to send is
// answered by the default handler.
func TestDrainAnswered(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	rcv, err := s.NewReceiver(ctx, "empty", &amqp.ReceiverOptions{Credit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.IssueCredit(10); err != nil {
		t.Fatal(err)
	}
	if err := rcv.DrainCredit(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

package server

import (
	"context"
	"errors"
	"net"
	"testing"

	amqp "github.com/Azure/go-amqp"
	"github.com/amqgo/amq/internal/codec"
)

// TestUnsettledReportedOnDetach: deliveries the peer never settled are
// lost (Wait says so) and listed by Unsettled, for a broker to requeue.
func TestUnsettledReportedOnDetach(t *testing.T) {
	type result struct {
		unsettled int
		waitErr   error
	}
	results := make(chan result, 1)
	h := HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *Sender) {
		var last *OutgoingDelivery
		for range 3 {
			d, err := s.Send(ctx, &codec.Message{Value: "m", HasValue: true}, false)
			if err != nil {
				return
			}
			last = d
		}
		<-s.Done()
		_, err := last.Wait(context.Background())
		results <- result{len(s.Unsettled()), err}
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	rcv, err := s.NewReceiver(ctx, "q", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := rcv.Receive(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := rcv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-results
	if r.unsettled != 3 || !errors.Is(r.waitErr, ErrDeliveryLost) {
		t.Fatalf("unsettled=%d wait=%v; want 3, ErrDeliveryLost", r.unsettled, r.waitErr)
	}
}

// TestReceiverSettleSecond: with rcv-settle-mode second the server's
// outcome goes out unsettled and the peer settles after it.
func TestReceiverSettleSecond(t *testing.T) {
	settled := make(chan error, 1)
	h := HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *Receiver) {
		d, err := r.Receive(ctx)
		if err != nil {
			return
		}
		settled <- d.Accept()
		<-ctx.Done()
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	second := amqp.ReceiverSettleModeSecond
	snd, err := s.NewSender(ctx, "q", &amqp.SenderOptions{RequestedReceiverSettleMode: &second})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, amqp.NewMessage([]byte("x")), nil); err != nil {
		t.Fatal(err)
	}
	if err := <-settled; err != nil {
		t.Fatal(err)
	}
}

// TestServerSideDetach: a handler closing or detaching its link is seen by
// the peer with its error and closed flag.
func TestServerSideDetach(t *testing.T) {
	h := HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *Sender) {
		e := &codec.Error{Condition: codec.ErrCondStolen, Description: "another consumer took it"}
		if s.Link().Address() == "keep" {
			_ = s.Detach(e)
			return
		}
		_ = s.Close(e)
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	rcv, err := s.NewReceiver(ctx, "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rcv.Receive(ctx, nil)
	var le *amqp.LinkError
	if !errors.As(err, &le) || le.RemoteErr == nil || le.RemoteErr.Condition != amqp.ErrCondStolen {
		t.Fatalf("err = %v, want link error amqp:link:stolen", err)
	}
}

func TestMaxConnections(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true, MaxConnections: 1})
	_ = dial(t, srv.URL(), nil)
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The extra connection is closed without an answer.
	if _, err := nc.Read(make([]byte, 8)); err == nil {
		t.Fatal("second connection served beyond MaxConnections")
	}
}

func TestServerSideDetachNotClosed(t *testing.T) {
	h := HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *Sender) {
		_ = s.Detach(nil)
		<-ctx.Done()
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	r := rawDial(t, srv)
	r.anonOpenBegin()
	r.send(0, &codec.Attach{Name: "d", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Address: "keep"}, Target: &codec.Target{}}, nil)
	expect[*codec.Attach](r)
	d := expect[*codec.Detach](r)
	if d.Closed || d.Error != nil {
		t.Fatalf("detach closed=%v error=%v; want false, nil", d.Closed, d.Error)
	}
	// Answer it; the handle can then be reused.
	r.send(0, &codec.Detach{Handle: 0}, nil)
	r.send(0, &codec.Attach{Name: "d2", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Address: "keep"}, Target: &codec.Target{}}, nil)
	if a := expect[*codec.Attach](r); a.Name != "d2" {
		t.Fatalf("re-attach answered for %q", a.Name)
	}
}

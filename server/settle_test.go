package server

import (
	"context"
	"errors"
	"net"
	"testing"

	amqp "github.com/Azure/go-amqp"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
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

// TestReceiverSettleSecond: a peer sender asking for rcv-settle-mode second
// (§3.8.3) is answered with second; the server's outcome goes out unsettled;
// the server keeps the delivery unsettled until the peer's settling
// disposition arrives. The raw client sees the frames go-amqp hides.
func TestReceiverSettleSecond(t *testing.T) {
	type view struct {
		modeSeen        ReceiverSettleMode
		acceptErr       error
		afterAccept     bool // the server still holds the delivery unsettled
		afterPeerSettle bool
	}
	views := make(chan view, 1)
	h := HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *Receiver) {
		var v view
		v.modeSeen = r.Link().ReceiverSettleMode()
		d, err := r.Receive(ctx)
		if err != nil {
			return
		}
		v.acceptErr = d.Accept()
		v.afterAccept = heldUnsettled(r, d)
		// The peer settles delivery 0 and only then sends delivery 1; the
		// server reads frames in order, so by the time delivery 1 is
		// received the settling disposition has been applied.
		if _, err := r.Receive(ctx); err != nil {
			return
		}
		v.afterPeerSettle = heldUnsettled(r, d)
		views <- v
		<-ctx.Done()
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	r := rawDial(t, srv)
	r.anonOpenBegin()
	second := codec.ReceiverSettleMode(ReceiverSettleSecond)
	r.send(0, &codec.Attach{Name: "second", Handle: 0, Role: codec.RoleSender, RcvSettleMode: &second,
		Source: &codec.Source{}, Target: &codec.Target{Address: "q"}, InitialDeliveryCount: u32(0)}, nil)
	a := expect[*codec.Attach](r)
	if a.RcvSettleMode == nil {
		t.Fatal("server's attach carries no rcv-settle-mode (first), want second")
	}
	if *a.RcvSettleMode != second {
		t.Fatalf("server's attach carries rcv-settle-mode %d, want second (1)", *a.RcvSettleMode)
	}
	payload, err := codec.AppendMessage(nil, &codec.Message{Value: "x", HasValue: true})
	if err != nil {
		t.Fatal(err)
	}
	r.send(0, &codec.Transfer{Handle: 0, DeliveryID: u32(0), DeliveryTag: []byte{0}, MessageFormat: u32(0)}, payload)
	d := expect[*codec.Disposition](r)
	if d.Role != codec.RoleReceiver || d.First != 0 {
		t.Fatalf("disposition role=%v first=%d; want receiver, 0", d.Role, d.First)
	}
	if _, ok := d.State.(*codec.Accepted); !ok {
		t.Fatalf("disposition state %T, want accepted", d.State)
	}
	if d.Settled {
		t.Fatal("the server's outcome went out settled under rcv-settle-mode second")
	}
	r.send(0, &codec.Disposition{Role: codec.RoleSender, First: 0, Settled: true, State: &codec.Accepted{}}, nil)
	r.send(0, &codec.Transfer{Handle: 0, DeliveryID: u32(1), DeliveryTag: []byte{1}, MessageFormat: u32(0), Settled: true}, payload)

	var v view
	select {
	case v = <-views:
	case <-testCtx(t).Done():
		t.Fatal("the handler did not receive both deliveries")
	}
	if v.modeSeen != ReceiverSettleSecond {
		t.Errorf("Link.ReceiverSettleMode = %v, want second", v.modeSeen)
	}
	if v.acceptErr != nil {
		t.Errorf("Accept: %v", v.acceptErr)
	}
	if !v.afterAccept {
		t.Error("the server forgot the delivery when it sent its outcome, before the peer settled")
	}
	if v.afterPeerSettle {
		t.Error("the server still holds the delivery unsettled after the peer's settling disposition")
	}
}

// heldUnsettled reports whether the server's session and receiver still
// track d as unsettled.
func heldUnsettled(r *Receiver, d *IncomingDelivery) bool { return engine.HeldUnsettled(r, d) }

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

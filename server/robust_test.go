package server

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"

	amqp "github.com/Azure/go-amqp"
	"github.com/amqgo/amq/internal/codec"
)

// wellBehaved runs a go-amqp client that keeps sending and receiving until
// stop is closed, and reports the first error.
func wellBehaved(t *testing.T, srv *Server, stop <-chan struct{}) <-chan error {
	errc := make(chan error, 1)
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	snd, err := s.NewSender(ctx, "steady", nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "steady", nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(errc)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := snd.Send(ctx, amqp.NewMessage([]byte("x")), nil); err != nil {
				errc <- err
				return
			}
			m, err := rcv.Receive(ctx, nil)
			if err != nil {
				errc <- err
				return
			}
			if err := rcv.AcceptMessage(ctx, m); err != nil {
				errc <- err
				return
			}
		}
	}()
	return errc
}

func TestGarbageClosesOnlyThatConnection(t *testing.T) {
	q := newQueues()
	srv := startServer(t, &Options{Handler: q.handler(), AllowAnonymous: true})
	stop := make(chan struct{})
	errc := wellBehaved(t, srv, stop)

	cases := map[string]func(r *rawConn) *codec.Error{
		"garbage header": func(r *rawConn) *codec.Error {
			junk := make([]byte, 64)
			_, _ = rand.Read(junk)
			r.writeBytes(junk)
			// Answered with a valid header, then closed.
			if _, err := codec.ReadProtoHeader(r.br); err != nil {
				t.Fatalf("no header back: %v", err)
			}
			return nil
		},
		"garbage frames": func(r *rawConn) *codec.Error {
			r.open(0)
			junk := make([]byte, 4096)
			_, _ = rand.Read(junk)
			junk[0] = 0xff // an absurd frame size
			r.writeBytes(junk)
			return r.expectClose()
		},
		"tiny frame size": func(r *rawConn) *codec.Error {
			r.open(0)
			r.writeBytes([]byte{0, 0, 0, 4, 2, 0, 0, 0})
			return r.expectClose()
		},
		"undecodable body": func(r *rawConn) *codec.Error {
			r.open(0)
			r.writeBytes([]byte{0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x10, 0xff})
			return r.expectClose()
		},
		"truncated frame": func(r *rawConn) *codec.Error {
			r.open(0)
			b, _ := codec.AppendFrame(nil, codec.Frame{Body: &codec.Begin{IncomingWindow: 1, OutgoingWindow: 1}})
			r.writeBytes(b[:len(b)-3])
			r.nc.(*net.TCPConn).CloseWrite()
			// The server sees EOF mid-frame and drops the connection.
			for {
				if _, err := codec.ReadFrame(r.br, 0); err != nil {
					return nil
				}
			}
		},
		"frame on unopened channel": func(r *rawConn) *codec.Error {
			r.open(0)
			r.send(5, &codec.Attach{Name: "x", Handle: 0, Role: codec.RoleSender}, nil)
			return r.expectClose()
		},
		"second open": func(r *rawConn) *codec.Error {
			r.open(0)
			r.send(0, &codec.Open{ContainerID: "again"}, nil)
			return r.expectClose()
		},
	}
	want := map[string]codec.Symbol{
		"garbage frames":            codec.ErrCondFramingError,
		"tiny frame size":           codec.ErrCondFramingError,
		"undecodable body":          codec.ErrCondDecodeError,
		"frame on unopened channel": codec.ErrCondNotAllowed,
		"second open":               codec.ErrCondNotAllowed,
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) {
			r := rawDial(t, srv)
			e := run(r)
			if w, ok := want[name]; ok && (e == nil || e.Condition != w) {
				t.Fatalf("close error %v, want %s", e, w)
			}
		})
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatalf("well-behaved client failed: %v", err)
	}
}

func TestUnknownHandle(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true})
	for name, body := range map[string]codec.Performative{
		"transfer": &codec.Transfer{Handle: 7, DeliveryID: u32(0), DeliveryTag: []byte{1}},
		"flow":     &codec.Flow{Handle: u32(7), IncomingWindow: 10, OutgoingWindow: 10, LinkCredit: u32(1), DeliveryCount: u32(0)},
		"detach":   &codec.Detach{Handle: 7},
	} {
		t.Run(name, func(t *testing.T) {
			r := rawDial(t, srv)
			r.anonOpenBegin()
			r.send(0, body, nil)
			end := expect[*codec.End](r)
			if end.Error == nil || end.Error.Condition != codec.ErrCondUnattachedHandle {
				t.Fatalf("end error %v, want unattached-handle", end.Error)
			}
			// The connection survives the session error.
			r.send(0, &codec.End{}, nil)
			r.send(1, &codec.Begin{IncomingWindow: 10, OutgoingWindow: 10}, nil)
			expect[*codec.Begin](r)
		})
	}
}

func TestAttachRefused(t *testing.T) {
	h := HandlerFuncs{AttachFunc: func(_ context.Context, l *Link) error {
		if l.Address() == "forbidden" {
			return &codec.Error{Condition: codec.ErrCondUnauthorizedAccess, Description: "not for you"}
		}
		if l.Address() == "broken" {
			return errors.New("database down")
		}
		return nil
	}}
	srv := startServer(t, &Options{Handler: h, AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	_, err := s.NewSender(ctx, "forbidden", nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("err = %v, want unauthorized-access", err)
	}
	_, err = s.NewReceiver(ctx, "broken", nil)
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondInternalError {
		t.Fatalf("err = %v, want internal-error", err)
	}
	if _, err := s.NewSender(ctx, "fine", nil); err != nil {
		t.Fatalf("session unusable after refusals: %v", err)
	}
}

func TestCloseConnections(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	s := newSession(t, c)
	rcv, err := s.NewReceiver(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.CloseConnections(codec.ErrCondConnectionForced, "test drop")
	_, err = rcv.Receive(ctx, nil)
	var ce *amqp.ConnError
	if !errors.As(err, &ce) || ce.RemoteErr == nil || ce.RemoteErr.Condition != amqp.ErrCondConnectionForced {
		t.Fatalf("err = %v, want connection forced", err)
	}
	waitFor(t, "no live connections", func() bool { return srv.NumConns() == 0 })
	// Still listening.
	_ = dial(t, srv.URL(), nil)
}

// TestAbandonedConnections opens 1,000 connections (half of them never
// finishing the handshake), drops them, and checks the server keeps
// serving and that Close leaves no goroutine behind.
func TestAbandonedConnections(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, err := Listen("amqp://127.0.0.1:0", &Options{AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	conns := make(chan net.Conn, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				return // the listen backlog may refuse some: fine
			}
			if i%2 == 0 {
				_, _ = nc.Write(protoHeader(codec.ProtoIDAMQP))
				b, _ := codec.AppendFrame(nil, codec.Frame{Body: &codec.Open{ContainerID: "x"}})
				_, _ = nc.Write(b)
			}
			conns <- nc
		}()
	}
	wg.Wait()
	close(conns)
	n := 0
	for nc := range conns {
		if n%3 == 0 {
			nc.Close() // abandoned outright
		} else {
			defer nc.Close() // left hanging until Close
		}
		n++
	}
	// The server still works.
	c, err := amqp.Dial(testCtx(t), srv.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NewSession(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if srv.NumConns() != 0 {
		t.Fatalf("%d connections after Close", srv.NumConns())
	}
	waitFor(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= base+5 })
}

package server

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// rawConn is a hand-driven AMQP client for what go-amqp cannot do: SCRAM,
// detach without close, protocol violations.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func rawDial(t *testing.T, srv *Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawConn) writeBytes(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawConn) header(id uint8) uint8 {
	r.t.Helper()
	r.writeBytes(protoHeader(id))
	got, err := codec.ReadProtoHeader(r.br)
	if err != nil {
		r.t.Fatalf("read header: %v", err)
	}
	return got
}

func (r *rawConn) send(ch uint16, body codec.Performative, payload []byte) {
	r.t.Helper()
	b, err := codec.AppendFrame(nil, codec.Frame{Type: body.FrameType(), Channel: ch, Body: body, Payload: payload})
	if err != nil {
		r.t.Fatal(err)
	}
	r.writeBytes(b)
}

// next returns the next non-empty frame.
func (r *rawConn) next() codec.Frame {
	r.t.Helper()
	for {
		f, err := codec.ReadFrame(r.br, 0)
		if err != nil {
			r.t.Fatalf("read frame: %v", err)
		}
		if f.Body != nil {
			return f
		}
	}
}

// expect reads frames until one of type T arrives (skipping flows and
// other bookkeeping) and returns it.
func expect[T codec.Performative](r *rawConn) T {
	r.t.Helper()
	for {
		f := r.next()
		if v, ok := f.Body.(T); ok {
			return v
		}
		if c, ok := f.Body.(*codec.Close); ok {
			var zero T
			r.t.Fatalf("got close %v while waiting for %T", c.Error, zero)
		}
	}
}

// saslOutcome runs a SASL exchange with the given mechanism and responses.
func (r *rawConn) saslPlainOrAnon(mech string, initial []byte) *codec.SASLOutcome {
	r.t.Helper()
	if id := r.header(codec.ProtoIDSASL); id != codec.ProtoIDSASL {
		r.t.Fatalf("server answered header %d", id)
	}
	expect[*codec.SASLMechanisms](r)
	r.send(0, &codec.SASLInit{Mechanism: codec.Symbol(mech), InitialResponse: initial}, nil)
	return expect[*codec.SASLOutcome](r)
}

// open does the AMQP header and open exchange.
func (r *rawConn) open(idle uint32) *codec.Open {
	r.t.Helper()
	if id := r.header(codec.ProtoIDAMQP); id != codec.ProtoIDAMQP {
		r.t.Fatalf("server answered header %d", id)
	}
	r.send(0, &codec.Open{ContainerID: "raw", IdleTimeOut: idle}, nil)
	return expect[*codec.Open](r)
}

// anonOpen connects anonymously (bare AMQP) and begins a session on
// channel 0.
func (r *rawConn) anonOpenBegin() {
	r.t.Helper()
	r.open(0)
	r.send(0, &codec.Begin{IncomingWindow: 1000, OutgoingWindow: 1000}, nil)
	expect[*codec.Begin](r)
}

// expectClose reads until the server's close and returns its error.
func (r *rawConn) expectClose() *codec.Error {
	r.t.Helper()
	for {
		f, err := codec.ReadFrame(r.br, 0)
		if err != nil {
			r.t.Fatalf("read frame while waiting for close: %v", err)
		}
		if c, ok := f.Body.(*codec.Close); ok {
			return c.Error
		}
	}
}

func u32(v uint32) *uint32 { return &v }

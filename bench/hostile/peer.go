package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/amqgo/amq/internal/codec"
)

// peer is one hand-driven AMQP connection: SASL ANONYMOUS, open, then
// whatever the attack writes. One goroutine reads frames into a channel;
// only the attack's goroutine writes.
type peer struct {
	nc   net.Conn
	br   *bufio.Reader
	open *codec.Open // the server's
	buf  []byte

	frames  chan codec.Frame
	readErr error // valid once frames is closed
	done    chan struct{}
	once    sync.Once
	unwatch func() bool
}

// closedError is the server's close (or end) frame.
type closedError struct {
	what string // "close" or "end"
	err  *codec.Error
}

func (e *closedError) Error() string { return e.what + ": " + condition(e.err) }

// condition formats an AMQP error as "condition: description" (the
// description cut to 100 bytes).
func condition(e *codec.Error) string {
	if e == nil {
		return "no error"
	}
	d := e.Description
	if len(d) > 100 {
		d = d[:100] + "…"
	}
	if d == "" {
		return string(e.Condition)
	}
	return string(e.Condition) + ": " + d
}

// dialPeer connects to addr and runs the SASL ANONYMOUS and open
// exchanges. The connection closes when ctx ends, which unblocks every
// read and write.
func dialPeer(ctx context.Context, addr string) (*peer, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &peer{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), done: make(chan struct{})}
	p.unwatch = context.AfterFunc(ctx, func() { nc.Close() })
	if err := p.handshake(); err != nil {
		p.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	p.frames = make(chan codec.Frame, 4096)
	go p.read()
	return p, nil
}

func (p *peer) handshake() error {
	if _, err := p.nc.Write(codec.ProtoSASL[:]); err != nil {
		return err
	}
	if id, err := codec.ReadProtoHeader(p.br); err != nil {
		return fmt.Errorf("SASL header: %w", err)
	} else if id != codec.ProtoIDSASL {
		return fmt.Errorf("server answered the SASL header with protocol id %d", id)
	}
	if _, err := readBody[*codec.SASLMechanisms](p); err != nil {
		return err
	}
	if err := p.send(0, &codec.SASLInit{Mechanism: "ANONYMOUS", InitialResponse: []byte("hostile")}, nil); err != nil {
		return err
	}
	out, err := readBody[*codec.SASLOutcome](p)
	if err != nil {
		return err
	}
	if out.Code != codec.SASLCodeOK {
		return fmt.Errorf("SASL ANONYMOUS refused, code %d", out.Code)
	}
	if _, err := p.nc.Write(codec.ProtoAMQP[:]); err != nil {
		return err
	}
	if id, err := codec.ReadProtoHeader(p.br); err != nil {
		return fmt.Errorf("AMQP header: %w", err)
	} else if id != codec.ProtoIDAMQP {
		return fmt.Errorf("server answered the AMQP header with protocol id %d", id)
	}
	if err := p.send(0, &codec.Open{ContainerID: "hostile", MaxFrameSize: 1 << 20}, nil); err != nil {
		return err
	}
	p.open, err = readBody[*codec.Open](p)
	return err
}

// readBody reads frames during the handshake until one of type T.
func readBody[T codec.Performative](p *peer) (T, error) {
	var zero T
	for {
		f, err := codec.ReadFrame(p.br, 0)
		if err != nil {
			return zero, err
		}
		switch b := f.Body.(type) {
		case T:
			return b, nil
		case *codec.Close:
			return zero, &closedError{"close", b.Error}
		}
	}
}

// maxFrame is the largest frame the server takes.
func (p *peer) maxFrame() int {
	if p.open.MaxFrameSize == 0 || p.open.MaxFrameSize > 1<<20 {
		return 1 << 20
	}
	return int(p.open.MaxFrameSize)
}

func (p *peer) read() {
	defer close(p.frames)
	for {
		f, err := codec.ReadFrame(p.br, 0)
		if err != nil {
			p.readErr = err
			return
		}
		if f.Body == nil { // heartbeat
			continue
		}
		select {
		case p.frames <- f:
		case <-p.done:
			p.readErr = net.ErrClosed
			return
		}
	}
}

// next returns the next frame from the server; a close or an end is
// returned as a *closedError.
func (p *peer) next(ctx context.Context) (codec.Frame, error) {
	select {
	case f, ok := <-p.frames:
		if !ok {
			return codec.Frame{}, p.lost(ctx)
		}
		switch b := f.Body.(type) {
		case *codec.Close:
			return f, &closedError{"close", b.Error}
		case *codec.End:
			return f, &closedError{"end", b.Error}
		}
		return f, nil
	case <-ctx.Done():
		return codec.Frame{}, ctx.Err()
	}
}

// lost is the error for a connection that ended without a close frame.
func (p *peer) lost(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("connection lost: %w", p.readErr)
}

func (p *peer) send(ch uint16, body codec.Performative, payload []byte) error {
	var err error
	p.buf, err = codec.AppendFrame(p.buf[:0], codec.Frame{Type: body.FrameType(), Channel: ch, Body: body, Payload: payload})
	if err != nil {
		return err
	}
	_, err = p.nc.Write(p.buf)
	return err
}

// begin begins a session on channel ch and returns the server's begin.
func (p *peer) begin(ctx context.Context, ch uint16) (*codec.Begin, error) {
	hm := ^uint32(0)
	if err := p.send(ch, &codec.Begin{IncomingWindow: 1 << 20, OutgoingWindow: 1 << 20, HandleMax: &hm}, nil); err != nil {
		return nil, err
	}
	for {
		f, err := p.next(ctx)
		if err != nil {
			return nil, err
		}
		if b, ok := f.Body.(*codec.Begin); ok && b.RemoteChannel != nil && *b.RemoteChannel == ch {
			return b, nil
		}
	}
}

func (p *peer) close() {
	p.once.Do(func() {
		p.unwatch()
		close(p.done)
		p.nc.Close()
	})
}

// isClosed reports whether err is the server's close or end, and returns
// it.
func isClosed(err error) (*closedError, bool) {
	var ce *closedError
	ok := errors.As(err, &ce)
	return ce, ok
}

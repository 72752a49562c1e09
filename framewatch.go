package amq

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/codec"
)

// AMQP 1.0 performative descriptors the watch cares about (section 2.7).
const (
	descAttach = 0x12
	descDetach = 0x16
	descEnd    = 0x17
)

// frameWatch sits directly under go-amqp, which writes exactly one frame
// per Write, and notes the attach and detach frames it sends. It exists
// because a link close has to be "detach, then end the session": amq
// must know when the detach has gone out, without waiting for the peer's
// answer (see detachAndEnd), and only then end the session — never the
// other way round, or the detach would arrive on a channel the peer has
// already ended.
type frameWatch struct {
	net.Conn

	mu       sync.Mutex
	channels map[string]uint16          // link name → channel of its last attach
	names    map[uint16]string          // the reverse, to forget a name when its session ends
	detached map[uint16][]chan struct{} // channel → closed when a detach is written on it
}

func newFrameWatch(c net.Conn) *frameWatch {
	return &frameWatch{
		Conn:     c,
		channels: make(map[string]uint16),
		names:    make(map[uint16]string),
		detached: make(map[uint16][]chan struct{}),
	}
}

func (w *frameWatch) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if err == nil {
		w.observe(p)
	}
	return n, err
}

// observe looks at one written frame: 8-byte header (size, doff, type,
// channel), then the performative's descriptor, 0x00 0x53 CODE.
func (w *frameWatch) observe(p []byte) {
	if len(p) < 8 || p[5] != codec.FrameAMQP {
		return // the protocol header, or a SASL frame
	}
	body := int(p[4]) * 4
	if body < 8 || len(p) < body+3 || p[body] != 0x00 || p[body+1] != 0x53 {
		return // an empty (heartbeat) frame, or not a small descriptor
	}
	channel := binary.BigEndian.Uint16(p[6:8])
	switch p[body+2] {
	case descAttach:
		perf, _, err := codec.DecodeFrameBody(codec.FrameAMQP, p[body:])
		if a, ok := perf.(*codec.Attach); ok && err == nil {
			w.mu.Lock()
			w.channels[a.Name] = channel
			w.names[channel] = a.Name
			w.mu.Unlock()
		}
	case descDetach:
		w.mu.Lock()
		for _, ch := range w.detached[channel] {
			close(ch)
		}
		delete(w.detached, channel)
		w.mu.Unlock()
	case descEnd:
		// amq runs one link per session: the session's end forgets it.
		w.mu.Lock()
		if name, ok := w.names[channel]; ok && w.channels[name] == channel {
			delete(w.channels, name)
		}
		delete(w.names, channel)
		w.mu.Unlock()
	}
}

// detachWritten returns a channel closed once a detach has been written on
// the channel where the link named name was attached. Ask before the
// detach is sent.
func (w *frameWatch) detachWritten(name string) <-chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	defer w.mu.Unlock()
	channel, ok := w.channels[name]
	if !ok {
		close(ch) // never attached here: nothing to wait for
		return ch
	}
	w.detached[channel] = append(w.detached[channel], ch)
	return ch
}

// detachAndEnd closes a link the way a peer expects — a detach with
// closed=true — and then ends the link's session; the peer's answer to the
// end confirms it has processed both. It does not wait for the answer to
// the detach once the detach is on the wire: that answer adds nothing the
// end's does not, and a peer that does not give it must not hold Close
// until ctx ends. (RabbitMQ 3.10 answers with a non-closing detach, which
// go-amqp alone would never take as the answer; typefix now shows it as
// closing.)
func (c *Client) detachAndEnd(ctx context.Context, conn *amqp.Conn, name string, detach func(context.Context) error, session *amqp.Session) error {
	var detachErr error
	if w := c.watchFor(conn); w != nil && !connLost(conn) {
		written := w.detachWritten(name)
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- detach(dctx) }()
		finished := false
		select {
		case detachErr = <-done:
			finished = true
		case <-written:
		case <-ctx.Done():
		}
		cancel()
		if !finished {
			<-done // returns at once now that dctx is cancelled
		}
	}
	endErr := endSession(ctx, session, c.cfg.CloseTimeout)
	var le *amqp.LinkError
	if errors.As(detachErr, &le) && le.RemoteErr != nil {
		return detachErr
	}
	if endErr != nil && !errors.Is(endErr, context.DeadlineExceeded) && !errors.Is(endErr, context.Canceled) && !connLost(conn) {
		return endErr
	}
	return nil
}

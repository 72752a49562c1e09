package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// What a hostile peer can make the engine hold, allocate or send, and the
// bound on each: a hand-driven peer does what no well-behaved one would.

// rawPeer is the listening side of one connection, driven frame by frame.
type rawPeer struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// rawListen accepts one connection and hands it to fn on its own
// goroutine; it returns the address to dial.
func rawListen(t *testing.T, fn func(p *rawPeer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
		fn(&rawPeer{t: t, nc: nc, br: bufio.NewReader(nc)})
	}()
	return ln.Addr().String()
}

func (p *rawPeer) send(ch uint16, body codec.Performative, payload []byte) error {
	b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Channel: ch, Body: body, Payload: payload})
	if err != nil {
		return err
	}
	_, err = p.nc.Write(b)
	return err
}

// next returns the next frame with a body (heartbeats skipped).
func (p *rawPeer) next() (codec.Frame, error) {
	for {
		fr, err := codec.ReadFrame(p.br, 1<<20)
		if err != nil || fr.Body != nil {
			return fr, err
		}
	}
}

// open answers the client's header and open with ours (max is our
// max-frame-size, 0 for none).
func (p *rawPeer) open(max uint32) error {
	if _, err := codec.ReadProtoHeader(p.br); err != nil {
		return err
	}
	if _, err := p.nc.Write([]byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0}); err != nil {
		return err
	}
	if _, err := p.next(); err != nil { // the client's open
		return err
	}
	return p.send(0, &codec.Open{ContainerID: "hostile", MaxFrameSize: max}, nil)
}

// attachedReceiver opens, answers a begin and the attach of a receiving
// link, and waits for the client's flow; it returns the link-credit the
// client granted.
func (p *rawPeer) attachedReceiver() (uint32, error) {
	if err := p.open(0); err != nil {
		return 0, err
	}
	fr, err := p.next()
	if err != nil {
		return 0, err
	}
	if _, ok := fr.Body.(*codec.Begin); !ok {
		return 0, fmt.Errorf("expected begin, got %T", fr.Body)
	}
	zero := uint16(0)
	if err := p.send(0, &codec.Begin{RemoteChannel: &zero, IncomingWindow: 1 << 20, OutgoingWindow: 1 << 20}, nil); err != nil {
		return 0, err
	}
	fr, err = p.next()
	if err != nil {
		return 0, err
	}
	a, ok := fr.Body.(*codec.Attach)
	if !ok {
		return 0, fmt.Errorf("expected attach, got %T", fr.Body)
	}
	dc := uint32(0)
	if err := p.send(0, &codec.Attach{Name: a.Name, Handle: 0, Role: codec.RoleSender, Source: a.Source, Target: a.Target, InitialDeliveryCount: &dc}, nil); err != nil {
		return 0, err
	}
	for {
		fr, err := p.next()
		if err != nil {
			return 0, err
		}
		if f, ok := fr.Body.(*codec.Flow); ok && f.LinkCredit != nil {
			return *f.LinkCredit, nil
		}
	}
}

// detachError reads frames until the client's detach and returns its
// error.
func (p *rawPeer) detachError() (*codec.Error, error) {
	for {
		fr, err := p.next()
		if err != nil {
			return nil, err
		}
		if d, ok := fr.Body.(*codec.Detach); ok {
			return d.Error, nil
		}
	}
}

func dialAddr(t *testing.T, addr string, cfg *engine.Config) (*engine.Conn, error) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	c, err := engine.Dial(testCtx(t), nc, connIDs.Add(1), cfg, engine.OpenOptions{})
	if err == nil {
		t.Cleanup(func() { _ = engine.CloseWait(context.Background(), c, nil) })
	}
	return c, err
}

func attachReceiver(t *testing.T, c *engine.Conn, window uint32) *engine.Receiver {
	t.Helper()
	ctx := testCtx(t)
	s, err := engine.NewSession(ctx, c)
	require.NoError(t, err)
	r, err := s.AttachReceiver(ctx, &engine.AttachOptions{Name: "r", Source: &codec.Source{Address: "q"}, Target: &codec.Target{}, CreditWindow: window})
	require.NoError(t, err)
	return r
}

// TestClientEnforcesLinkCredit: transfers beyond the credit granted detach
// the link with amqp:link:transfer-limit-exceeded; nothing past the credit
// reaches the application.
func TestClientEnforcesLinkCredit(t *testing.T) {
	const window, sent = 10, 1000
	got := make(chan *codec.Error, 1)
	addr := rawListen(t, func(p *rawPeer) {
		credit, err := p.attachedReceiver()
		if err != nil || credit != window {
			t.Errorf("attach: credit %d, %v", credit, err)
			got <- nil
			return
		}
		msg, _ := (&codec.Message{Value: "x", HasValue: true}).MarshalBinary()
		for i := uint32(0); i < sent; i++ {
			id := i
			if p.send(0, &codec.Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{byte(i), byte(i >> 8)}, Settled: true}, msg) != nil {
				break
			}
		}
		e, err := p.detachError()
		if err != nil {
			t.Errorf("reading the client's detach: %v", err)
		}
		got <- e
	})
	c, err := dialAddr(t, addr, clientConfig())
	require.NoError(t, err)
	r := attachReceiver(t, c, window)
	e := <-got
	require.NotNil(t, e, "the client detached without an error, or not at all")
	assert.Equal(t, codec.ErrCondTransferLimitExceeded, e.Condition)
	n := 0
	for {
		if _, err := r.Receive(testCtx(t)); err != nil {
			require.ErrorIs(t, err, engine.ErrLinkDetached)
			break
		}
		n++
	}
	assert.LessOrEqual(t, n, window, "deliveries beyond the credit reached the application")
}

// TestClientBoundsAMessageThatNeverEnds: a delivery of more=true frames
// that would grow past the link's max-message-size detaches the link with
// amqp:link:message-size-exceeded instead of growing without bound.
func TestClientBoundsAMessageThatNeverEnds(t *testing.T) {
	const limit = 1 << 20
	got := make(chan *codec.Error, 1)
	announced := make(chan uint64, 1)
	addr := rawListen(t, func(p *rawPeer) {
		if _, err := codec.ReadProtoHeader(p.br); err != nil {
			got <- nil
			return
		}
		_, _ = p.nc.Write([]byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0})
		_, _ = p.next()
		_ = p.send(0, &codec.Open{ContainerID: "hostile"}, nil)
		_, _ = p.next() // begin
		zero := uint16(0)
		_ = p.send(0, &codec.Begin{RemoteChannel: &zero, IncomingWindow: 1 << 20, OutgoingWindow: 1 << 20}, nil)
		fr, _ := p.next()
		a, ok := fr.Body.(*codec.Attach)
		if !ok {
			got <- nil
			return
		}
		announced <- a.MaxMessageSize
		dc := uint32(0)
		_ = p.send(0, &codec.Attach{Name: a.Name, Role: codec.RoleSender, Source: a.Source, Target: a.Target, InitialDeliveryCount: &dc}, nil)
		chunk := make([]byte, 32<<10)
		id := uint32(0)
		first := true
		for i := 0; i < 4*limit/len(chunk); i++ { // four times the limit, never ending
			tr := &codec.Transfer{Handle: 0, More: true}
			if first {
				tr.DeliveryID, tr.DeliveryTag, first = &id, []byte{1}, false
			}
			if p.send(0, tr, chunk) != nil {
				break
			}
		}
		e, err := p.detachError()
		if err != nil {
			t.Errorf("reading the client's detach: %v", err)
		}
		got <- e
	})
	cfg := clientConfig()
	cfg.MaxMessageSize = limit
	c, err := dialAddr(t, addr, cfg)
	require.NoError(t, err)
	attachReceiver(t, c, 10)
	assert.Equal(t, uint64(limit), <-announced, "the attach announces max-message-size")
	e := <-got
	require.NotNil(t, e)
	assert.Equal(t, codec.ErrCondMessageSizeExceeded, e.Condition)
}

// TestClientRefusesTinyMaxFrameSize: a peer whose open asks for frames
// below AMQP's 512-byte minimum is refused (§2.7.1).
func TestClientRefusesTinyMaxFrameSize(t *testing.T) {
	closed := make(chan *codec.Error, 1)
	addr := rawListen(t, func(p *rawPeer) {
		if p.open(256) != nil {
			closed <- nil
			return
		}
		for {
			fr, err := p.next()
			if err != nil {
				closed <- nil
				return
			}
			if cl, ok := fr.Body.(*codec.Close); ok {
				closed <- cl.Error
				return
			}
		}
	})
	_, err := dialAddr(t, addr, clientConfig())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max-frame-size 256")
	e := <-closed
	require.NotNil(t, e, "no close with an error")
	assert.Equal(t, codec.ErrCondInvalidField, e.Condition)
}

// TestServerRefusesTinyMaxFrameSize: the same on the server's side.
func TestServerRefusesTinyMaxFrameSize(t *testing.T) {
	srv := listen(t, server.HandlerFuncs{})
	nc, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	p := &rawPeer{t: t, nc: nc, br: bufio.NewReader(nc)}
	_, err = nc.Write([]byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0})
	require.NoError(t, err)
	_, err = codec.ReadProtoHeader(p.br)
	require.NoError(t, err)
	require.NoError(t, p.send(0, &codec.Open{ContainerID: "tiny", MaxFrameSize: 100}, nil))
	var e *codec.Error
	for {
		fr, err := p.next()
		require.NoError(t, err, "the server closed without a close frame")
		if cl, ok := fr.Body.(*codec.Close); ok {
			e = cl.Error
			break
		}
	}
	require.NotNil(t, e)
	assert.Equal(t, codec.ErrCondInvalidField, e.Condition)
	assert.Contains(t, e.Description, "max-frame-size 100")
}

// TestHeartbeatIntervalFloor: however short the idle time-out a peer
// announces, we heartbeat at most every MinHeartbeatInterval.
func TestHeartbeatIntervalFloor(t *testing.T) {
	for _, tc := range []struct{ peer, want time.Duration }{
		{0, 0},
		{time.Millisecond, engine.MinHeartbeatInterval},
		{150 * time.Millisecond, engine.MinHeartbeatInterval},
		{time.Minute, 30 * time.Second},
	} {
		assert.Equal(t, tc.want, engine.HeartbeatInterval(tc.peer), "peer idle %v", tc.peer)
	}
}

// TestClientRefusesPeerSessions: a peer beginning sessions of its own on a
// client (each would hold memory up to channel-max, and the links attached
// on them more) has the connection closed with amqp:not-allowed.
func TestClientRefusesPeerSessions(t *testing.T) {
	closed := make(chan *codec.Error, 1)
	addr := rawListen(t, func(p *rawPeer) {
		if p.open(0) != nil {
			closed <- nil
			return
		}
		if p.send(3, &codec.Begin{IncomingWindow: 100, OutgoingWindow: 100}, nil) != nil {
			closed <- nil
			return
		}
		for {
			fr, err := p.next()
			if err != nil {
				closed <- nil
				return
			}
			if cl, ok := fr.Body.(*codec.Close); ok {
				closed <- cl.Error
				return
			}
		}
	})
	cfg := clientConfig()
	cfg.RefusePeerSessions = true
	c, err := dialAddr(t, addr, cfg)
	require.NoError(t, err)
	e := <-closed
	require.NotNil(t, e, "no close with an error")
	assert.Equal(t, codec.ErrCondNotAllowed, e.Condition)
	select {
	case <-c.Done():
	case <-testCtx(t).Done():
		t.Fatal("the connection did not end")
	}
}

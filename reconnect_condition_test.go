package amq_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// Which ends of a connection the client reconnects after (issue #16 item
// 3): a lost transport and amqp:connection:forced, as in the reference;
// any other close ends the client unless ConnectOptions.ReconnectOn says
// otherwise. And the reconnect schedule is reset only by a connection that
// stayed up, so a peer closing every connection at once is not dialled in
// a tight loop.

// rawPeer is an AMQP peer written frame by frame, for behaviour no real
// peer offers on demand. For each connection it exchanges protocol headers
// (the client runs without SASL), reads the client's open, counts the
// connection and runs script.
type rawPeer struct {
	ln     net.Listener
	done   chan struct{} // closed when the test ends
	opens  atomic.Int64  // the client's opens read
	opened chan struct{} // one value per open read
}

// peerConn is one connection of a rawPeer, for its script.
type peerConn struct {
	nc   net.Conn
	done <-chan struct{}
}

func startRawPeer(t *testing.T, script func(pc *peerConn)) *rawPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &rawPeer{ln: ln, done: make(chan struct{}), opened: make(chan struct{}, 1<<16)}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(p.done)
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				// Bounds a script waiting for a client that never answers.
				_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
				if id, err := codec.ReadProtoHeader(nc); err != nil || id != codec.ProtoIDAMQP {
					return
				}
				if _, err := nc.Write(codec.ProtoAMQP[:]); err != nil {
					return
				}
				fr, err := codec.ReadFrame(nc, 0)
				if err != nil {
					return
				}
				if _, ok := fr.Body.(*codec.Open); !ok {
					return
				}
				p.opens.Add(1)
				p.opened <- struct{}{}
				script(&peerConn{nc: nc, done: p.done})
			}()
		}
	}()
	return p
}

func (p *rawPeer) url() string { return "amqp://" + p.ln.Addr().String() }

// waitOpens blocks until the peer has read n opens in all.
func (p *rawPeer) waitOpens(t *testing.T, ctx context.Context, n int64) {
	t.Helper()
	for p.opens.Load() < n {
		select {
		case <-p.opened:
		case <-ctx.Done():
			t.Fatalf("the peer saw %d connections, want %d", p.opens.Load(), n)
		}
	}
}

func (pc *peerConn) send(body codec.Performative) error {
	return codec.WriteFrame(pc.nc, codec.Frame{Type: codec.FrameAMQP, Body: body})
}

// awaitClose reads until the client's close frame (true) or the end of the
// connection (false).
func (pc *peerConn) awaitClose() bool {
	for {
		fr, err := codec.ReadFrame(pc.nc, 0)
		if err != nil {
			return false
		}
		if _, ok := fr.Body.(*codec.Close); ok {
			return true
		}
	}
}

// openThenClose is a script: the peer opens, keeps the connection for
// hold, then closes it with e (nil: without an error).
func openThenClose(hold time.Duration, e *codec.Error) func(*peerConn) {
	return func(pc *peerConn) {
		if pc.send(&codec.Open{ContainerID: "raw-peer"}) != nil {
			return
		}
		if hold > 0 {
			t := time.NewTimer(hold)
			defer t.Stop()
			select {
			case <-t.C:
			case <-pc.done:
				return
			}
		}
		if pc.send(&codec.Close{Error: e}) == nil {
			pc.awaitClose()
		}
	}
}

// noSASL dials a rawPeer, which speaks AMQP without a SASL layer.
var noSASL = amq.SASLOptions{Enabled: ptr(false)}

// countingPolicy counts the calls the client makes; every attempt waits
// delay.
type countingPolicy struct {
	delay         time.Duration
	resets, nexts atomic.Int64
}

func (p *countingPolicy) Reset() { p.resets.Add(1) }

func (p *countingPolicy) Next() (time.Duration, bool) {
	p.nexts.Add(1)
	return p.delay, true
}

// TestPeerCloseWithConditionEndsClient: a close with any condition but
// amqp:connection:forced, or with none, ends the client with the peer's
// error, and nothing is dialled again.
func TestPeerCloseWithConditionEndsClient(t *testing.T) {
	for _, cond := range []server.Symbol{server.CondUnauthorizedAccess, server.CondResourceLimitExceeded, server.CondInternalError, ""} {
		name := string(cond)
		if name == "" {
			name = "no error"
		}
		t.Run(name, func(t *testing.T) {
			srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{AllowAnonymous: true})
			require.NoError(t, err)
			t.Cleanup(func() { srv.Close() })
			rec := newStateRecorder()
			c := dial(t, srv.URL(), &amq.ConnectOptions{Reconnect: fastReconnect(), OnStateChange: rec.record})
			ctx := testCtx(t)
			rec.wait(t, amq.StateConnected)
			r, err := c.NewReceiver(ctx, "closing", nil)
			require.NoError(t, err)

			srv.CloseConnections(cond, "the peer says goodbye")
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("the client did not end: it reconnected after a close that was not a loss")
			}
			err = c.Err()
			var ae *amq.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, amq.ScopeConnection, ae.Scope)
			assert.Equal(t, string(cond), ae.Condition)
			if cond == "" {
				assert.ErrorIs(t, err, amq.ErrClosedByPeer)
			} else {
				assert.Equal(t, "the peer says goodbye", ae.Description)
				assert.NotErrorIs(t, err, amq.ErrClosedByPeer)
			}
			assert.False(t, amq.ReconnectOnLoss(err))

			// The loss is reported, then the failure, with no attempt between.
			states := []amq.State{rec.wait(t, amq.StateDisconnected).State}
			for states[len(states)-1] != amq.StateFailed {
				select {
				case ev := <-rec.ch:
					states = append(states, ev.State)
					if ev.State == amq.StateFailed {
						assert.Equal(t, err, ev.Err)
					}
				case <-ctx.Done():
					t.Fatalf("no failed event after %v", states)
				}
			}
			assert.Equal(t, []amq.State{amq.StateDisconnected, amq.StateFailed}, states)

			// Every user of the client sees the same error.
			sendErr := c.Send(ctx, amq.NewMessage("x").SetTo("closing"))
			require.ErrorAs(t, sendErr, &ae)
			assert.Equal(t, string(cond), ae.Condition)
			for range r.Deliveries() {
			}
			assert.Error(t, r.Err())
		})
	}
}

// TestReconnectOnRetriesChosenConditions: ReconnectOn opts in to a
// condition the reference does not retry.
func TestReconnectOnRetriesChosenConditions(t *testing.T) {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	asked := make(chan error, 16)
	rec := newStateRecorder()
	c := dial(t, srv.URL(), &amq.ConnectOptions{
		Reconnect:     fastReconnect(),
		OnStateChange: rec.record,
		ReconnectOn: func(err error) bool {
			asked <- err
			var ae *amq.Error
			if errors.As(err, &ae) && ae.Condition == "amqp:resource-limit-exceeded" {
				return true
			}
			return amq.ReconnectOnLoss(err)
		},
	})
	ctx := testCtx(t)
	rec.wait(t, amq.StateConnected)

	srv.CloseConnections(server.CondResourceLimitExceeded, "too busy, come back later")
	rec.wait(t, amq.StateDisconnected)
	rec.wait(t, amq.StateConnected)
	require.NoError(t, c.Send(ctx, amq.NewMessage("after").SetTo("q")))
	assert.NoError(t, c.Err())
	var ae *amq.Error
	require.ErrorAs(t, <-asked, &ae)
	assert.Equal(t, "amqp:resource-limit-exceeded", ae.Condition)
	assert.Equal(t, "too busy, come back later", ae.Description)

	// The rest still follows the reference's rule.
	srv.CloseConnections(server.CondUnauthorizedAccess, "revoked")
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the client did not end")
	}
	require.ErrorAs(t, c.Err(), &ae)
	assert.Equal(t, "amqp:unauthorized-access", ae.Condition)
}

func TestReconnectOnLoss(t *testing.T) {
	conn := func(cond string) error {
		return &amq.Error{Scope: amq.ScopeConnection, Op: "connection to", Condition: cond}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"forced", conn("amqp:connection:forced"), true},
		{"forced, wrapped", fmt.Errorf("re-attach: %w", conn("amqp:connection:forced")), true},
		{"transport", &amq.Error{Scope: amq.ScopeTransport, Op: "dial", Err: io.EOF}, true},
		{"connection lost", &amq.Error{Scope: amq.ScopeConnection, Op: "connection to", Err: io.ErrUnexpectedEOF}, true},
		{"timeout", fmt.Errorf("amq: re-attaching links: %w", context.DeadlineExceeded), true},
		{"unauthorized", conn("amqp:unauthorized-access"), false},
		{"resource limit", conn("amqp:resource-limit-exceeded"), false},
		{"internal error", conn("amqp:internal-error"), false},
		{"redirect", conn("amqp:connection:redirect"), false},
		{"clean close", &amq.Error{Scope: amq.ScopeConnection, Op: "connection to", Err: amq.ErrClosedByPeer}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, amq.ReconnectOnLoss(tt.err), tt.name)
	}
}

// TestShortConnectionsDoNotResetBackoff: a peer that closes every
// connection as soon as it is open (with amqp:connection:forced, which is
// retried) must not reset the reconnect schedule. Without the rule, every
// loss called Reset and the next attempt was immediate: a tight loop.
func TestShortConnectionsDoNotResetBackoff(t *testing.T) {
	peer := startRawPeer(t, openThenClose(0, &codec.Error{Condition: codec.ErrCondConnectionForced, Description: "go away"}))
	pol := &countingPolicy{delay: time.Millisecond}
	c := dial(t, peer.url(), &amq.ConnectOptions{SASL: noSASL, Reconnect: pol})
	ctx := testCtx(t)

	const conns = 20
	peer.waitOpens(t, ctx, conns)
	assert.Equal(t, int64(1), pol.resets.Load(), "Reset is called once, by Dial: no connection stayed up")
	assert.GreaterOrEqual(t, pol.nexts.Load(), int64(conns-1))
	assert.NoError(t, c.Err())
}

// TestStableConnectionResetsBackoff: a connection that stayed up for
// ReconnectResetAfter restarts the schedule when it is lost.
func TestStableConnectionResetsBackoff(t *testing.T) {
	// The peer keeps each connection 15 times longer than it needs to
	// count as stable.
	peer := startRawPeer(t, openThenClose(300*time.Millisecond, &codec.Error{Condition: codec.ErrCondConnectionForced}))
	pol := &countingPolicy{delay: time.Millisecond}
	dial(t, peer.url(), &amq.ConnectOptions{SASL: noSASL, Reconnect: pol, ReconnectResetAfter: 20 * time.Millisecond})
	ctx := testCtx(t)

	// Dial, then one Reset for each of the two losses before the third
	// connection.
	peer.waitOpens(t, ctx, 3)
	assert.GreaterOrEqual(t, pol.resets.Load(), int64(3))
}

// TestFlappingPeerIsDialledAtBackoffPace is the measurement: a
// peer that closes every connection with amqp:unauthorized-access as soon
// as it is open, and a client told to retry that condition, with the
// default schedule. One client used to open thousands of connections in
// a few seconds; the schedule (0, ~0.1 s, ~0.2 s, ~0.4 s, ..., each ±50%)
// allows at most 6 in the first second.
func TestFlappingPeerIsDialledAtBackoffPace(t *testing.T) {
	peer := startRawPeer(t, openThenClose(0, &codec.Error{Condition: codec.ErrCondUnauthorizedAccess, Description: "not you"}))
	retryAll := func(error) bool { return true }
	ctx := testCtx(t)
	c := dial(t, peer.url(), &amq.ConnectOptions{SASL: noSASL, ReconnectOn: retryAll})
	window := time.NewTimer(time.Second)
	defer window.Stop()

	peer.waitOpens(t, ctx, 3) // it does keep reconnecting
	select {
	case <-window.C:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	assert.LessOrEqual(t, peer.opens.Load(), int64(10), "connections in the first second")
	assert.NoError(t, c.Err())
}

// TestRefusedAttemptEndsRetryingDial: with RetryInitialConnect, a peer
// answering the open with a close (amqp:unauthorized-access) ends Dial at
// once instead of being dialled until ctx ends.
func TestRefusedAttemptEndsRetryingDial(t *testing.T) {
	peer := startRawPeer(t, func(pc *peerConn) {
		if pc.send(&codec.Close{Error: &codec.Error{Condition: codec.ErrCondUnauthorizedAccess, Description: "no entry"}}) == nil {
			pc.awaitClose()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := amq.Dial(ctx, peer.url(), &amq.ConnectOptions{SASL: noSASL, RetryInitialConnect: true, Reconnect: fastReconnect()})
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "amqp:unauthorized-access", ae.Condition)
	assert.NoError(t, ctx.Err())
	assert.Equal(t, int64(1), peer.opens.Load())
}

// TestProtocolViolationIsALoss: a peer that breaks the protocol (a second
// open) is closed by the client with amqp:not-allowed; when the peer then
// answers with a clean close, that is still the client's close for the
// peer's fault, a loss to reconnect after, not the peer's goodbye.
func TestProtocolViolationIsALoss(t *testing.T) {
	var mu sync.Mutex
	var got []*codec.Error
	peer := startRawPeer(t, func(pc *peerConn) {
		if pc.send(&codec.Open{ContainerID: "raw-peer"}) != nil || pc.send(&codec.Open{ContainerID: "raw-peer"}) != nil {
			return
		}
		for {
			fr, err := codec.ReadFrame(pc.nc, 0)
			if err != nil {
				return
			}
			if cl, ok := fr.Body.(*codec.Close); ok {
				mu.Lock()
				got = append(got, cl.Error)
				mu.Unlock()
				_ = pc.send(&codec.Close{})
				return
			}
		}
	})
	c := dial(t, peer.url(), &amq.ConnectOptions{SASL: noSASL, Reconnect: fastReconnect()})
	ctx := testCtx(t)
	peer.waitOpens(t, ctx, 2)
	assert.NoError(t, c.Err())
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, got)
	require.NotNil(t, got[0])
	assert.Equal(t, codec.ErrCondNotAllowed, got[0].Condition)
}

package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// Message abort (AMQP 1.0 §2.6.14), both ways: a send whose context ends
// mid-message ends the delivery with aborted=true, and one that ends before
// its first frame sends and consumes nothing; an aborted delivery from the
// peer never reaches Receive.

// encoded returns s encoded as an AMQP message with an amqp-value body.
func encoded(t *testing.T, s string) []byte {
	t.Helper()
	b, err := (&codec.Message{Value: s, HasValue: true}).MarshalBinary()
	require.NoError(t, err)
	return b
}

// bodyOf decodes d's amqp-value.
func bodyOf(t *testing.T, d *engine.IncomingDelivery) any {
	t.Helper()
	m, err := d.Message()
	require.NoError(t, err)
	return m.Value
}

// attachedSender opens (max is the peer's max-frame-size), answers a begin
// with the given session incoming-window and the attach of a sending link,
// and, when credit is not 0, grants that credit.
func (p *rawPeer) attachedSender(max, window, credit uint32) error {
	if err := p.open(max); err != nil {
		return err
	}
	fr, err := p.next()
	if err != nil {
		return err
	}
	if _, ok := fr.Body.(*codec.Begin); !ok {
		return fmt.Errorf("expected begin, got %T", fr.Body)
	}
	zero := uint16(0)
	if err := p.send(0, &codec.Begin{RemoteChannel: &zero, IncomingWindow: window, OutgoingWindow: 1 << 20}, nil); err != nil {
		return err
	}
	fr, err = p.next()
	if err != nil {
		return err
	}
	a, ok := fr.Body.(*codec.Attach)
	if !ok {
		return fmt.Errorf("expected attach, got %T", fr.Body)
	}
	if err := p.send(0, &codec.Attach{Name: a.Name, Handle: 0, Role: codec.RoleReceiver, Source: a.Source, Target: a.Target}, nil); err != nil {
		return err
	}
	if credit == 0 {
		return nil
	}
	return p.flow(0, window, 0, credit)
}

// flow sends a link flow for handle 0: the session window opened to window
// transfers after the nextIn received so far, and credit after
// deliveryCount.
func (p *rawPeer) flow(nextIn, window, deliveryCount, credit uint32) error {
	h := uint32(0)
	return p.send(0, &codec.Flow{
		NextIncomingID: &nextIn, IncomingWindow: window, OutgoingWindow: 1 << 20,
		Handle: &h, DeliveryCount: &deliveryCount, LinkCredit: &credit,
	}, nil)
}

// transfer returns the next transfer and its payload, skipping other
// frames.
func (p *rawPeer) transfer() (*codec.Transfer, []byte, error) {
	for {
		fr, err := p.next()
		if err != nil {
			return nil, nil, err
		}
		if t, ok := fr.Body.(*codec.Transfer); ok {
			return t, fr.Payload, nil
		}
	}
}

func attachSender(t *testing.T, c *engine.Conn) *engine.Sender {
	t.Helper()
	ctx := testCtx(t)
	s, err := engine.NewSession(ctx, c)
	require.NoError(t, err)
	l, err := s.AttachSender(ctx, &engine.AttachOptions{Name: "s", Source: &codec.Source{}, Target: &codec.Target{Address: "q"}})
	require.NoError(t, err)
	return l
}

// sentFrame is what the peer saw of one transfer.
type sentFrame struct {
	id            *uint32
	more, aborted bool
	payload       []byte
}

func (p *rawPeer) nextSent() (sentFrame, error) {
	tr, payload, err := p.transfer()
	if err != nil {
		return sentFrame{}, err
	}
	f := sentFrame{more: tr.More, aborted: tr.Aborted, payload: payload}
	if tr.DeliveryID != nil {
		id := *tr.DeliveryID
		f.id = &id
	}
	return f, nil
}

// TestSendAbortsWhenCtxEndsWaitingForTheWriter: a peer that stops reading
// stalls a large send on the writer's backlog; when its context ends the
// delivery is ended with one transfer with aborted=true (and more=false),
// the send returns the context's error, and the link goes on with the next
// delivery.
func TestSendAbortsWhenCtxEndsWaitingForTheWriter(t *testing.T) {
	const size = 32 << 20 // far beyond the socket buffers and the writer's backlog
	firstSeen := make(chan struct{})
	sendReturned := make(chan struct{})
	type seen struct {
		frames   int
		bytes    int
		final    bool // a frame with more=false that is not the abort
		aborted  *sentFrame
		next     sentFrame
		problems []string
	}
	result := make(chan seen, 1)
	addr := rawListen(t, func(p *rawPeer) {
		var s seen
		defer func() { result <- s }()
		if err := p.attachedSender(0, 1<<30, 10); err != nil {
			s.problems = append(s.problems, err.Error())
			close(firstSeen)
			return
		}
		f, err := p.nextSent()
		if err != nil {
			s.problems = append(s.problems, err.Error())
			close(firstSeen)
			return
		}
		if f.id == nil || *f.id != 0 || !f.more {
			s.problems = append(s.problems, fmt.Sprintf("first frame: %+v", f))
		}
		s.frames, s.bytes = 1, len(f.payload)
		close(firstSeen)
		<-sendReturned // read no more until then: the sender backs up
		for {
			f, err := p.nextSent()
			if err != nil {
				s.problems = append(s.problems, err.Error())
				return
			}
			if f.aborted {
				s.aborted = &f
				break
			}
			s.frames++
			s.bytes += len(f.payload)
			if !f.more {
				s.final = true
				break
			}
		}
		s.next, err = p.nextSent()
		if err != nil {
			s.problems = append(s.problems, err.Error())
		}
	})
	c, err := dialAddr(t, addr, clientConfig())
	require.NoError(t, err)
	l := attachSender(t, c)

	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := l.SendRaw(ctx, make([]byte, size), false)
		errc <- err
	}()
	<-firstSeen
	cancel()
	err = <-errc
	close(sendReturned)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, l.Unsettled(), "the aborted delivery is forgotten")

	d, err := l.SendRaw(testCtx(t), encoded(t, "next"), false)
	require.NoError(t, err)
	s := <-result
	require.Empty(t, s.problems)
	assert.False(t, s.final, "the whole message was sent")
	require.NotNil(t, s.aborted, "no transfer with aborted=true")
	assert.False(t, s.aborted.more, "the abort has more=false")
	assert.Empty(t, s.aborted.payload)
	if assert.NotNil(t, s.aborted.id) {
		assert.Equal(t, uint32(0), *s.aborted.id)
	}
	assert.Less(t, s.bytes, size)
	if assert.NotNil(t, s.next.id) {
		assert.Equal(t, uint32(1), *s.next.id, "the next delivery's id")
	}
	assert.Equal(t, uint32(1), d.ID())
	assert.False(t, s.next.more)
	assert.Equal(t, uint32(8), l.Credit(), "the aborted delivery and the next one used one credit each")
	assert.Equal(t, []*engine.OutgoingDelivery{d}, l.Unsettled())
}

// TestSendAbortWaitsForTheSessionWindow: a send stalled mid-message on the
// peer's session window, whose context ends, has no room for the aborting
// transfer either; the next send sends it first, once the peer opens the
// window, and then its own delivery.
func TestSendAbortWaitsForTheSessionWindow(t *testing.T) {
	const window = 2
	twoSeen := make(chan struct{})
	sendReturned := make(chan struct{})
	type seen struct {
		first, abort, next sentFrame
		problems           []string
	}
	result := make(chan seen, 1)
	addr := rawListen(t, func(p *rawPeer) {
		var s seen
		defer func() { result <- s }()
		fail := func(err error) { s.problems = append(s.problems, err.Error()) }
		if err := p.attachedSender(4096, window, 10); err != nil {
			fail(err)
			close(twoSeen)
			return
		}
		var err error
		if s.first, err = p.nextSent(); err != nil {
			fail(err)
		}
		if _, err = p.nextSent(); err != nil {
			fail(err)
		}
		close(twoSeen)
		<-sendReturned
		// A flow that leaves the window shut and asks for an echo: what
		// the sender queued before the echo (an abort sent beyond the
		// window, when the send gave up) arrives before it.
		next, h, dc, credit := uint32(window), uint32(0), uint32(0), uint32(10)
		if err := p.send(0, &codec.Flow{NextIncomingID: &next, OutgoingWindow: 1 << 20, Handle: &h, DeliveryCount: &dc, LinkCredit: &credit, Echo: true}, nil); err != nil {
			fail(err)
			return
		}
		for {
			fr, err := p.next()
			if err != nil {
				fail(err)
				return
			}
			if _, ok := fr.Body.(*codec.Transfer); ok {
				fail(fmt.Errorf("a transfer beyond the session window"))
				return
			}
			if _, ok := fr.Body.(*codec.Flow); ok {
				break
			}
		}
		if err := p.flow(window, 100, 0, 10); err != nil { // room again
			fail(err)
			return
		}
		if s.abort, err = p.nextSent(); err != nil {
			fail(err)
			return
		}
		if s.next, err = p.nextSent(); err != nil {
			fail(err)
		}
	})
	c, err := dialAddr(t, addr, clientConfig())
	require.NoError(t, err)
	l := attachSender(t, c)

	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := l.SendRaw(ctx, bytes.Repeat([]byte("x"), 64<<10), false) // 16 frames or so
		errc <- err
	}()
	<-twoSeen
	cancel()
	err = <-errc
	close(sendReturned)
	require.ErrorIs(t, err, context.Canceled)

	_, err = l.SendRaw(testCtx(t), encoded(t, "next"), false)
	require.NoError(t, err)
	s := <-result
	require.Empty(t, s.problems)
	assert.True(t, s.first.more)
	assert.True(t, s.abort.aborted, "the frame after the window opened is not the abort: %+v", s.abort)
	assert.False(t, s.abort.more)
	assert.False(t, s.next.aborted)
	if assert.NotNil(t, s.next.id) {
		assert.Equal(t, uint32(1), *s.next.id)
	}
	assert.Equal(t, uint32(8), l.Credit())
}

// TestSendGivenUpBeforeItsFirstFrame: a send whose context ends while it
// waits for the peer's session window or for credit has sent nothing and
// consumed nothing: the next delivery gets delivery-id 0 and the first
// credit, as if the first send had never been tried. (Before, a send given
// up waiting for the window had taken its delivery-id and a credit: the
// peer, that never saw it, then counted one delivery less than we did.)
func TestSendGivenUpBeforeItsFirstFrame(t *testing.T) {
	for _, tc := range []struct {
		name           string
		window, credit uint32
	}{
		{"no session window", 0, 1},
		{"no credit", 100, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attached := make(chan struct{})
			gaveUp := make(chan struct{})
			got := make(chan sentFrame, 1)
			addr := rawListen(t, func(p *rawPeer) {
				defer close(got)
				err := p.attachedSender(0, tc.window, tc.credit)
				close(attached)
				if err != nil {
					return
				}
				<-gaveUp
				// One credit at delivery-count 0, and room: a sender that
				// counted the send given up has no credit left.
				if p.flow(0, 100, 0, 1) != nil {
					return
				}
				if f, err := p.nextSent(); err == nil {
					got <- f
				}
			})
			c, err := dialAddr(t, addr, clientConfig())
			require.NoError(t, err)
			l := attachSender(t, c)
			<-attached

			ctx, cancel := context.WithCancel(testCtx(t))
			errc := make(chan error, 1)
			go func() {
				_, err := l.SendRaw(ctx, encoded(t, "given up"), false)
				errc <- err
			}()
			cancel()
			require.ErrorIs(t, <-errc, context.Canceled)
			assert.Empty(t, l.Unsettled())
			close(gaveUp)

			d, err := l.SendRaw(testCtx(t), encoded(t, "sent"), false)
			require.NoError(t, err)
			assert.Equal(t, uint32(0), d.ID())
			f, ok := <-got
			require.True(t, ok, "the peer saw no transfer")
			require.NotNil(t, f.id)
			assert.Equal(t, uint32(0), *f.id, "the first delivery on the wire")
			assert.False(t, f.aborted)
			assert.Equal(t, encoded(t, "sent"), f.payload)
			assert.Zero(t, l.Credit())
		})
	}
}

// TestSendWithEndedCtxSendsNothing: a context that has ended already stops
// the send before anything goes out, credit or not.
func TestSendWithEndedCtxSendsNothing(t *testing.T) {
	got := make(chan sentFrame, 1)
	attached := make(chan struct{})
	addr := rawListen(t, func(p *rawPeer) {
		defer close(got)
		err := p.attachedSender(0, 100, 10)
		close(attached)
		if err != nil {
			return
		}
		if f, err := p.nextSent(); err == nil {
			got <- f
		}
	})
	c, err := dialAddr(t, addr, clientConfig())
	require.NoError(t, err)
	l := attachSender(t, c)
	<-attached
	require.NoError(t, l.WaitCredit(testCtx(t)))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = l.SendRaw(ctx, encoded(t, "late"), false)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, engine.SendSettled(ctx, l, encoded(t, "late")), context.Canceled)
	_, err = l.SendRaw(testCtx(t), encoded(t, "sent"), false)
	require.NoError(t, err)
	f := <-got
	require.NotNil(t, f.id)
	assert.Equal(t, uint32(0), *f.id)
	assert.Equal(t, encoded(t, "sent"), f.payload)
	assert.Equal(t, uint32(9), l.Credit())
}

// TestReceiveDropsAbortedDeliveries: deliveries the peer aborts — after
// some frames, or in their first and only frame — never reach Receive,
// whatever payload the aborting frame carries; an abort with no delivery
// under way is ignored; the link goes on, and only the complete delivery
// is settled.
func TestReceiveDropsAbortedDeliveries(t *testing.T) {
	disposition := make(chan *codec.Disposition, 1)
	addr := rawListen(t, func(p *rawPeer) {
		defer close(disposition)
		if _, err := p.attachedReceiver(); err != nil {
			return
		}
		ids := []uint32{0, 1, 2, 3}
		msg := encoded(t, "partial")
		for _, tr := range []struct {
			t       *codec.Transfer
			payload []byte
		}{
			// Delivery 0: two frames, then the abort (with a stray payload).
			{&codec.Transfer{DeliveryID: &ids[0], DeliveryTag: []byte{0}, More: true}, msg[:3]},
			{&codec.Transfer{More: true}, msg[3:6]},
			{&codec.Transfer{Aborted: true}, msg[6:]},
			// Delivery 1: aborted in its only frame, unsettled.
			{&codec.Transfer{DeliveryID: &ids[1], DeliveryTag: []byte{1}, Aborted: true}, encoded(t, "aborted")},
			// An abort of nothing.
			{&codec.Transfer{Aborted: true}, nil},
			// Delivery 2: aborted with both more and aborted set.
			{&codec.Transfer{DeliveryID: &ids[2], DeliveryTag: []byte{2}, More: true, Aborted: true}, encoded(t, "aborted too")},
			// Delivery 3: complete.
			{&codec.Transfer{DeliveryID: &ids[3], DeliveryTag: []byte{3}}, encoded(t, "complete")},
		} {
			if p.send(0, tr.t, tr.payload) != nil {
				return
			}
		}
		for {
			fr, err := p.next()
			if err != nil {
				return
			}
			if d, ok := fr.Body.(*codec.Disposition); ok {
				disposition <- d
				return
			}
		}
	})
	c, err := dialAddr(t, addr, clientConfig())
	require.NoError(t, err)
	r := attachReceiver(t, c, 10)
	d, err := r.Receive(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "complete", bodyOf(t, d), "an aborted delivery reached Receive")
	assert.Equal(t, uint32(3), d.ID())
	require.NoError(t, d.Accept())
	disp := <-disposition
	require.NotNil(t, disp, "no disposition")
	assert.Equal(t, uint32(3), disp.First, "only the complete delivery is settled")
	assert.True(t, disp.Last == nil || *disp.Last == 3)
	assert.Equal(t, uint32(10-4), r.Credit(), "each delivery, aborted or not, used a credit")
}

// TestReceiveTopsUpCreditAfterAbort: an aborted delivery never reaches
// Receive, which is where credit is topped up; when it took the last
// credit, the engine grants more at once, counting it in the
// delivery-count, or the link would stall.
func TestReceiveTopsUpCreditAfterAbort(t *testing.T) {
	type grant struct{ deliveryCount, credit uint32 }
	grants := make(chan grant, 2)
	addr := rawListen(t, func(p *rawPeer) {
		defer close(grants)
		credit, err := p.attachedReceiver()
		if err != nil || credit != 1 {
			return
		}
		awaitGrant := func() bool {
			for {
				fr, err := p.next()
				if err != nil {
					return false
				}
				if f, ok := fr.Body.(*codec.Flow); ok && f.Handle != nil && f.LinkCredit != nil && f.DeliveryCount != nil {
					grants <- grant{*f.DeliveryCount, *f.LinkCredit}
					return true
				}
			}
		}
		ids := []uint32{0, 1, 2}
		// Delivery 0 aborted in its only frame, delivery 1 after a frame.
		if p.send(0, &codec.Transfer{DeliveryID: &ids[0], DeliveryTag: []byte{0}, Aborted: true}, nil) != nil || !awaitGrant() {
			return
		}
		if p.send(0, &codec.Transfer{DeliveryID: &ids[1], DeliveryTag: []byte{1}, More: true}, []byte{0x00}) != nil ||
			p.send(0, &codec.Transfer{Aborted: true}, nil) != nil || !awaitGrant() {
			return
		}
		_ = p.send(0, &codec.Transfer{DeliveryID: &ids[2], DeliveryTag: []byte{2}, Settled: true}, encoded(t, "complete"))
	})
	c, err := dialAddr(t, addr, clientConfig())
	require.NoError(t, err)
	ctx := testCtx(t)
	s, err := engine.NewSession(ctx, c)
	require.NoError(t, err)
	r, err := s.AttachReceiver(ctx, &engine.AttachOptions{
		Name: "r", Source: &codec.Source{Address: "q"}, Target: &codec.Target{},
		CreditWindow: 1, CreditAfterUse: true,
	})
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "complete", bodyOf(t, d))
	assert.Equal(t, grant{1, 1}, <-grants, "after the first abort")
	assert.Equal(t, grant{2, 1}, <-grants, "after the second abort")
}

// TestAbortOnUnknownHandle: an aborted transfer on a handle that is not
// attached ends the session with amqp:session:unattached-handle, as any
// transfer there does (§2.7.5).
func TestAbortOnUnknownHandle(t *testing.T) {
	ended := make(chan *codec.Error, 1)
	addr := rawListen(t, func(p *rawPeer) {
		defer close(ended)
		if _, err := p.attachedReceiver(); err != nil {
			return
		}
		id := uint32(0)
		if p.send(0, &codec.Transfer{Handle: 7, DeliveryID: &id, DeliveryTag: []byte{0}, Aborted: true}, nil) != nil {
			return
		}
		for {
			fr, err := p.next()
			if err != nil {
				return
			}
			if e, ok := fr.Body.(*codec.End); ok {
				ended <- e.Error
				return
			}
		}
	})
	c, err := dialAddr(t, addr, clientConfig())
	require.NoError(t, err)
	r := attachReceiver(t, c, 10)
	e := <-ended
	require.NotNil(t, e, "the session did not end with an error")
	assert.Equal(t, codec.ErrCondUnattachedHandle, e.Condition)
	_, err = r.Receive(testCtx(t))
	require.ErrorIs(t, err, engine.ErrLinkDetached)
}

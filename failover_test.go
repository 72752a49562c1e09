package amq_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/faultproxy"
	"github.com/amqgo/amq/server"
)

// fastReconnect keeps reconnect tests quick: short delays, never gives up.
func fastReconnect() amq.ReconnectPolicy {
	return amq.NewExponentialReconnect(5*time.Millisecond, 50*time.Millisecond, 0)
}

// stateRecorder collects the client's state events.
type stateRecorder struct {
	ch chan amq.StateEvent
}

func newStateRecorder() *stateRecorder { return &stateRecorder{ch: make(chan amq.StateEvent, 1000)} }

func (s *stateRecorder) record(ev amq.StateEvent) { s.ch <- ev }

// wait returns the next event in the given state, skipping others.
func (s *stateRecorder) wait(t *testing.T, st amq.State) amq.StateEvent {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-s.ch:
			if ev.State == st {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event", st)
		}
	}
}

func TestReconnectAfterDropKeepsLinks(t *testing.T) {
	b := amqtest.NewBroker(t)
	rec := newStateRecorder()
	c := dial(t, b.URL(), &amq.ConnectOptions{Reconnect: fastReconnect(), OnStateChange: rec.record})
	ctx := testCtx(t)
	rec.wait(t, amq.StateConnected)

	s, err := c.NewSender(ctx, "survivor", nil)
	require.NoError(t, err)
	r, err := c.NewReceiver(ctx, "survivor", &amq.ReceiverOptions{ManualAccept: true})
	require.NoError(t, err)
	require.NoError(t, s.Send(ctx, amq.NewMessage("before")))
	before, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "before", before.Message.Body)

	b.DropConnections()
	ev := rec.wait(t, amq.StateDisconnected)
	assert.Error(t, ev.Err)
	rec.wait(t, amq.StateConnected)

	// The same Sender and Receiver carry on.
	require.NoError(t, s.Send(ctx, amq.NewMessage("after")))
	var bodies []any
	for len(bodies) < 2 {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		bodies = append(bodies, d.Message.Body)
		require.NoError(t, d.Accept(ctx))
	}
	// "before" was never settled: the broker redelivers it.
	assert.ElementsMatch(t, []any{"before", "after"}, bodies)

	// The delivery from the lost connection cannot be settled any more.
	assert.ErrorIs(t, before.Accept(ctx), amq.ErrDeliveryLost)
	assert.NoError(t, c.Err())
}

func TestForcedCloseReconnectsSilently(t *testing.T) {
	b := amqtest.NewBroker(t)
	rec := newStateRecorder()
	c := dial(t, b.URL(), &amq.ConnectOptions{Reconnect: fastReconnect(), OnStateChange: rec.record})
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "forced", nil)
	require.NoError(t, err)

	b.DropConnectionsForced()
	ev := rec.wait(t, amq.StateDisconnected)
	var ae *amq.Error
	require.ErrorAs(t, ev.Err, &ae)
	assert.Equal(t, "amqp:connection:forced", ae.Condition)
	rec.wait(t, amq.StateConnected)

	require.NoError(t, c.Send(ctx, amq.NewMessage("still here").SetTo("forced")))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "still here", d.Message.Body)
	assert.NoError(t, c.Err(), "a forced close is not an error")
}

func TestNoReconnectFails(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), &amq.ConnectOptions{Reconnect: amq.NoReconnect})
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "once", nil)
	require.NoError(t, err)
	r, err := c.NewReceiver(ctx, "once", nil)
	require.NoError(t, err)

	b.DropConnections()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the client did not fail")
	}
	require.Error(t, c.Err())
	require.Error(t, s.Send(ctx, amq.NewMessage("x")))
	for range r.Deliveries() {
	}
	require.Error(t, r.Err())
	assert.NotErrorIs(t, r.Err(), amq.ErrClosed)
}

func TestInFlightSendsAreResent(t *testing.T) {
	b := amqtest.NewBroker(t)
	p := faultproxy.Start(t, strings.TrimPrefix(b.URL(), "amqp://"))
	ctx := testCtx(t)
	c := dial(t, p.URL(), &amq.ConnectOptions{Reconnect: fastReconnect()})
	s, err := c.NewSender(ctx, "resend", nil)
	require.NoError(t, err)

	const n = 2000
	receipts := make([]*amq.Receipt, 0, n)
	for i := range n {
		rc, err := s.SendAsync(ctx, amq.NewMessage(i))
		require.NoError(t, err)
		receipts = append(receipts, rc)
		if i == n/2 {
			p.CutAll() // with about a thousand messages in flight
		}
	}
	for i, rc := range receipts {
		require.NoError(t, rc.Wait(ctx), "message %d", i)
	}

	// Every message arrived at least once.
	consumer := dial(t, b.URL(), nil)
	r, err := consumer.NewReceiver(ctx, "resend", &amq.ReceiverOptions{Credit: 500})
	require.NoError(t, err)
	seen := make(map[int64]int)
	for len(seen) < n {
		d, err := r.Receive(ctx)
		require.NoError(t, err, "received %d distinct of %d", len(seen), n)
		seen[d.Message.Body.(int64)]++
	}
	dups := 0
	for _, k := range seen {
		dups += k - 1
	}
	t.Logf("%d messages, %d duplicates, %d connections", n, dups, p.Accepted())
	assert.GreaterOrEqual(t, p.Accepted(), 2, "the client reconnected")
}

func TestFailoverGoesRoundTheList(t *testing.T) {
	brokers := []*amqtest.Broker{amqtest.NewBroker(t), amqtest.NewBroker(t), amqtest.NewBroker(t)}
	urls := make([]string, len(brokers))
	for i, b := range brokers {
		urls[i] = b.URL()
	}
	rec := newStateRecorder()
	c := dial(t, "", &amq.ConnectOptions{URLs: urls, Reconnect: fastReconnect(), OnStateChange: rec.record})
	ctx := testCtx(t)
	assert.Equal(t, urls[0], rec.wait(t, amq.StateConnected).URL)

	// Kill the active broker each time: the client moves on down the list
	// and comes back round to the first.
	for _, next := range []int{1, 2, 0} {
		active := (next + 2) % 3
		brokers[active].Stop()
		got := rec.wait(t, amq.StateConnected).URL
		assert.Equal(t, urls[next], got)
		brokers[active].Restart()
		require.NoError(t, c.Send(ctx, amq.NewMessage("hop").SetTo("hops")))
		assert.Equal(t, 1, brokers[next].QueueDepth("hops"))
	}
}

func TestInitialDialTriesEveryURLOnce(t *testing.T) {
	p1 := faultproxy.Start(t, "127.0.0.1:1")
	p1.Refuse(true)
	p2 := faultproxy.Start(t, "127.0.0.1:1")
	p2.Refuse(true)
	ctx := testCtx(t)
	_, err := amq.Dial(ctx, "", &amq.ConnectOptions{URLs: []string{p1.URL(), p2.URL()}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), p1.URL())
	assert.Contains(t, err.Error(), p2.URL())
	assert.Equal(t, 1, p1.Accepted())
	assert.Equal(t, 1, p2.Accepted())

	_, err = amq.Dial(ctx, p1.URL(), &amq.ConnectOptions{URLs: []string{p2.URL()}})
	require.ErrorContains(t, err, "both")
}

func TestRetryInitialConnect(t *testing.T) {
	b := amqtest.NewBroker(t)
	p := faultproxy.Start(t, strings.TrimPrefix(b.URL(), "amqp://"))
	p.Refuse(true)
	ctx := testCtx(t)
	type result struct {
		c   *amq.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := amq.Dial(ctx, p.URL(), &amq.ConnectOptions{RetryInitialConnect: true, Reconnect: fastReconnect()})
		done <- result{c, err}
	}()
	require.Eventually(t, func() bool { return p.Accepted() >= 2 }, 10*time.Second, time.Millisecond, "Dial keeps trying")
	p.Refuse(false)
	res := <-done
	require.NoError(t, res.err)
	res.c.Close()
}

func TestAuthFailureOnReconnectStops(t *testing.T) {
	b1 := amqtest.NewBroker(t)
	b2 := amqtest.NewBroker(t, amqtest.WithUser("someone-else", "pw"), amqtest.WithAnonymous(false))
	rec := newStateRecorder()
	c := dial(t, "", &amq.ConnectOptions{URLs: []string{b1.URL(), b2.URL()}, Reconnect: fastReconnect(), OnStateChange: rec.record})
	b1.Stop()
	ev := rec.wait(t, amq.StateFailed)
	var ae *amq.Error
	require.ErrorAs(t, ev.Err, &ae)
	assert.Equal(t, amq.ScopeSASL, ae.Scope)
	<-c.Done()
	assert.Equal(t, ev.Err, c.Err())
}

func TestIdleTimeoutDetectsSilentPeer(t *testing.T) {
	b := amqtest.NewBroker(t)
	p := faultproxy.Start(t, strings.TrimPrefix(b.URL(), "amqp://"))
	rec := newStateRecorder()
	c := dial(t, p.URL(), &amq.ConnectOptions{IdleTimeout: 300 * time.Millisecond, Reconnect: fastReconnect(), OnStateChange: rec.record})
	ctx := testCtx(t)
	rec.wait(t, amq.StateConnected)
	p.Blackhole(true)
	rec.wait(t, amq.StateDisconnected)
	p.Blackhole(false)
	rec.wait(t, amq.StateConnected)
	require.NoError(t, c.Send(ctx, amq.NewMessage("through").SetTo("idle")))
	assert.Equal(t, 1, b.QueueDepth("idle"))
}

func TestPendingSendsAreBounded(t *testing.T) {
	b := amqtest.NewBroker(t)
	ctx := testCtx(t)
	c := dial(t, b.URL(), &amq.ConnectOptions{MaxPendingSends: 2, Reconnect: fastReconnect()})
	s, err := c.NewSender(ctx, "bounded-wait", nil)
	require.NoError(t, err)
	b.Stop()

	var wg sync.WaitGroup
	waiting := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := s.Send(ctx, amq.NewMessage("waits"))
				// A probe below may hold a slot for an instant: try again.
				if !errors.Is(err, amq.ErrSendBufferFull) {
					waiting <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	// Once two sends wait for the connection, a third fails at once. The
	// probe's context is already cancelled, so it never waits itself.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.Eventually(t, func() bool {
		return errors.Is(s.Send(cancelled, amq.NewMessage("too many")), amq.ErrSendBufferFull)
	}, 10*time.Second, time.Millisecond)

	b.Restart()
	wg.Wait()
	close(waiting)
	for err := range waiting {
		require.NoError(t, err, "the waiting sends go through once the broker is back")
	}
	assert.Equal(t, 2, b.QueueDepth("bounded-wait"), "nothing else was lost or added")
}

func TestLinkRefusedOnReattachFailsAlone(t *testing.T) {
	b1 := amqtest.NewBroker(t)
	refusing := server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if l.Name() == "refused-link" {
			return &codec.Error{Condition: codec.Symbol("amqp:not-found"), Description: "no such node here"}
		}
		return nil
	}}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: refusing, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	c := dial(t, "", &amq.ConnectOptions{URLs: []string{b1.URL(), srv.URL()}, Reconnect: fastReconnect()})
	ctx := testCtx(t)
	refused, err := c.NewSender(ctx, "a", &amq.SenderOptions{Name: "refused-link"})
	require.NoError(t, err)
	fine, err := c.NewSender(ctx, "b", nil)
	require.NoError(t, err)

	b1.Stop()
	require.NoError(t, fine.Send(ctx, amq.NewMessage("goes through")), "the other links carry on")
	err = refused.Send(ctx, amq.NewMessage("x"))
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "amqp:not-found", ae.Condition)
}

// slowPolicy waits an hour between attempts: Close must still be prompt.
type slowPolicy struct{ resets, nexts int }

func (p *slowPolicy) Reset() { p.resets++ }
func (p *slowPolicy) Next() (time.Duration, bool) {
	p.nexts++
	return time.Hour, true
}

func TestCloseInterruptsBackoff(t *testing.T) {
	b := amqtest.NewBroker(t)
	rec := newStateRecorder()
	policy := &slowPolicy{}
	c, err := amq.Dial(testCtx(t), b.URL(), &amq.ConnectOptions{Reconnect: policy, OnStateChange: rec.record})
	require.NoError(t, err)
	b.Stop()
	ev := rec.wait(t, amq.StateReconnecting)
	assert.Equal(t, time.Hour, ev.Delay)
	assert.Equal(t, 1, ev.Attempt)

	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the back-off")
	}
	rec.wait(t, amq.StateClosed)
}

// TestSoakWithCutsAndRestarts sends 20,000 sequence-numbered messages from
// four pipelined senders (SendAsync, up to 100 in flight each) while the
// connection is cut 22 times and the broker restarted twice, at fixed
// points of progress, and checks that every message arrived.
//
// A consumer reads them meanwhile. Each sender's messages must reach it for
// the first time in order and without a gap (duplicates of earlier ones
// are allowed: at-least-once), so a message the resend left out fails the
// test as soon as a later one arrives, naming the missing ones. Once every
// outcome is in, the rest must keep arriving: a few seconds without a new
// message fail the test with the list of those missing, instead of the
// test's time-out.
func TestSoakWithCutsAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	b := amqtest.NewBroker(t, amqtest.WithMaxQueueMessages(-1))
	p := faultproxy.Start(t, strings.TrimPrefix(b.URL(), "amqp://"))
	// Every chunk spends a millisecond in the proxy, so each cut loses the
	// transfers of its last millisecond: messages only the resend brings.
	p.Delay(time.Millisecond)
	ctx := testCtx(t)

	var (
		evMu       sync.Mutex
		downSince  time.Time
		longest    time.Duration
		reconnects int
	)
	c := dial(t, p.URL(), &amq.ConnectOptions{Reconnect: fastReconnect(), OnStateChange: func(ev amq.StateEvent) {
		evMu.Lock()
		defer evMu.Unlock()
		switch ev.State {
		case amq.StateDisconnected:
			downSince = ev.Time
		case amq.StateConnected:
			if !downSince.IsZero() {
				reconnects++
				longest = max(longest, ev.Time.Sub(downSince))
				downSince = time.Time{}
			}
		}
	}})

	const senders, each, window, faults = 4, 5000, 100, 24
	// run ends the goroutines below when the test stops early.
	run, stop := context.WithCancel(ctx)
	var workers sync.WaitGroup
	defer func() {
		stop()
		workers.Wait()
	}()

	r, err := dial(t, b.URL(), &amq.ConnectOptions{Reconnect: fastReconnect()}).
		NewReceiver(ctx, "soak", &amq.ReceiverOptions{Credit: 1000})
	require.NoError(t, err)
	check := newSequenceCheck(senders, each)
	consuming, stopConsuming := context.WithCancel(run)
	defer stopConsuming()
	consumed := make(chan error, 1)
	workers.Add(1)
	go func() {
		defer workers.Done()
		consumed <- check.consume(consuming, r)
	}()

	var progress atomic.Int64 // outcomes in
	step := make(chan struct{}, 1)
	var sent sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		sent.Add(1)
		workers.Add(1)
		go func() {
			defer workers.Done()
			defer sent.Done()
			s, err := c.NewSender(run, "soak", nil)
			if err != nil {
				errs <- err
				return
			}
			receipts := make([]*amq.Receipt, each)
			outcome := func(i int) error {
				if err := receipts[i].Wait(run); err != nil {
					return fmt.Errorf("sender %d message %d: %w", g, i, err)
				}
				progress.Add(1)
				select {
				case step <- struct{}{}:
				default:
				}
				return nil
			}
			for i := range each {
				if i >= window {
					if err := outcome(i - window); err != nil {
						errs <- err
						return
					}
				}
				rc, err := s.SendAsync(run, amq.NewMessage(int64(g*each+i)))
				if err != nil {
					errs <- fmt.Errorf("sender %d message %d: %w", g, i, err)
					return
				}
				receipts[i] = rc
			}
			for i := max(0, each-window); i < each; i++ {
				if err := outcome(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Inject a fault each time another 1/(faults+1) of the outcomes is in:
	// cuts, and broker restarts at two of the points.
	injected := make(chan [2]int, 1)
	workers.Add(1)
	go func() {
		defer workers.Done()
		cuts, restarts := 0, 0
		defer func() { injected <- [2]int{cuts, restarts} }()
		for k := 1; k <= faults; k++ {
			for progress.Load() < int64(k*senders*each/(faults+1)) {
				select {
				case <-step:
				case <-run.Done():
					return
				}
			}
			if k == faults/3 || k == 2*faults/3 {
				b.Restart()
				restarts++
			} else {
				p.CutAll()
				cuts++
			}
		}
	}()

	allSent := make(chan struct{})
	go func() {
		sent.Wait()
		close(allSent)
	}()
	consumerDone := false
	select {
	case <-allSent:
	case err := <-consumed:
		// A gap, or every message arrived before the last outcomes.
		require.NoError(t, err)
		consumerDone = true
		<-allSent // bounded by ctx, which the senders wait within
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n := <-injected
	assert.GreaterOrEqual(t, n[0], 20, "cuts")
	assert.GreaterOrEqual(t, n[1], 2, "restarts")

	// Every message was accepted: what has not arrived yet is on its way,
	// or lost. A few seconds without a new one end the consumer, which
	// then names the missing.
	const quiet = 5 * time.Second
	drain := time.NewTimer(quiet)
	defer drain.Stop()
	for !consumerDone {
		select {
		case err := <-consumed:
			require.NoError(t, err)
			consumerDone = true
		case <-check.progress:
			drain.Reset(quiet)
		case <-drain.C:
			stopConsuming()
		}
	}
	evMu.Lock()
	defer evMu.Unlock()
	t.Logf("%d messages, %d cuts, %d restarts, %d reconnects, longest outage %v, %d duplicates seen",
		senders*each, n[0], n[1], reconnects, longest, check.dups)
	assert.GreaterOrEqual(t, reconnects, n[0]+n[1]-1, "a reconnect for (nearly) every fault")
}

// sequenceCheck follows the messages of several senders, numbered
// sender*each + i, as a consumer receives them.
type sequenceCheck struct {
	each     int
	next     []int         // per sender: the first number not yet seen
	dups     int           // messages seen again
	progress chan struct{} // signalled (coalesced) when a new message arrives
}

func newSequenceCheck(senders, each int) *sequenceCheck {
	return &sequenceCheck{each: each, next: make([]int, senders), progress: make(chan struct{}, 1)}
}

// consume receives from r until every message has arrived. It fails at the
// first message that arrives before an earlier one of its sender, and,
// when ctx ends first, names the messages still missing.
func (sc *sequenceCheck) consume(ctx context.Context, r *amq.Receiver) error {
	for !sc.complete() {
		d, err := r.Receive(ctx)
		if err != nil {
			return fmt.Errorf("missing %s: %w", sc.missing(), err)
		}
		v := int(d.Message.Body.(int64))
		g, i := v/sc.each, v%sc.each
		switch want := sc.next[g]; {
		case i < want:
			sc.dups++
		case i > want:
			return fmt.Errorf("sender %d: message %d arrived before %s: lost in a resend", g, i, seqRange(want, i))
		default:
			sc.next[g]++
			select {
			case sc.progress <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

func (sc *sequenceCheck) complete() bool {
	for _, n := range sc.next {
		if n < sc.each {
			return false
		}
	}
	return true
}

func (sc *sequenceCheck) missing() string {
	var parts []string
	for g, n := range sc.next {
		if n < sc.each {
			parts = append(parts, fmt.Sprintf("sender %d: %s", g, seqRange(n, sc.each)))
		}
	}
	return strings.Join(parts, ", ")
}

// seqRange names the messages from up to (not including) to.
func seqRange(from, to int) string {
	if to-from == 1 {
		return fmt.Sprintf("message %d", from)
	}
	return fmt.Sprintf("messages %d-%d (%d)", from, to-1, to-from)
}

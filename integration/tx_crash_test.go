//go:build integration

package integration

// A transaction does not outlive its connection (docs/failover.md, "What
// happens to transactions"): when the client's connection is cut, when
// the client process dies, when the broker restarts, the broker rolls the
// open transaction back — its sends never reach a queue, its accepts give
// the messages back — and amq says so with ErrTransactionLost, which
// Retryable reports true.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/faultproxy"
)

// stateLog hands a client's state events to a test, which waits on them
// for a reconnect instead of for a guessed time.
type stateLog struct{ events chan amq.StateEvent }

func newStateLog() *stateLog { return &stateLog{events: make(chan amq.StateEvent, 256)} }

// watch makes the client being dialled report to l.
func (l *stateLog) watch(o *amq.ConnectOptions) {
	o.OnStateChange = func(ev amq.StateEvent) {
		select {
		case l.events <- ev:
		default: // a test that stopped reading does not need more
		}
	}
}

// awaitReconnect waits until the connection has been lost and a new one
// established (every sender and receiver attached again).
func (l *stateLog) awaitReconnect(ctx context.Context, t testing.TB) {
	t.Helper()
	lost := false
	for {
		select {
		case ev := <-l.events:
			switch ev.State {
			case amq.StateDisconnected:
				lost = true
			case amq.StateConnected:
				if lost {
					return
				}
			case amq.StateFailed, amq.StateClosed:
				t.Fatalf("the client ended instead of reconnecting: %v: %v", ev.State, ev.Err)
			}
		case <-ctx.Done():
			t.Fatalf("no reconnect (lost: %v): %v", lost, ctx.Err())
		}
	}
}

// fastReconnect reconnects within a fraction of a second of the peer being
// back, so the tests wait on the peer rather than on backoff.
func fastReconnect(o *amq.ConnectOptions) {
	o.Reconnect = amq.NewExponentialReconnect(20*time.Millisecond, 250*time.Millisecond, 0)
}

// expectLost checks that err says the transaction was lost with its
// connection, and that it is worth running again.
func expectLost(t testing.TB, op string, err error) {
	t.Helper()
	if !errors.Is(err, amq.ErrTransactionLost) {
		t.Fatalf("%s: %v (%T), want an error wrapping ErrTransactionLost", op, err, err)
	}
	if !amq.Retryable(err) {
		t.Errorf("%s: Retryable(%v) = false, want true", op, err)
	}
}

// TestTxConnectionCut: the connection is cut (faultproxy) in the middle
// of a transaction that has sent three messages and accepted two. The
// client reconnects; the transaction is lost, all of it: its messages are
// never delivered and the two it accepted come back. Run again on the new
// connection, the same work commits.
func TestTxConnectionCut(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatTransactions)
		ctx := testCtx(t, time.Minute)
		in, out := p.Queue(uniqueName(t)), p.Queue(uniqueName(t))
		if err := amqSendN(ctx, amqSender(t, amqDial(t, p, p.Addr, nil), in, nil), "work", 2); err != nil {
			t.Fatal(err)
		}

		proxy := faultproxy.Start(t, p.backendAddr())
		states := newStateLog()
		c := amqDial(t, p, p.proxyURL(proxy.Addr()), func(o *amq.ConnectOptions) {
			fastReconnect(o)
			states.watch(o)
		})
		r := amqReceiver(t, c, in, &amq.ReceiverOptions{Credit: 10, ManualAccept: true})
		s := amqSender(t, c, out, nil)

		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		_, ds := receiveBodies(ctx, t, r, 2)
		for _, d := range ds {
			if err := tx.Accept(ctx, d); err != nil {
				t.Fatalf("Tx.Accept: %v", err)
			}
		}
		if err := sendInTx(ctx, tx, s, "lost", 3); err != nil {
			t.Fatal(err)
		}
		if n := proxy.CutAll(); n == 0 {
			t.Fatal("the proxy had no connection to cut")
		}
		states.awaitReconnect(ctx, t)

		expectLost(t, "Tx.Send after the cut", tx.Send(ctx, s, amq.NewMessage("late")))
		expectLost(t, "Commit after the cut", tx.Commit(ctx))

		// The work again, on the new connection: the two accepted in the
		// lost transaction are back.
		err = c.BeginFunc(ctx, func(tx *amq.Tx) error {
			got, ds := receiveBodies(ctx, t, r, 2)
			// Both are back, in either order: at the cut one accept may
			// have reached the transaction and the other not yet, so one
			// comes back with the consumer's link and one with the
			// transaction, and a consumer already re-attached takes the
			// first given back first. Redelivery order after a
			// connection loss is not promised (nor by Artemis).
			got = slices.Sorted(slices.Values(got))
			if !slices.Equal(got, []string{"work 0", "work 1"}) {
				return fmt.Errorf("after the cut the receiver got %q, want the two the lost transaction accepted", got)
			}
			for _, d := range ds {
				if err := tx.Accept(ctx, d); err != nil {
					return err
				}
			}
			return sendInTx(ctx, tx, s, "again", 3)
		})
		if err != nil {
			t.Fatalf("the transaction run again: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		// Had the lost transaction's sends been applied, they would be
		// queued ahead of the ones run again.
		c2 := amqDial(t, p, p.Addr, nil)
		if got, _ := receiveBodies(ctx, t, amqReceiver(t, c2, out, &amq.ReceiverOptions{Credit: 10}), 3); !slices.Equal(got, numbered("again", 3)) {
			t.Fatalf("the output queue holds %q, want only %q", got, numbered("again", 3))
		}
		queueDrained(ctx, t, p, in, "a message accepted twice is still queued")
	})
}

// txHoldHelper is the client process TestTxClientKilled kills: it takes
// two messages from IN and accepts them in a transaction, sends COUNT
// messages to OUT in it, prints "in transaction" and waits, never
// committing, until it is killed (or its minute is up).
//
//	AMQ_IT_HELPER=tx-hold AMQ_IT_USER=… AMQ_IT_PASSWORD=… integration.test URL IN OUT COUNT
const txHoldHelper = "tx-hold"

func init() { helpers[txHoldHelper] = txHold }

func txHold(args []string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "tx-hold:", err)
		return 1
	}
	if len(args) != 4 {
		return fail(fmt.Errorf("want URL IN OUT COUNT, got %q", args))
	}
	url, in, out := args[0], args[1], args[2]
	n, err := strconv.Atoi(args[3])
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	insecure := true
	opts := &amq.ConnectOptions{User: os.Getenv("AMQ_IT_USER"), Password: os.Getenv("AMQ_IT_PASSWORD"), Reconnect: amq.NoReconnect}
	opts.SASL.AllowInsecure = &insecure
	c, err := amq.Dial(ctx, url, opts)
	if err != nil {
		return fail(err)
	}
	r, err := c.NewReceiver(ctx, in, &amq.ReceiverOptions{Credit: 10, ManualAccept: true})
	if err != nil {
		return fail(err)
	}
	s, err := c.NewSender(ctx, out, nil)
	if err != nil {
		return fail(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	for i := 0; i < 2; i++ {
		d, err := r.Receive(ctx)
		if err != nil {
			return fail(err)
		}
		if err := tx.Accept(ctx, d); err != nil {
			return fail(err)
		}
	}
	if err := sendInTx(ctx, tx, s, "held", n); err != nil {
		return fail(err)
	}
	fmt.Println("in transaction")
	<-ctx.Done()
	return fail(errors.New("not killed within a minute"))
}

// TestTxClientKilled: a client process is killed (SIGKILL) in the middle
// of a transaction that has accepted two messages and sent three. The
// broker rolls it back: the three never reach a consumer, and the two are
// delivered again to another.
func TestTxClientKilled(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		p.Require(t, FeatTransactions)
		ctx := testCtx(t, time.Minute)
		in, out := p.Queue(uniqueName(t)), p.Queue(uniqueName(t))
		c := amqDial(t, p, p.Addr, nil)
		if err := amqSendN(ctx, amqSender(t, c, in, nil), "work", 2); err != nil {
			t.Fatal(err)
		}

		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, exe, p.Addr, in, out, "3")
		cmd.Env = append(os.Environ(), helperEnv+"="+txHoldHelper, "AMQ_IT_USER="+p.User, "AMQ_IT_PASSWORD="+p.Password)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start the client process: %v", err)
		}
		held := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "in transaction" {
					held <- true
					return
				}
			}
			held <- false
		}()
		if !<-held { // the helper's own minute, and ctx, bound this
			cmd.Wait()
			t.Fatalf("the client process ended before its transaction was under way (%v):\n%s", cmd.ProcessState, stderr.String())
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatalf("kill: %v", err)
		}
		cmd.Wait()

		// Nothing the dead client sent in its transaction is queued ahead
		// of this marker, nor comes after it.
		r := amqReceiver(t, c, out, &amq.ReceiverOptions{Credit: 10})
		sendMarker(ctx, t, amqSender(t, c, out, nil), "marker")
		expectNext(ctx, t, r, "marker", "a message sent in the dead client's transaction was delivered")
		expectNoMore(t, r)
		// What it accepted in its transaction is delivered again.
		got, _ := receiveBodies(ctx, t, amqReceiver(t, c, in, &amq.ReceiverOptions{Credit: 10}), 2)
		if !slices.Equal(got, []string{"work 0", "work 1"}) {
			t.Fatalf("the input queue gave %q, want the two the dead client accepted", got)
		}
	})
}

// TestArtemisTxAcrossRestart: Artemis restarts (kill -9, and an orderly
// stop) while a transaction has sent three durable messages. amq
// reconnects and the transaction fails with ErrTransactionLost; after the
// restart none of its messages is there, while the durable messages a
// transaction committed before the restart all are, in order.
func TestArtemisTxAcrossRestart(t *testing.T) {
	a, err := newArtemis("tx-restart", artemisConfig{})
	if err != nil {
		missing(t, "artemis", err)
	}
	if err := a.start(); err != nil {
		missing(t, "artemis", err)
	}
	t.Cleanup(a.stop)
	p := artemisPeer(a)
	for _, tc := range []struct {
		name string
		down func()
	}{
		{"kill -9", a.kill},
		{"orderly stop", a.stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 3*time.Minute)
			addr := uniqueName(t)
			states := newStateLog()
			c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) {
				fastReconnect(o)
				states.watch(o)
			})
			s := amqSender(t, c, addr, nil)
			if err := c.BeginFunc(ctx, func(tx *amq.Tx) error { return sendInTx(ctx, tx, s, "committed", 3) }); err != nil {
				t.Fatalf("the committed transaction: %v", err)
			}
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			if err := sendInTx(ctx, tx, s, "lost", 3); err != nil {
				t.Fatal(err)
			}

			tc.down()
			if err := a.start(); err != nil {
				t.Fatalf("restart after %s: %v\n%s", tc.name, err, a.log())
			}
			states.awaitReconnect(ctx, t)
			expectLost(t, "Commit after the restart", tx.Commit(ctx))

			c2 := amqDial(t, p, p.Addr, nil)
			r := amqReceiver(t, c2, addr, &amq.ReceiverOptions{Credit: 10})
			sendMarker(ctx, t, amqSender(t, c2, addr, nil), "marker")
			got, _ := receiveBodies(ctx, t, r, 4)
			if want := append(numbered("committed", 3), "marker"); !slices.Equal(got, want) {
				t.Fatalf("after the restart the queue gave %q, want %q", got, want)
			}
			expectNoMore(t, r)
		})
	}
}

// TestArtemisTxFailover: the primary of a shared-store pair is killed
// while a transaction has accepted two durable messages and sent three.
// amq fails over to the backup; the transaction is lost there too: the
// backup, on the primary's journal, has the messages committed before
// the kill and the two the lost transaction accepted, and none of the
// three it sent.
func TestArtemisTxFailover(t *testing.T) {
	primary, backup := newArtemisPair(t)
	ctx := testCtx(t, 3*time.Minute)
	in, out := uniqueName(t), uniqueName(t)
	states := newStateLog()
	insecure := true
	opts := &amq.ConnectOptions{User: artemisUser, Password: artemisPassword, URLs: []string{primary.addr(), backup.addr()}}
	opts.SASL.AllowInsecure = &insecure
	fastReconnect(opts)
	states.watch(opts)
	c, err := amq.Dial(ctx, "", opts)
	if err != nil {
		t.Fatalf("Dial %v: %v", opts.URLs, err)
	}
	t.Cleanup(func() { c.Close() })

	s := amqSender(t, c, out, nil)
	if err := c.BeginFunc(ctx, func(tx *amq.Tx) error { return sendInTx(ctx, tx, s, "committed", 3) }); err != nil {
		t.Fatalf("the committed transaction: %v", err)
	}
	work := amqSender(t, c, in, nil)
	for i := 0; i < 2; i++ {
		m := amq.NewMessage(fmt.Sprintf("work %d", i))
		m.Durable = true
		if err := work.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	r := amqReceiver(t, c, in, &amq.ReceiverOptions{Credit: 10, ManualAccept: true})
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	_, ds := receiveBodies(ctx, t, r, 2)
	for _, d := range ds {
		if err := tx.Accept(ctx, d); err != nil {
			t.Fatalf("Tx.Accept: %v", err)
		}
	}
	if err := sendInTx(ctx, tx, s, "lost", 3); err != nil {
		t.Fatal(err)
	}

	primary.kill()
	states.awaitReconnect(ctx, t)
	if c.URL() != backup.addr() {
		t.Fatalf("reconnected to %s, want the backup %s", c.URL(), backup.addr())
	}
	expectLost(t, "Commit after the failover", tx.Commit(ctx))

	got, _ := receiveBodies(ctx, t, r, 2)
	if !slices.Equal(got, []string{"work 0", "work 1"}) {
		t.Fatalf("on the backup the receiver got %q, want the two the lost transaction accepted", got)
	}
	bp := artemisPeer(backup)
	c2 := amqDial(t, bp, bp.Addr, nil)
	rOut := amqReceiver(t, c2, out, &amq.ReceiverOptions{Credit: 10})
	sendMarker(ctx, t, amqSender(t, c2, out, nil), "marker")
	got, _ = receiveBodies(ctx, t, rOut, 4)
	if want := append(numbered("committed", 3), "marker"); !slices.Equal(got, want) {
		t.Fatalf("the backup's queue gave %q, want %q", got, want)
	}
	expectNoMore(t, rOut)
}

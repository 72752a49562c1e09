//go:build integration

package integration

// The reconnect soak of failover_test.go, against real brokers: 20,000
// sequence-numbered messages through amq while the connection is cut (and
// the broker restarted, or its connections closed by the administrator) at
// fixed points of progress. Every sequence number must reach a separate
// receiving client at least once.

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/faultproxy"
)

const (
	soakGoroutines = 4
	soakEach       = 5000 // messages per goroutine: 20,000 in all
	soakWindow     = 64   // SendAsync receipts in flight per goroutine
	soakFaults     = 24   // fault points, evenly spread over the progress
	// soakDrainTime bounds the wait for the messages still missing once
	// every send is settled.
	soakDrainTime = 60 * time.Second
)

// soakReconnect is the fast reconnect of the brief: 5 ms doubling to
// 100 ms, never giving up.
func soakReconnect() amq.ReconnectPolicy {
	return amq.NewExponentialReconnect(5*time.Millisecond, 100*time.Millisecond, 0)
}

// outageLog turns a client's state events into the figures the soak logs:
// reconnects, the longest Disconnected→Connected outage, and how many
// disconnections were a forced close (amqp:connection:forced).
type outageLog struct {
	mu         sync.Mutex
	downSince  time.Time
	longest    time.Duration
	reconnects int
	forced     int
}

func (o *outageLog) record(ev amq.StateEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch ev.State {
	case amq.StateDisconnected:
		var ae *amq.Error
		if errors.As(ev.Err, &ae) && ae.Condition == "amqp:connection:forced" {
			o.forced++
		}
		if o.downSince.IsZero() {
			o.downSince = ev.Time
		}
	case amq.StateConnected:
		if !o.downSince.IsZero() {
			o.reconnects++
			o.longest = max(o.longest, ev.Time.Sub(o.downSince))
			o.downSince = time.Time{}
		}
	}
}

func (o *outageLog) figures() (reconnects, forced int, longest time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reconnects, o.forced, o.longest
}

// soakCase is one broker and the fault it can take besides a cut.
type soakCase struct {
	name string
	// peer returns the broker; the fault proxy forwards to its address.
	peer func(t *testing.T) *Peer
	// brokerFault, if set, replaces the cut at two of the fault points; it
	// returns an error when the fault could not be applied.
	brokerFault     func(ctx context.Context) error
	brokerFaultName string
	// durable sends the messages durable, for a broker fault that keeps
	// only those (a crash).
	durable bool
	// receiverDirect: the receiving client bypasses the proxy, so cuts hit
	// only the sender. Needed where the broker pre-settles what it sends
	// (a cut then loses what was in flight to the receiver, by design).
	receiverDirect bool
}

// embeddedSoak is the embedded broker's case, its broker fault a restart
// that keeps queued messages; with WebSocket, over amqpws:// (the proxy
// cuts the TCP connections under the WebSockets).
func embeddedSoak(name string, webSocket bool) soakCase {
	var b *amqtest.Broker
	return soakCase{
		name: name,
		peer: func(t *testing.T) *Peer {
			opts := []amqtest.Option{amqtest.WithMaxQueueMessages(-1)}
			if webSocket {
				opts = append(opts, amqtest.WithWebSocket())
			}
			b = amqtest.NewBroker(t, opts...)
			return &Peer{Name: name, URL: b.URL(), Addr: b.URL(), Queue: func(n string) string { return n }}
		},
		brokerFault: func(context.Context) error {
			b.Restart()
			return nil
		},
		brokerFaultName: "broker restarts",
	}
}

// artemisSoak is an Artemis instance of its own, which the broker fault
// kills with SIGKILL and starts again on the same journal and port; with
// webSocket, reached over amqpws:// on the same acceptor.
func artemisSoak(name string, webSocket bool) soakCase {
	var a *artemisBroker
	return soakCase{
		name: name,
		peer: func(t *testing.T) *Peer {
			var err error
			a, err = newArtemis(name, artemisConfig{})
			if err == nil {
				err = a.start()
			}
			if err != nil {
				missing(t, "artemis", err)
			}
			t.Cleanup(a.stop)
			p := artemisPeer(a)
			if webSocket {
				p.Name, p.Addr = name, "amqpws://"+strings.TrimPrefix(p.Addr, "amqp://")
			}
			return p
		},
		brokerFault: func(context.Context) error {
			a.kill()
			return a.start()
		},
		brokerFaultName: "kill -9 and restarts",
		durable:         true,
	}
}

// TestSoakReconnect is issue 4's proof against real brokers, and issue
// 19's over WebSockets (embedded-ws, artemis-ws).
func TestSoakReconnect(t *testing.T) {
	cases := []soakCase{
		embeddedSoak("embedded", false),
		embeddedSoak("embedded-ws", true),
		{
			name: "proton-c",
			peer: func(t *testing.T) *Peer { return getPeer(t, "proton-c") },
			// The example broker keeps nothing across a restart and sends
			// pre-settled: cuts only, between the sender and the broker.
			receiverDirect:  true,
			brokerFaultName: "broker faults (cuts only)",
		},
		artemisSoak("artemis", false),
		artemisSoak("artemis-ws", true),
		{
			name: "rabbitmq",
			peer: func(t *testing.T) *Peer {
				p := getPeer(t, "rabbitmq")
				if _, err := exec.LookPath("rabbitmqctl"); err != nil {
					missing(t, "rabbitmqctl", err)
				}
				return p
			},
			// Measured (frame trace, RabbitMQ 3.10.8): close_all_connections
			// does not close an AMQP 1.0 connection. RabbitMQ ends sessions
			// with amqp:internal-error "{shutdown,{connection_closing,
			// {server_initiated_close,320,<<"soak">>}}}" and keeps the
			// connection open, so there is no reconnect: the links of an
			// ended session have to be recovered on a new session.
			brokerFault: func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				defer cancel()
				out, err := exec.CommandContext(ctx, "rabbitmqctl", "close_all_connections", "soak").CombinedOutput()
				if err != nil {
					return fmt.Errorf("rabbitmqctl close_all_connections: %v: %s", err, out)
				}
				return nil
			},
			brokerFaultName: "close_all_connections",
		},
	}
	for _, sc := range cases {
		t.Run(sc.name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("soak test: skipped with -short")
			}
			soak(t, sc, sc.peer(t))
		})
	}
}

func soak(t *testing.T, sc soakCase, p *Peer) {
	ctx := testCtx(t, 3*time.Minute)
	proxy := faultproxy.Start(t, p.backendAddr())
	addr := p.Queue(uniqueName(t))
	const total = soakGoroutines * soakEach

	var sendOut, recvOut outageLog
	proxyURL := p.proxyURL(proxy.Addr())
	sc1 := amqDial(t, p, proxyURL, func(o *amq.ConnectOptions) {
		o.Reconnect = soakReconnect()
		o.OnStateChange = sendOut.record
	})
	recvURL := proxyURL
	if sc.receiverDirect {
		recvURL = p.Addr
	}
	// The receiving client's last frames, to tell what a message that is
	// not a soak message came from (see strangeMessage).
	recvFrames := newFrameRing(8000)
	rc := amqDial(t, p, recvURL, func(o *amq.ConnectOptions) {
		o.Reconnect = soakReconnect()
		o.OnStateChange = recvOut.record
		o.TraceFrames, o.TraceOutput = true, recvFrames
	})

	// The receiver counts every sequence number; done closes once each was
	// seen at least once.
	r := amqReceiver(t, rc, addr, &amq.ReceiverOptions{Credit: 1000})
	seen := make([]int32, total)
	var distinct, received atomic.Int64
	var strange []strangeMessage // written by the receiving goroutine until recvDone
	recvDone := make(chan error, 1)
	recvCtx, stopReceiving := context.WithCancel(ctx)
	defer stopReceiving()
	go func() {
		for distinct.Load() < total {
			d, err := r.Receive(recvCtx)
			if err != nil {
				recvDone <- fmt.Errorf("receive after %d distinct of %d: %w", distinct.Load(), total, err)
				return
			}
			received.Add(1)
			n, err := soakSeq(d.Message)
			if err != nil {
				// Keep receiving: whether a sequence number is missing
				// decides the test, and the frames tell who made this one.
				if len(strange) < 3 {
					strange = append(strange, strangeMessage{err: err, frames: recvFrames.suspects()})
				}
				continue
			}
			if seen[n]++; seen[n] == 1 {
				distinct.Add(1)
			}
		}
		recvDone <- nil
	}()

	// Two senders, each shared by two goroutines; each goroutine keeps a
	// window of SendAsync receipts in flight.
	senders := []*amq.Sender{amqSender(t, sc1, addr, nil), amqSender(t, sc1, addr, nil)}
	var progress atomic.Int64
	step := make(chan struct{}, 1)
	// gate holds new sends back while a broker fault is applied:
	// rabbitmqctl takes a good part of a second, and without the gate the
	// progress would run past several fault points meanwhile. Sends already
	// made stay in flight.
	var gate sync.RWMutex
	sendErrs := make(chan error, soakGoroutines)
	var sending sync.WaitGroup
	for g := range soakGoroutines {
		sending.Add(1)
		go func() {
			defer sending.Done()
			s := senders[g%len(senders)]
			var window []*amq.Receipt
			wait := func(rcpt *amq.Receipt) error {
				if err := rcpt.Wait(ctx); err != nil {
					return err
				}
				progress.Add(1)
				select {
				case step <- struct{}{}:
				default:
				}
				return nil
			}
			for i := range soakEach {
				n := g*soakEach + i
				m := amq.NewMessage(fmt.Sprintf("soak %d", n))
				m.ID = fmt.Sprintf("soak-%d", n)
				m.Durable = sc.durable
				gate.RLock()
				rcpt, err := s.SendAsync(ctx, m)
				gate.RUnlock()
				if err != nil {
					sendErrs <- fmt.Errorf("goroutine %d: SendAsync %d: %w", g, n, err)
					return
				}
				window = append(window, rcpt)
				if len(window) == soakWindow {
					if err := wait(window[0]); err != nil {
						sendErrs <- fmt.Errorf("goroutine %d: outcome of a send before %d: %w", g, n, err)
						return
					}
					window = window[1:]
				}
			}
			for _, rcpt := range window {
				if err := wait(rcpt); err != nil {
					sendErrs <- fmt.Errorf("goroutine %d: final outcomes: %w", g, err)
					return
				}
			}
		}()
	}
	sentAll := make(chan struct{})
	go func() {
		sending.Wait()
		close(sentAll)
	}()

	// A fault each time another 1/(soakFaults+1) of the messages has been
	// settled: a cut of every proxied connection, or the broker fault at two
	// of the points.
	type faultCount struct {
		cuts, idleCuts, broker int
		err                    error
	}
	injected := make(chan faultCount, 1)
	go func() {
		var fc faultCount
		defer func() { injected <- fc }()
		for k := 1; k <= soakFaults; k++ {
			for progress.Load() < int64(k*total/(soakFaults+1)) {
				select {
				case <-step:
				case <-sentAll:
					return
				case <-ctx.Done():
					return
				}
			}
			if sc.brokerFault != nil && (k == soakFaults/3 || k == 2*soakFaults/3) {
				gate.Lock()
				err := sc.brokerFault(ctx)
				gate.Unlock()
				if err != nil {
					fc.err = err
					return
				}
				fc.broker++
				continue
			}
			if proxy.CutAll() > 0 {
				fc.cuts++
			} else {
				fc.idleCuts++ // nothing was connected at that instant
			}
		}
	}()

	start := time.Now()
	<-sentAll
	sendTime := time.Since(start)
	fc := <-injected
	close(sendErrs)
	for err := range sendErrs {
		t.Error(err)
	}
	if fc.err != nil {
		t.Errorf("%s: %v", sc.brokerFaultName, fc.err)
	}
	// Every message is settled: what is still missing has at most the
	// broker's redelivery to wait for, not the whole test's time.
	var recvErr error
	select {
	case recvErr = <-recvDone:
	case <-time.After(soakDrainTime):
		stopReceiving()
		recvErr = <-recvDone
	}
	sendReconnects, sendForced, sendLongest := sendOut.figures()
	recvReconnects, recvForced, recvLongest := recvOut.figures()
	t.Logf("%s: %d of %d messages settled in %v by %d goroutines; faults: %d cuts (+%d with nothing to cut), %d %s",
		p.Name, progress.Load(), total, sendTime.Round(time.Millisecond), soakGoroutines, fc.cuts, fc.idleCuts, fc.broker, sc.brokerFaultName)
	t.Logf("%s: sending client: %d reconnects (%d forced closes), longest outage %v; receiving client (%s): %d reconnects (%d forced closes), longest outage %v; proxy accepted %d connections",
		p.Name, sendReconnects, sendForced, sendLongest.Round(time.Microsecond), map[bool]string{true: "direct", false: "through the proxy"}[sc.receiverDirect],
		recvReconnects, recvForced, recvLongest.Round(time.Microsecond), proxy.Accepted())
	t.Logf("%s: received %d messages, %d distinct of %d, %d duplicates",
		p.Name, received.Load(), distinct.Load(), total, received.Load()-distinct.Load())

	for _, sm := range strange {
		if len(sm.frames) == 0 {
			t.Errorf("%s: the receiver returned a message that no transfer in its last frames carried (a client fault): %v", p.Name, sm.err)
			continue
		}
		t.Logf("ANOMALY: %s: the peer sent a message that is not a soak message: %v; its transfers:\n%s", p.Name, sm.err, strings.Join(sm.frames, "\n"))
	}
	if recvErr == nil && distinct.Load() < total {
		recvErr = errors.New("the receiver stopped early")
	}
	if recvErr != nil {
		var lost []int
		for n, k := range seen {
			if k == 0 && len(lost) < 20 {
				lost = append(lost, n)
			}
		}
		t.Fatalf("%d of %d sequence numbers never arrived (first: %v): %v", total-int(distinct.Load()), total, lost, recvErr)
	}
	if fc.cuts < 20 {
		t.Errorf("%d cuts hit a connection, want at least 20", fc.cuts)
	}
	if sc.brokerFault != nil && fc.broker != 2 {
		t.Errorf("%d %s, want 2", fc.broker, sc.brokerFaultName)
	}
	// Every cut costs a reconnect (a broker fault need not: see rabbitmq);
	// the last reconnect's event may still be on its way to the callback.
	if sendReconnects < fc.cuts-1 {
		t.Errorf("the sending client reconnected %d times for %d cuts", sendReconnects, fc.cuts)
	}
}

// strangeMessage is a received message that is not a soak message, with
// the transfers among the receiving client's last frames that carried
// something else than a soak message: none means the client made it up.
type strangeMessage struct {
	err    error
	frames []string
}

// frameRing keeps the last lines of a client's frame trace
// (ConnectOptions.TraceOutput).
type frameRing struct {
	mu    sync.Mutex
	lines []string
	next  int
}

func newFrameRing(n int) *frameRing { return &frameRing{lines: make([]string, 0, n)} }

func (r *frameRing) Write(p []byte) (int, error) {
	line := strings.TrimSuffix(string(p), "\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, line)
	} else {
		r.lines[r.next] = line
		r.next = (r.next + 1) % len(r.lines)
	}
	return len(p), nil
}

// suspects returns the incoming transfers kept whose payload is not a soak
// message, and the frames of their connection around them.
func (r *frameRing) suspects() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ordered := append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...)
	var out []string
	for i, line := range ordered {
		if !strings.Contains(line, "<- @transfer") || strings.Contains(line, `Sw\xa1`) && strings.Contains(line, "soak ") {
			continue
		}
		out = append(out, ordered[max(0, i-3):min(len(ordered), i+2)]...)
		if len(out) > 50 {
			break
		}
	}
	return out
}

// soakSeq is the sequence number in a soak message's body "soak N".
func soakSeq(m *amq.Message) (int, error) {
	var body string
	switch b := m.Body.(type) {
	case string:
		body = b
	case []byte:
		body = string(b)
	default:
		// Seen once against Artemis after kill -9 and restarts: say all
		// the message holds, to tell a broker that lost the body from a
		// client that lost it.
		return 0, fmt.Errorf("soak message body of type %T: %v; the message: id %v, durable %v, delivery count %d, properties %v, annotations %v, JMS type %v",
			m.Body, m.Body, m.ID, m.Durable, m.DeliveryCount, m.Properties, m.Annotations, m.JMSType())
	}
	n, err := strconv.Atoi(strings.TrimPrefix(body, "soak "))
	if err != nil || n < 0 || n >= soakGoroutines*soakEach {
		return 0, fmt.Errorf("soak message body %q", body)
	}
	return n, nil
}

//go:build integration

package integration

// Broker throughput and memory, measured and never asserted: 100-byte
// messages through the embedded broker and the Qpid Proton C example
// broker, with the same clients on both sides (raw go-amqp, or the Proton C
// send and receive examples), so that the figures compare the brokers and
// nothing else.
//
//	go test -tags integration -run '^$' -bench BrokerThroughput -benchtime 20000x ./integration/
//	go test -tags integration -run 'TestBrokerProtonCClients|TestBrokerQueueRSS' -v ./integration/

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/amqtest"
)

const (
	throughputBody   = 100  // bytes per message body
	throughputWindow = 1000 // unsettled sends in flight, and receiver credit
)

// throughputBrokers are the brokers compared: name and a function giving a
// URL to dial (raw go-amqp, credentials included).
var throughputBrokers = []struct {
	name string
	url  func(tb testing.TB) string
}{
	{"embedded", func(tb testing.TB) string {
		return amqtest.NewBroker(tb, amqtest.WithMaxQueueMessages(-1)).URL()
	}},
	{"proton-c", func(tb testing.TB) string { return getPeer(tb, "proton-c").URL }},
}

// throughputRig is one sender and one receiver, each on its own connection,
// attached to the same fresh queue.
type throughputRig struct {
	snd *amqp.Sender
	rcv *amqp.Receiver
}

func newThroughputRig(tb testing.TB, url string) *throughputRig {
	tb.Helper()
	addr := uniqueName(tb)
	_, rs := rawSession(tb, url, nil)
	rcv := rawReceiver(tb, rs, addr, &amqp.ReceiverOptions{Credit: throughputWindow})
	_, ss := rawSession(tb, url, nil)
	snd := rawSender(tb, ss, addr, nil)
	return &throughputRig{snd: snd, rcv: rcv}
}

// run pushes n messages, numbered from first, through the broker: the
// sender pipelines with at most throughputWindow receipts outstanding
// (each must come back accepted), the receiver accepts every message and
// checks each number arrives exactly once. It returns the time from the
// first send to the last message received.
func (r *throughputRig) run(ctx context.Context, first, n int) (time.Duration, error) {
	start := time.Now()
	sendErr := make(chan error, 1)
	go func() {
		sem := make(chan struct{}, throughputWindow)
		receipts := make(chan amqp.SendReceipt, throughputWindow)
		var wg sync.WaitGroup
		var outcomeErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rc := range receipts {
				st, err := rc.Wait(ctx)
				<-sem
				if outcomeErr != nil {
					continue
				}
				if err != nil {
					outcomeErr = err
				} else if _, ok := st.(*amqp.StateAccepted); !ok {
					outcomeErr = fmt.Errorf("outcome %T, want accepted", st)
				}
			}
		}()
		var err error
		body := make([]byte, throughputBody)
		for i := first; i < first+n && err == nil; i++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				err = ctx.Err()
				continue
			}
			binary.BigEndian.PutUint64(body, uint64(i))
			var rc amqp.SendReceipt
			// go-amqp copies the body when it encodes the transfer.
			rc, err = r.snd.SendWithReceipt(ctx, amqp.NewMessage(body), nil)
			if err != nil {
				<-sem
				err = fmt.Errorf("send %d: %w", i, err)
				continue
			}
			receipts <- rc
		}
		close(receipts)
		wg.Wait()
		sendErr <- errors.Join(err, outcomeErr)
	}()

	seen := make([]bool, n)
	var recvErr error
	for got := 0; got < n; got++ {
		m, err := r.rcv.Receive(ctx, nil)
		if err != nil {
			recvErr = fmt.Errorf("receive %d of %d: %w", got, n, err)
			break
		}
		data := m.GetData()
		if len(data) != throughputBody {
			recvErr = fmt.Errorf("message of %d bytes, want %d", len(data), throughputBody)
			break
		}
		i := int(binary.BigEndian.Uint64(data)) - first
		if i < 0 || i >= n || seen[i] {
			recvErr = fmt.Errorf("message number %d unexpected or seen twice", i+first)
			break
		}
		seen[i] = true
		if err := r.rcv.AcceptMessage(ctx, m); err != nil {
			recvErr = fmt.Errorf("accept: %w", err)
			break
		}
	}
	elapsed := time.Since(start)
	return elapsed, errors.Join(recvErr, <-sendErr)
}

// BenchmarkBrokerThroughput reports each broker's msgs/s for b.N messages.
func BenchmarkBrokerThroughput(b *testing.B) {
	for _, br := range throughputBrokers {
		b.Run(br.name, func(b *testing.B) {
			rig := newThroughputRig(b, br.url(b))
			ctx := testCtx(b, 10*time.Minute)
			// Warm up the links and the broker's queue.
			if _, err := rig.run(ctx, 0, throughputWindow); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			elapsed, err := rig.run(ctx, throughputWindow, b.N)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// TestBrokerThroughputRatio runs the benchmark's workload for a fixed count
// against both brokers in the same run and logs the rates and their ratio.
// Speed is measured, never asserted: the test fails only when a message is
// lost, duplicated or not accepted.
func TestBrokerThroughputRatio(t *testing.T) {
	const n = 50000
	rates := map[string]float64{}
	for _, br := range throughputBrokers {
		t.Run(br.name, func(t *testing.T) {
			rig := newThroughputRig(t, br.url(t))
			ctx := testCtx(t, 5*time.Minute)
			elapsed, err := rig.run(ctx, 0, n)
			if err != nil {
				t.Fatal(err)
			}
			rates[br.name] = float64(n) / elapsed.Seconds()
			t.Logf("%s: %d messages of %d bytes in %v: %.0f msgs/s", br.name, n, throughputBody, elapsed.Round(time.Millisecond), rates[br.name])
		})
	}
	if e, p := rates["embedded"], rates["proton-c"]; e > 0 && p > 0 {
		t.Logf("embedded / proton-c throughput ratio: %.2f (%.0f vs %.0f msgs/s, race detector %s)", e/p, e, p, raceState)
	}
}

var (
	protonCMessages = flag.Int("protonc-messages", 200000, "messages per run of TestBrokerProtonCClients")
	protonCRounds   = flag.Int("protonc-rounds", 2, "rounds of TestBrokerProtonCClients (each runs both brokers)")
	rssMessages     = flag.Int("rss-messages", 1000000, "messages TestBrokerQueueRSS fills the queue with")
)

// protonCBenchClient compiles a Proton C example (send or receive) with the
// changes a benchmark needs, made to the Debian source at build time:
// send sends a 100-byte binary body (a data section) instead of the map
// {"sequence": N}; receive decodes each message but neither formats nor
// prints its body (pn_inspect and printf of every body would measure the
// formatter, not the broker). Everything else, credit and settlement
// included, is the example's.
func protonCBenchClient(t testing.TB, dir, name string) string {
	t.Helper()
	src := filepath.Join(protonCExamples, name+".c")
	if out, err := exec.Command("dpkg", "-L", "libqpid-proton11-dev-examples").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(line, "/c/"+name+".c") {
				src = line
			}
		}
	}
	code, err := os.ReadFile(src)
	if err != nil {
		missing(t, "Qpid Proton C "+name+" example (Debian package libqpid-proton11-dev-examples)", err)
	}
	var edits [][2]string
	switch name {
	case "send":
		edits = [][2]string{
			{"#include <stdlib.h>", "#include <stdlib.h>\n#include <string.h>"},
			{`  pn_data_put_map(body);
  pn_data_enter(body);
  pn_data_put_string(body, pn_bytes(sizeof("sequence")-1, "sequence"));
  pn_data_put_int(body, app->sent); /* The sequence number */
  pn_data_exit(body);`, `  { /* amq benchmark: a 100-byte data section, starting with the sequence number */
    char pad[100] = {0};
    memcpy(pad, &app->sent, sizeof(app->sent));
    pn_message_set_inferred(app->message, true);
    pn_data_put_binary(body, pn_bytes(sizeof(pad), pad));
  }`},
		}
	case "receive":
		edits = [][2]string{{`    /* Print the decoded message */
    pn_string_t *s = pn_string(NULL);
    pn_inspect(pn_message_body(m), s);
    printf("%s\n", pn_string_get(s));
    pn_free(s);
`, "    /* amq benchmark: decoded, not printed */\n"}}
	}
	text := string(code)
	for _, e := range edits {
		if !strings.Contains(text, e[0]) {
			t.Fatalf("%s does not contain the code the benchmark changes (another Proton version?):\n%s", src, e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	csrc := filepath.Join(dir, "bench-"+name+".c")
	if err := os.WriteFile(csrc, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libqpid-proton").Output()
	if err != nil {
		missing(t, "pkg-config libqpid-proton (Debian package libqpid-proton11-dev)", err)
	}
	bin := filepath.Join(dir, "bench-"+name)
	args := append([]string{"-O2", "-o", bin, csrc, "-I" + filepath.Dir(src)}, strings.Fields(string(flags))...)
	args = append(args, "-lpthread")
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// protonCRun moves n messages through the broker at rawURL with the Proton
// C clients: receive starts, then send sends n messages at once (unsettled,
// each must come back accepted); the broker holds for receive what arrives
// before its attach. It returns the time from the start of receive to its
// end, and the CPU time the two clients used.
func protonCRun(t testing.TB, sendBin, recvBin, rawURL string, n int) (elapsed, clientCPU time.Duration) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port := u.Hostname(), u.Port()
	addr := uniqueName(t)
	ctx := testCtx(t, 10*time.Minute)
	recv := exec.CommandContext(ctx, recvBin, host, port, addr, fmt.Sprint(n))
	var recvOut, recvErr strings.Builder
	recv.Stdout, recv.Stderr = &recvOut, &recvErr
	start := time.Now()
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	send := exec.CommandContext(ctx, sendBin, host, port, addr, fmt.Sprint(n))
	sendOut, err := send.CombinedOutput()
	if err != nil {
		recv.Process.Kill()
		recv.Wait()
		t.Fatalf("send: %v\n%s", err, sendOut)
	}
	if err := recv.Wait(); err != nil {
		t.Fatalf("receive: %v\n%s%s", err, recvOut.String(), recvErr.String())
	}
	elapsed = time.Since(start)
	if got, want := strings.TrimSpace(string(sendOut)), fmt.Sprintf("%d messages sent and acknowledged", n); got != want {
		t.Fatalf("send printed %q, want %q", got, want)
	}
	if got, want := strings.TrimSpace(recvOut.String()), fmt.Sprintf("%d messages received", n); got != want {
		t.Fatalf("receive printed %q, want %q", got, want)
	}
	for _, ps := range []*os.ProcessState{send.ProcessState, recv.ProcessState} {
		clientCPU += ps.UserTime() + ps.SystemTime()
	}
	return elapsed, clientCPU
}

// TestBrokerProtonCClients runs the Proton C send and receive examples
// through the embedded broker (as the program cmd/amqbroker) and the
// Proton C example broker, alternately, and logs each rate and their ratio
// per round, with the CPU time the clients used per message: on a machine
// of few cores that bounds the rate any broker can reach with them. Speed
// is measured, never asserted: the test fails only when a message is not
// accepted or not received.
func TestBrokerProtonCClients(t *testing.T) {
	dir := t.TempDir()
	sendBin := protonCBenchClient(t, dir, "send")
	recvBin := protonCBenchClient(t, dir, "receive")
	amqbroker := startAmqbroker(t, buildAmqbroker(t, dir), "-listen", "amqp://127.0.0.1:0", "-allow-anonymous",
		"-max-queue-messages", "-1", "-max-queue-bytes", "-1")
	protonURL := getPeer(t, "proton-c").URL
	n := *protonCMessages
	perMsg := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	for round := 1; round <= *protonCRounds; round++ {
		et, ec := protonCRun(t, sendBin, recvBin, amqbroker.URL, n)
		pt, pc := protonCRun(t, sendBin, recvBin, protonURL, n)
		e, p := float64(n)/et.Seconds(), float64(n)/pt.Seconds()
		// The clients' CPU per message with the faster broker bounds any
		// broker sharing the machine's cores with them.
		bound := float64(runtime.NumCPU()) / (min(perMsg(ec), perMsg(pc)) * 1e-6)
		t.Logf("round %d, %d messages of 100 bytes: embedded %.0f msg/s, proton-c %.0f msg/s, embedded / proton-c %.2f (race detector %s); "+
			"the clients' CPU per message %.2f µs with embedded, %.2f with proton-c: on %d CPUs no broker passes %.0f msg/s with them",
			round, n, e, p, e/p, raceState, perMsg(ec), perMsg(pc), runtime.NumCPU(), bound)
	}
}

// TestBrokerQueueRSS fills one queue of cmd/amqbroker with -rss-messages
// 100-byte messages (Proton C send, unsettled, all accepted) and logs the
// program's resident set size (VmRSS), idle and full. It reports and never
// asserts; Linux only.
func TestBrokerQueueRSS(t *testing.T) {
	dir := t.TempDir()
	sendBin := protonCBenchClient(t, dir, "send")
	b := startAmqbroker(t, buildAmqbroker(t, dir), "-listen", "amqp://127.0.0.1:0", "-allow-anonymous",
		"-max-queue-messages", "-1", "-max-queue-bytes", "-1")
	pid := b.cmd.Process.Pid
	idle := vmRSS(t, pid)
	u, err := url.Parse(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	n := *rssMessages
	ctx := testCtx(t, 10*time.Minute)
	start := time.Now()
	out, err := exec.CommandContext(ctx, sendBin, u.Hostname(), u.Port(), uniqueName(t), fmt.Sprint(n)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprintf("%d messages sent and acknowledged", n) {
		t.Fatalf("send: %v\n%s", err, out)
	}
	elapsed := time.Since(start)
	time.Sleep(time.Second)
	full := vmRSS(t, pid)
	t.Logf("amqbroker holding %d messages of 100 bytes: VmRSS %.1f MB (idle %.1f MB; %.0f bytes per message); filled at %.0f msg/s",
		n, float64(full)/1e6, float64(idle)/1e6, float64(full-idle)/float64(n), float64(n)/elapsed.Seconds())
}

// vmRSS reads the resident set size of process pid, in bytes.
func vmRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

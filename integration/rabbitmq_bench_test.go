//go:build integration

package integration

import (
	"encoding/json"
	"flag"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	rabbitMessages = flag.Int("rabbit-messages", 50000, "messages per Proton C run of TestRabbitMQClients")
	rabbitRounds   = flag.Int("rabbit-rounds", 2, "rounds of TestRabbitMQClients (each runs every client)")
)

// benchReport is the part of amqbench's -json report the tests read.
type benchReport struct {
	Received   uint64  `json:"received"`
	Lost       uint64  `json:"lost"`
	Duplicated uint64  `json:"duplicated"`
	Drained    bool    `json:"drained"`
	Throughput float64 `json:"throughput_msgs_per_s"`
	CPUPerMsg  float64 `json:"cpu_us_per_msg"`
	Error      string  `json:"error"`
}

// runAmqbench runs amqbench with args and -json and returns its report.
func runAmqbench(t testing.TB, bin string, args ...string) benchReport {
	t.Helper()
	ctx := testCtx(t, 5*time.Minute)
	out, err := exec.CommandContext(ctx, bin, append(args, "-json")...).Output()
	var r benchReport
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		t.Fatalf("amqbench %v: %v (%v)\n%s", args, err, jerr, out)
	}
	return r
}

// TestRabbitMQClients moves messages through RabbitMQ with the Proton C
// send and receive examples, with amq (amqbench, 1000 and 100 unsettled
// messages in flight, credit 1000; and 1000 in flight with the credit
// Proton C's receive grants) and with raw go-amqp (amqbench -engine raw),
// alternately, and logs each rate and its ratio to Proton C's per round. Speed is measured, never asserted: the test
// fails when Proton C or amq loses a message. Raw go-amqp's stall on
// RabbitMQ (see FeatExactCredit) is logged, not failed.
func TestRabbitMQClients(t *testing.T) {
	p := getPeer(t, "rabbitmq")
	t.Cleanup(func() { deleteRabbitQueues(t, "amq-it-TestRabbitMQClients-") })
	dir := t.TempDir()
	sendBin := protonCBenchClient(t, dir, "send")
	recvBin := protonCBenchClient(t, dir, "receive")
	bench := buildCommand(t, dir, "amqbench")
	n := *rabbitMessages
	for round := 1; round <= *rabbitRounds; round++ {
		elapsed, _ := protonCRun(t, sendBin, recvBin, p.Addr, n)
		pc := float64(n) / elapsed.Seconds()
		line := fmt.Sprintf("round %d: proton-c %.0f msg/s", round, pc)
		// Proton C's receive grants its whole count as credit at once; the
		// last amq row does the same, the others keep amqbench's 1,000.
		same := strconv.Itoa(n)
		for _, run := range []struct{ engine, window, credit string }{
			{"amq", "1000", "1000"}, {"amq", "100", "1000"}, {"amq", "1000", same}, {"raw", "1000", "1000"},
		} {
			r := runAmqbench(t, bench, "-engine", run.engine, "-url", p.Addr, "-user", p.User, "-password", p.Password,
				"-address", p.Queue(uniqueName(t)), "-duration", "4s", "-window", run.window, "-credit", run.credit, "-grace", "20s")
			line += fmt.Sprintf(", %s window %s credit %s %.0f msg/s (%.2f× proton-c, %.1f µs CPU/msg)",
				run.engine, run.window, run.credit, r.Throughput, r.Throughput/pc, r.CPUPerMsg)
			switch {
			case run.engine == "amq" && (r.Error != "" || r.Lost > 0 || !r.Drained):
				t.Errorf("amq on RabbitMQ: lost %d, drained %v, error %q", r.Lost, r.Drained, r.Error)
			case r.Error != "" || r.Lost > 0 || !r.Drained:
				line += fmt.Sprintf(" [stalled: %d received, %d lost, error %q]", r.Received, r.Lost, r.Error)
			}
		}
		t.Log(line)
	}
}

// deleteRabbitQueues deletes the RabbitMQ queues whose names start with
// prefix, so that what a benchmark left behind (raw go-amqp's stalled
// runs) does not weigh on the runs after it. Without rabbitmqctl it does
// nothing.
func deleteRabbitQueues(t testing.TB, prefix string) {
	ctx := testCtx(t, time.Minute)
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "list_queues", "name", "-q").Output()
	if err != nil {
		t.Logf("not deleting the test's queues: rabbitmqctl list_queues: %v", err)
		return
	}
	for _, name := range strings.Fields(string(out)) {
		if strings.HasPrefix(name, prefix) {
			if out, err := exec.CommandContext(ctx, "rabbitmqctl", "delete_queue", name, "-q").CombinedOutput(); err != nil {
				t.Logf("rabbitmqctl delete_queue %s: %v: %s", name, err, out)
			}
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amqgo/amq/amqtest"
)

// TestMain lets the tests run the program's main in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("AMQBENCH_RUN_MAIN") == "1" {
		os.Args = append([]string{"amqbench"}, strings.Fields(os.Getenv("AMQBENCH_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testConfig(t *testing.T, args ...string) config {
	t.Helper()
	cfg, err := parseFlags(append([]string{"-duration", "300ms", "-json"}, args...), io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v", args, err)
	}
	return cfg
}

// runJSON runs the tool and returns its JSON report, decoded both into the
// struct and into a map (to check the field names).
func runJSON(t *testing.T, cfg config) (report, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatalf("run: %v\noutput: %s", err, out.String())
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return r, m
}

func checkSane(t *testing.T, r report, m map[string]any) {
	t.Helper()
	for _, k := range []string{
		"throughput_msgs_per_s", "latency_p50_us", "latency_p90_us", "latency_p99_us",
		"latency_p999_us", "cpu_us_per_msg", "sent", "received", "engine", "url",
		"presettled", "size", "credit", "window", "senders", "duration_s",
	} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	if r.Sent == 0 {
		t.Fatalf("nothing sent: %+v", r)
	}
	if !r.Drained {
		t.Errorf("not drained")
	}
	if r.Received != r.Sent || r.Lost != 0 || r.Duplicated != 0 || r.Unconfirmed != 0 {
		t.Errorf("sent %d, received %d, lost %d, duplicated %d, unconfirmed %d", r.Sent, r.Received, r.Lost, r.Duplicated, r.Unconfirmed)
	}
	ps := []float64{r.LatencyP50, r.LatencyP90, r.LatencyP99, r.LatencyP999, r.LatencyMax}
	if !slices.IsSorted(ps) || ps[0] <= 0 {
		t.Errorf("latency percentiles p50, p90, p99, p99.9, max = %v: not positive and ordered", ps)
	}
	if r.ThroughputMsgs <= 0 || r.ThroughputMB <= 0 || r.CPUPerMsg <= 0 || r.ElapsedS <= 0 {
		t.Errorf("throughput %v msg/s, %v MB/s, cpu %v µs/msg, elapsed %vs: want positive", r.ThroughputMsgs, r.ThroughputMB, r.CPUPerMsg, r.ElapsedS)
	}
	if r.Error != "" {
		t.Errorf("error %q", r.Error)
	}
}

func TestRunSelf(t *testing.T) {
	modes := []struct {
		name string
		args []string
	}{
		{"window", nil},
		{"presettled", []string{"-presettled"}},
		{"blocking", []string{"-window", "1"}},
		{"rate", []string{"-rate", "500", "-window", "10"}},
		{"senders", []string{"-senders", "3", "-window", "50", "-credit", "20", "-size", "300"}},
	}
	for _, engine := range []string{"amq", "raw"} {
		for _, mode := range modes {
			t.Run(engine+"/"+mode.name, func(t *testing.T) {
				cfg := testConfig(t, append([]string{"-engine", engine}, mode.args...)...)
				r, m := runJSON(t, cfg)
				checkSane(t, r, m)
				if r.Engine != engine || r.URL != "self" || r.Presettled != cfg.presettled ||
					r.Size != cfg.size || r.Window != cfg.window || r.Credit != cfg.credit ||
					r.Senders != cfg.senders || r.DurationS != 0.3 {
					t.Errorf("report does not echo the configuration: %+v", r)
				}
				if cfg.rate > 0 && r.Sent > uint64(2*cfg.rate*cfg.duration.Seconds())+10 {
					t.Errorf("-rate %v for %v sent %d messages", cfg.rate, cfg.duration, r.Sent)
				}
			})
		}
	}
}

func TestTextReport(t *testing.T) {
	cfg := testConfig(t, "-window", "20")
	cfg.json = false
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"engine      amq", "self (embedded broker at amqp://127.0.0.1:", "msg/s", "MB/s", "p99.9", "µs/msg", "lost 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCredentialsNotReported(t *testing.T) {
	for _, engine := range []string{"amq", "raw"} {
		cfg := testConfig(t, "-engine", engine, "-user", "bench", "-password", "s3cret", "-duration", "100ms")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var out bytes.Buffer
		err := run(ctx, cfg, &out)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", engine, err)
		}
		if strings.Contains(out.String(), "s3cret") {
			t.Errorf("%s: the report shows the password: %s", engine, out.String())
		}
	}
}

func TestChaos(t *testing.T) {
	cfg := testConfig(t, "-chaos", "-duration", "1s", "-window", "100")
	cfg.chaosEvery = 250 * time.Millisecond
	r, _ := runJSON(t, cfg)
	if r.Chaos == nil || r.Chaos.Cuts == 0 {
		t.Fatalf("no cuts: %+v", r)
	}
	if r.Sent == 0 || r.Lost != 0 || r.Received != r.Sent || r.Unconfirmed != 0 {
		t.Errorf("unsettled sends through cuts: sent %d, received %d, lost %d, unconfirmed %d", r.Sent, r.Received, r.Lost, r.Unconfirmed)
	}
	c := r.Chaos
	if c.Reconnects == 0 || c.Measured == 0 {
		t.Errorf("cuts %d, reconnects %d, measured %d", c.Cuts, c.Reconnects, c.Measured)
	}
	if !(0 < c.ReconnectMinMS && c.ReconnectMinMS <= c.ReconnectMedMS && c.ReconnectMedMS <= c.ReconnectMaxMS) {
		t.Errorf("reconnect min %v, median %v, max %v: want positive and ordered", c.ReconnectMinMS, c.ReconnectMedMS, c.ReconnectMaxMS)
	}
}

func TestChaosPresettled(t *testing.T) {
	// Pre-settled is at-most-once: messages may be lost in a cut, but the
	// run must go on and account for every one.
	cfg := testConfig(t, "-chaos", "-presettled", "-duration", "600ms")
	cfg.chaosEvery = 200 * time.Millisecond
	r, _ := runJSON(t, cfg)
	if r.Chaos == nil || r.Chaos.Cuts == 0 || r.Sent == 0 || r.Error != "" {
		t.Fatalf("%+v", r)
	}
	if r.Received+r.Lost != r.Sent {
		t.Errorf("sent %d ≠ received %d + lost %d", r.Sent, r.Received, r.Lost)
	}
}

func TestStopEarly(t *testing.T) {
	// A cancelled context (SIGINT) stops the senders and still reports.
	cfg := testConfig(t, "-duration", "10m")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	var out bytes.Buffer
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > time.Minute {
		t.Errorf("run went on after the context ended")
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.Sent == 0 || r.Received != r.Sent {
		t.Errorf("sent %d, received %d", r.Sent, r.Received)
	}
}

func TestUnreachablePeer(t *testing.T) {
	cfg := testConfig(t, "-url", "amqp://127.0.0.1:1", "-engine", "raw")
	if err := run(context.Background(), cfg, io.Discard); err == nil {
		t.Fatal("no error connecting to a closed port")
	}
}

// AMQP over WebSockets: the URL keeps its path, the HTTP path.
func TestWebSocketURL(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithWebSocket())
	cfg := testConfig(t, "-url", b.URL(), "-duration", "200ms")
	if cfg.url != b.URL() {
		t.Fatalf("url %q, want %q", cfg.url, b.URL())
	}
	r, _ := runJSON(t, cfg)
	if r.Sent == 0 || r.Received != r.Sent || r.Error != "" {
		t.Fatalf("%+v", r)
	}
	// go-amqp, the baseline, over the same WebSocket transport.
	r, _ = runJSON(t, testConfig(t, "-url", b.URL(), "-duration", "200ms", "-engine", "goamqp"))
	if r.Engine == "amq" || r.Sent == 0 || r.Received != r.Sent || r.Error != "" {
		t.Fatalf("goamqp: %+v", r)
	}
	if cfg, err := parseFlags([]string{"-url", "amqpws://u:p@localhost:8080/broker/amqp"}, io.Discard); err != nil || cfg.url != "amqpws://localhost:8080/broker/amqp" || cfg.user != "u" {
		t.Fatalf("parseFlags: %v, url %q, user %q", err, cfg.url, cfg.user)
	}
}

func TestFlags(t *testing.T) {
	bad := [][]string{
		{"-size", "23"},
		{"-credit", "0"},
		{"-window", "0"},
		{"-senders", "0"},
		{"-duration", "0s"},
		{"-duration", "soon"},
		{"-rate", "-1"},
		{"-engine", "proton"},
		{"-url", "http://localhost"},
		{"-url", "amqp://"},
		{"-url", "amqp://localhost/queue"},
		{"-url", "amqpws://localhost/amqp?x=1"},
		{"-address", ""},
		{"-password", "x"},
		{"-chaos", "-engine", "raw"},
		{"-grace", "0s"},
		{"-nosuchflag"},
		{"extra"},
	}
	for _, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
	var help bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(help.String(), "embedded broker") {
		t.Errorf("-h does not say what -url self means:\n%s", help.String())
	}

	cfg, err := parseFlags([]string{"-url", "amqp://alice:pw@127.0.0.1:5672"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.url != "amqp://127.0.0.1:5672" || cfg.user != "alice" || cfg.password != "pw" {
		t.Errorf("credentials in the URL: url %q user %q password %q", cfg.url, cfg.user, cfg.password)
	}
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args string
		want int
	}{
		{"-window 0", 2},
		{"-h", 0},
		{"-url amqp://127.0.0.1:1 -engine raw", 1},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "AMQBENCH_RUN_MAIN=1", "AMQBENCH_ARGS="+tc.args)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.want {
			t.Errorf("amqbench %s: exit status %d, want %d (stderr: %s)", tc.args, code, tc.want, stderr.String())
		}
		if tc.want == 2 && !strings.Contains(stderr.String(), "-window 0") {
			t.Errorf("amqbench %s: stderr %q does not name the flag", tc.args, stderr.String())
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	if h.percentile(0.5) != 0 {
		t.Error("empty histogram")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100000)
	for i := range vals {
		vals[i] = time.Duration(rng.ExpFloat64() * float64(300*time.Microsecond))
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, p := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(math.Ceil(p*float64(len(vals))))-1]
		got := h.percentile(p)
		if diff := math.Abs(float64(got-exact)) / float64(exact); diff > 0.02 {
			t.Errorf("p%v = %v, exact %v", p*100, got, exact)
		}
	}
	for _, v := range []uint64{0, 1, 127, 128, 129, 1000, 1 << 40, math.MaxUint64} {
		if i := bucketOf(v); i < 0 || i >= len(h.counts) {
			t.Errorf("bucketOf(%d) = %d", v, i)
		}
	}
}

func TestSeqSet(t *testing.T) {
	var a, b seqSet
	for _, n := range []uint64{0, 5, 63, 64, 200} {
		if !a.add(n) {
			t.Errorf("add(%d) not new", n)
		}
	}
	if a.add(5) {
		t.Error("add(5) twice is new")
	}
	b.add(5)
	b.add(64)
	if got := a.missingFrom(&b); got != 3 {
		t.Errorf("missingFrom = %d, want 3", got)
	}
}

func TestCPUProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AMQBENCH_RUN_MAIN=1", "AMQBENCH_ARGS=-url self -duration 300ms -cpuprofile "+prof)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("amqbench -cpuprofile: %v\n%s", err, out)
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof profiles are gzipped protobuf
		t.Fatalf("the profile is not a gzipped pprof profile: %d bytes", len(b))
	}

	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AMQBENCH_RUN_MAIN=1", "AMQBENCH_ARGS=-url self -duration 300ms -cpuprofile "+filepath.Join(prof, "no", "such", "dir"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "-cpuprofile") {
		t.Fatalf("unwritable -cpuprofile: err %v, output %s", err, out)
	}
}

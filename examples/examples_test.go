// Package examples_test runs every example program against the embedded
// broker and checks what it prints, so the examples cannot rot.
package examples_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/amqtest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// build compiles every example once per test binary.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "amq-examples-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./...")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	require.NoError(t, buildErr)
	return binDir
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// command prepares an example to run for at most timeout, counted from
// when it is ready to start: the build (the first test's, on a cold cache
// under a loaded machine, can take most of a minute) is done first. An
// example still running at the end gets quitSignal, so that the failure
// shows where each of its goroutines waited (Go prints them on stderr),
// and is killed 5 s later. cancel releases the timer.
func command(t *testing.T, timeout time.Duration, name string, args ...string) (cmd *exec.Cmd, cancel context.CancelFunc) {
	t.Helper()
	bin := filepath.Join(build(t), name)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd = exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(quitSignal) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	return cmd, cancel
}

// run runs an example to completion and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd, cancel := command(t, 30*time.Second, name, args...)
	defer cancel()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s %v failed; stdout:\n%s\nstderr:\n%s", name, args, stdout.String(), stderr.String())
	return stdout.String()
}

// start runs an example in the background; wait returns its output.
func start(t *testing.T, name string, args ...string) (wait func() string) {
	t.Helper()
	cmd, cancel := command(t, 30*time.Second, name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(cancel)
	return func() string {
		err := cmd.Wait()
		cancel()
		require.NoError(t, err, "%s %v failed; stdout:\n%s\nstderr:\n%s", name, args, stdout.String(), stderr.String())
		return stdout.String()
	}
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

func TestSendReceive(t *testing.T) {
	b := amqtest.NewBroker(t)
	out := run(t, "send", b.URL(), "examples", "hello")
	assert.Equal(t, []string{
		"SEND: Opened sender for target address 'examples'",
		"SEND: Sent message 'hello'",
	}, lines(out))

	out = run(t, "receive", b.URL(), "examples", "1")
	assert.Equal(t, []string{
		"RECEIVE: Created receiver for source address 'examples'",
		"RECEIVE: Received message 'hello'",
	}, lines(out))
	assert.Equal(t, 0, b.QueueDepth("examples"), "the received message was accepted")
}

func TestRequestReply(t *testing.T) {
	b := amqtest.NewBroker(t)
	wait := start(t, "server", b.URL(), "requests", "2")
	out := run(t, "client", b.URL(), "requests", "Twas brillig", "and the slithy toves")
	got := lines(out)
	require.Len(t, got, 5)
	assert.Contains(t, got[0], "CLIENT: Created receiver for reply address '")
	assert.Equal(t, []string{
		"CLIENT: Sent request 'Twas brillig'",
		"CLIENT: Received response 'TWAS BRILLIG'",
		"CLIENT: Sent request 'and the slithy toves'",
		"CLIENT: Received response 'AND THE SLITHY TOVES'",
	}, got[1:])
	assert.Equal(t, []string{
		"SERVER: Listening on 'requests'",
		"SERVER: Received request 'Twas brillig'",
		"SERVER: Sent reply 'TWAS BRILLIG'",
		"SERVER: Received request 'and the slithy toves'",
		"SERVER: Sent reply 'AND THE SLITHY TOVES'",
	}, lines(wait()))
}

func TestDurableSubscribe(t *testing.T) {
	b := amqtest.NewBroker(t)
	// Subscribe, receive nothing, detach.
	out := run(t, "durable_subscribe", b.URL(), "notices", "0")
	assert.Equal(t, []string{
		"SUBSCRIBE: Subscribed to 'notices'",
		"SUBSCRIBE: Detached; the subscription keeps messages until the next run",
	}, lines(out))
	// Published while nobody is attached: kept for the subscription.
	run(t, "send", b.URL(), "notices", "kept for you")
	out = run(t, "durable_subscribe", "-unsubscribe", b.URL(), "notices", "1")
	assert.Equal(t, []string{
		"SUBSCRIBE: Subscribed to 'notices'",
		"SUBSCRIBE: Received message 'kept for you'",
		"SUBSCRIBE: Ended the subscription",
	}, lines(out))
}

func TestQueueTopic(t *testing.T) {
	b := amqtest.NewBroker(t)
	out := run(t, "queue_topic", b.URL(), "queue", "q1")
	assert.Equal(t, []string{
		"Sent 'one' and 'two' to queue 'q1'",
		"Receiver 1 got 1 message(s): [one]",
		"Receiver 2 got 1 message(s): [two]",
	}, lines(out))
	out = run(t, "queue_topic", b.URL(), "topic", "t1")
	assert.Equal(t, []string{
		"Sent 'one' and 'two' to topic 't1'",
		"Receiver 1 got 2 message(s): [one two]",
		"Receiver 2 got 2 message(s): [one two]",
	}, lines(out))
}

func TestRejectRelease(t *testing.T) {
	b := amqtest.NewBroker(t)
	out := run(t, "reject_release", b.URL(), "settle")
	assert.ElementsMatch(t, []string{
		"Accepted 'ok' (delivery count 0)",
		"Rejected 'bad'",
		"Released 'later'",
		"Accepted 'later' (delivery count 0)",
	}, lines(out))
	assert.Equal(t, 0, b.QueueDepth("settle"))
}

func TestUsageErrors(t *testing.T) {
	for _, name := range []string{"send", "receive", "client", "server", "durable_subscribe", "queue_topic", "reject_release"} {
		t.Run(name, func(t *testing.T) {
			cmd, cancel := command(t, 10*time.Second, name)
			defer cancel()
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "no arguments is a usage error")
			assert.Contains(t, string(out), "Usage: "+name)
		})
	}
}

func TestHelloWorld(t *testing.T) {
	assert.Equal(t, "Hello World!\n", run(t, "helloworld"), "runs against its in-process broker")

	b := amqtest.NewBroker(t)
	assert.Equal(t, "Hello World!\n", run(t, "helloworld", "-url", b.URL(), "-address", "hw"))
	assert.Equal(t, 0, b.QueueDepth("hw"))
}

// TestSendFrameTrace runs the send example with PN_TRACE_FRM=1, as a
// Proton user would (reference chapter 11): every performative of the
// exchange is printed, and the password given on the command line is not.
func TestSendFrameTrace(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithUser("alice", "s3cret-pw"))
	url := strings.Replace(b.URL(), "amqp://", "amqp://alice:s3cret-pw@", 1)
	cmd, cancel := command(t, 30*time.Second, "send", url, "traced", "hello")
	defer cancel()
	cmd.Env = append(cmd.Env, "PN_TRACE_FRM=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	trace := stderr.String()
	for _, frame := range []string{
		"SASL:FRAME:0 -> @sasl-init(65)", "<- @sasl-outcome(68)",
		"-> @open(16)", "<- @open(16)", "-> @begin(17)", "-> @attach(18)", "<- @attach(18)",
		"<- @flow(19)", "-> @transfer(20)", "<- @disposition(21)",
		"-> @detach(22)", "-> @end(23)", "<- @end(23)", "-> @close(24)",
	} {
		assert.Contains(t, trace, frame)
	}
	assert.NotContains(t, trace, "s3cret-pw", "the password is redacted")
	assert.Contains(t, stdout.String(), "SEND: Sent message 'hello'")
}

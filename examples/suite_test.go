package examples_test

// Tests of the Go ports of the Qpid Proton Python example suite: each
// program runs against the embedded broker or against a listener of its
// own, its output is checked line by line, and so are its side effects
// (queue depth, database rows).

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/faultproxy"
)

// startListener runs an example that listens for connections itself and
// prints "Listening on URL" first; it returns that URL, and wait, which
// returns the rest of the example's output once it has exited.
func startListener(t *testing.T, name string, args ...string) (url string, wait func() string) {
	t.Helper()
	cmd, cancel := command(t, 30*time.Second, name, args...)
	t.Cleanup(cancel)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	out := bufio.NewReader(stdout)
	first, err := out.ReadString('\n')
	if err != nil {
		cancel()
		_ = cmd.Wait()
		t.Fatalf("%s printed no first line (%v): %s", name, err, stderr.String())
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(first), "Listening on ")
	require.True(t, ok, "first line of %s: %q", name, first)
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(out)
		rest <- string(b)
	}()
	return url, func() string {
		s := <-rest // the pipe must be read to the end before Wait
		require.NoError(t, cmd.Wait(), "%s %v failed: %s", name, args, stderr.String())
		return s
	}
}

// sequences are the lines simple_recv prints for simple_send's messages
// from..to.
func sequences(from, to int) []string {
	var l []string
	for i := from; i <= to; i++ {
		l = append(l, fmt.Sprintf("map[sequence:%d]", i))
	}
	return l
}

func TestHelloWorldDirect(t *testing.T) {
	assert.Equal(t, "Hello World!\n", run(t, "helloworld_direct"))
	assert.Equal(t, "Hello World!\n", run(t, "helloworld_direct", "-url", "amqp://127.0.0.1:0", "-address", "greetings"))
}

func TestSimpleSendRecv(t *testing.T) {
	b := amqtest.NewBroker(t)
	out := run(t, "simple_send", "-url", b.URL(), "-address", "simple", "-m", "10")
	assert.Equal(t, []string{"all messages confirmed"}, lines(out))
	assert.Equal(t, 10, b.QueueDepth("simple"))

	out = run(t, "simple_recv", "-url", b.URL(), "-address", "simple", "-m", "10")
	assert.Equal(t, sequences(1, 10), lines(out))
	assert.Equal(t, 0, b.QueueDepth("simple"), "every message received was accepted")
}

// TestSimpleSendReconnect cuts simple_send's connection while it is
// sending: the client reconnects, sends again what was unconfirmed, and
// the broker ends up with every message (some perhaps twice), which
// simple_recv prints once each, in order.
func TestSimpleSendReconnect(t *testing.T) {
	const n = 2000
	b := amqtest.NewBroker(t)
	p := faultproxy.Start(t, strings.TrimPrefix(b.URL(), "amqp://"))
	p.Delay(time.Millisecond) // keeps the sender busy long enough to be cut midway

	wait := start(t, "simple_send", "-url", p.URL(), "-address", "resilient", "-m", fmt.Sprint(n))
	require.Eventually(t, func() bool { return b.QueueDepth("resilient") > 0 }, 20*time.Second, time.Millisecond)
	require.Less(t, b.QueueDepth("resilient"), n, "cut before the last message arrived")
	require.Equal(t, 1, p.CutAll())

	assert.Equal(t, []string{"all messages confirmed"}, lines(wait()))
	assert.GreaterOrEqual(t, p.Accepted(), 2, "simple_send reconnected")
	assert.GreaterOrEqual(t, b.QueueDepth("resilient"), n, "no message lost (resends may duplicate)")

	out := run(t, "simple_recv", "-url", b.URL(), "-address", "resilient", "-m", fmt.Sprint(n))
	assert.Equal(t, sequences(1, n), lines(out), "every message, once, in order")
}

// TestTxSendRecv: tx_send's batches reach the queue whole, at each commit;
// tx_recv consumes them in transactions, and the queue ends empty.
func TestTxSendRecv(t *testing.T) {
	b := amqtest.NewBroker(t)
	out := run(t, "tx_send", "-url", b.URL(), "-address", "tx", "-m", "25", "-b", "10")
	assert.Equal(t, []string{"all messages committed"}, lines(out))
	assert.Equal(t, 25, b.QueueDepth("tx"))

	out = run(t, "tx_recv", "-url", b.URL(), "-address", "tx", "-m", "20", "-b", "10")
	assert.Equal(t, sequences(1, 20), lines(out))
	assert.Equal(t, 5, b.QueueDepth("tx"), "two batches consumed, the rest left")
}

func TestColourSelectedRecv(t *testing.T) {
	b := amqtest.NewBroker(t)
	out := run(t, "colour_send", "-url", b.URL(), "-address", "colours", "-m", "6")
	assert.Equal(t, []string{"all messages confirmed"}, lines(out))

	out = run(t, "selected_recv", "-url", b.URL(), "-address", "colours", "-m", "3")
	assert.Equal(t, []string{"green 1", "green 3", "green 5"}, lines(out))
	assert.Equal(t, 3, b.QueueDepth("colours"), "the red ones stay for other receivers")

	out = run(t, "selected_recv", "-url", b.URL(), "-address", "colours", "-selector", "colour = 'red'", "-m", "3")
	assert.Equal(t, []string{"red 2", "red 4", "red 6"}, lines(out))
	assert.Equal(t, 0, b.QueueDepth("colours"))
}

func TestQueueBrowser(t *testing.T) {
	b := amqtest.NewBroker(t)
	run(t, "colour_send", "-url", b.URL(), "-address", "browsed", "-m", "4")
	want := []string{"green 1", "red 2", "green 3", "red 4", "browsed 4 message(s); they are still on 'browsed'"}
	for range 2 { // browsing twice shows the same messages: nothing was consumed
		out := run(t, "queue_browser", "-url", b.URL(), "-address", "browsed", "-m", "4")
		assert.Equal(t, want, lines(out))
		assert.Equal(t, 4, b.QueueDepth("browsed"))
	}
}

var syncLines = []string{
	"Twas brillig, and the slithy toves => TWAS BRILLIG, AND THE SLITHY TOVES",
	"Did gire and gymble in the wabe. => DID GIRE AND GYMBLE IN THE WABE.",
	"All mimsy were the borogroves, => ALL MIMSY WERE THE BOROGROVES,",
	"And the mome raths outgrabe. => AND THE MOME RATHS OUTGRABE.",
}

func TestSyncClientWithServer(t *testing.T) {
	b := amqtest.NewBroker(t)
	// The server example's own output is TestRequestReply's business; here
	// it only has to answer, and is stopped once sync_client is done.
	server := exec.Command(filepath.Join(build(t), "server"), b.URL(), "requests")
	require.NoError(t, server.Start())
	defer func() {
		_ = server.Process.Kill()
		_ = server.Wait()
	}()
	out := run(t, "sync_client", "-url", b.URL(), "-address", "requests")
	assert.Equal(t, syncLines, lines(out))
}

func TestSyncClientWithServerDirect(t *testing.T) {
	url, wait := startListener(t, "server_direct", "-url", "amqp://127.0.0.1:0", "-m", "4")
	out := run(t, "sync_client", "-url", url, "-address", "requests")
	assert.Equal(t, syncLines, lines(out))
	var want []string
	for _, l := range syncLines {
		req, reply, _ := strings.Cut(l, " => ")
		want = append(want, "Received '"+req+"'", "Sent '"+reply+"'")
	}
	assert.Equal(t, want, lines(wait()))
}

func TestDirectRecv(t *testing.T) {
	url, wait := startListener(t, "direct_recv", "-url", "amqp://127.0.0.1:0", "-m", "5")
	out := run(t, "simple_send", "-url", url, "-m", "5")
	assert.Equal(t, []string{"all messages confirmed"}, lines(out))
	assert.Equal(t, sequences(1, 5), lines(wait()))
}

func TestDirectSend(t *testing.T) {
	url, wait := startListener(t, "direct_send", "-url", "amqp://127.0.0.1:0", "-m", "5")
	out := run(t, "simple_recv", "-url", url, "-m", "5")
	assert.Equal(t, sequences(1, 5), lines(out))
	assert.Equal(t, []string{"all messages confirmed"}, lines(wait()))
}

func TestDBSendRecv(t *testing.T) {
	b := amqtest.NewBroker(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.sqlite"), filepath.Join(dir, "dst.sqlite")

	out := run(t, "db_send", "-url", b.URL(), "-address", "db", "-db", src, "-populate", "5", "-m", "5")
	assert.Equal(t, []string{
		"sent message 1", "sent message 2", "sent message 3", "sent message 4", "sent message 5",
		"settled message 1", "settled message 2", "settled message 3", "settled message 4", "settled message 5",
	}, lines(out))
	assert.Equal(t, 5, b.QueueDepth("db"))
	srcDB := openDB(t, src)
	assert.Equal(t, 5, count(t, srcDB, "SELECT COUNT(*) FROM records WHERE sent = 1"), "rows marked sent once accepted")

	// New rows: only they are sent; the sent ones are not sent again.
	_, err := srcDB.Exec("INSERT INTO records (description) VALUES ('six'), ('seven')")
	require.NoError(t, err)
	out = run(t, "db_send", "-url", b.URL(), "-address", "db", "-db", src, "-m", "2")
	assert.Equal(t, []string{"sent message 6", "sent message 7", "settled message 6", "settled message 7"}, lines(out))
	assert.Equal(t, 7, b.QueueDepth("db"))

	out = run(t, "db_recv", "-url", b.URL(), "-address", "db", "-db", dst, "-m", "7")
	assert.Equal(t, []string{
		"inserted message 1", "inserted message 2", "inserted message 3", "inserted message 4",
		"inserted message 5", "inserted message 6", "inserted message 7",
	}, lines(out))
	assert.Equal(t, 0, b.QueueDepth("db"), "every stored message was accepted")
	dstDB := openDB(t, dst)
	assert.Equal(t, "sample record 3", text(t, dstDB, "SELECT description FROM records WHERE id = 3"))
	assert.Equal(t, "seven", text(t, dstDB, "SELECT description FROM records WHERE id = 7"))

	// A redelivered message (an id already stored) is accepted and not
	// stored again.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, b.URL(), nil)
	require.NoError(t, err)
	defer c.Close()
	dup := amq.NewMessage("duplicate of 3").SetTo("db")
	dup.ID = uint64(3)
	eight := amq.NewMessage("eight").SetTo("db")
	eight.ID = uint64(8)
	require.NoError(t, c.Send(ctx, dup))
	require.NoError(t, c.Send(ctx, eight))
	out = run(t, "db_recv", "-url", b.URL(), "-address", "db", "-db", dst, "-m", "1")
	assert.Equal(t, []string{"ignored duplicate message 3", "inserted message 8"}, lines(out))
	assert.Equal(t, "sample record 3", text(t, dstDB, "SELECT description FROM records WHERE id = 3"))
	assert.Equal(t, 8, count(t, dstDB, "SELECT COUNT(*) FROM records"))
	assert.Equal(t, 0, b.QueueDepth("db"))
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(query).Scan(&n))
	return n
}

func text(t *testing.T, db *sql.DB, query string) string {
	t.Helper()
	var s string
	require.NoError(t, db.QueryRow(query).Scan(&s))
	return s
}

func TestRecurringTimer(t *testing.T) {
	want := []string{"Tick... sent 'tick 1'", "Tick... sent 'tick 2'", "Tick... sent 'tick 3'"}
	assert.Equal(t, want, lines(run(t, "recurring_timer", "-interval", "1ms", "-m", "3")), "in-process broker")

	b := amqtest.NewBroker(t)
	out := run(t, "recurring_timer", "-url", b.URL(), "-address", "ticks", "-interval", "1ms", "-m", "3")
	assert.Equal(t, want, lines(out))
	assert.Equal(t, 3, b.QueueDepth("ticks"))
}

func TestTracing(t *testing.T) {
	want := []string{
		"Sent 'Hello, tracing!'",
		"Received 'Hello, tracing!'",
		"The receive joined the send's trace: true",
	}
	b := amqtest.NewBroker(t)
	for _, args := range [][]string{nil, {"-url", b.URL(), "-address", "traced"}} {
		spans := filepath.Join(t.TempDir(), "spans.json")
		out := run(t, "tracing", append(args, "-spans", spans)...)
		assert.Equal(t, want, lines(out))

		// The stdout exporter writes one JSON object per span.
		f := strings.NewReader(readFile(t, spans))
		dec := json.NewDecoder(f)
		traces := map[string]string{} // span name → trace id
		for {
			var s struct {
				Name        string
				SpanContext struct{ TraceID string }
			}
			err := dec.Decode(&s)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			traces[s.Name] = s.SpanContext.TraceID
		}
		address := "examples"
		if args != nil {
			address = "traced"
		}
		root := traces["tracing example"]
		require.NotEmpty(t, root)
		for _, name := range []string{"send " + address, "process " + address, "settle"} {
			assert.Equal(t, root, traces[name], "span %q in the trace", name)
		}
	}
	assert.Equal(t, 0, b.QueueDepth("traced"))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := exec.Command("cat", path).Output()
	require.NoError(t, err)
	return string(b)
}

func TestSuiteUsageErrors(t *testing.T) {
	for _, name := range []string{
		"helloworld_direct", "simple_send", "simple_recv", "colour_send", "selected_recv",
		"queue_browser", "sync_client", "direct_send", "direct_recv", "server_direct",
		"db_send", "db_recv", "recurring_timer", "tracing", "tx_send", "tx_recv",
	} {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{{"-no-such-flag"}, {"-m", "-1"}, {"unexpected-argument"}} {
				if name == "helloworld_direct" || name == "tracing" || name == "sync_client" {
					if args[0] == "-m" {
						continue // no -m flag: covered by -no-such-flag
					}
				}
				cmd, cancel := command(t, 10*time.Second, name, args...)
				out, err := cmd.CombinedOutput()
				cancel()
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, "%s %v is a usage error", name, args)
				assert.Equal(t, 2, exit.ExitCode())
				assert.Contains(t, string(out), "Usage: "+name)
			}
		})
	}
}

//go:build integration

package integration

// Qpid JMS (the upstream of AMQ JMS, reference 14.2) as a peer:
// peers/jms/JmsPeer.java, compiled once per test binary against the jars
// that peers/jms/fetch.sh copies into .peers/jms/lib (.ci/run runs it).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// jmsPeer runs the compiled JmsPeer.
type jmsPeer struct {
	java      string
	classpath string
}

var (
	jmsPeerOnce  sync.Once
	jmsPeerBuilt *jmsPeer
	jmsPeerErr   error
)

// jmsClient returns the JMS peer, compiling it on first use; without the
// jars or a JDK it fails the test in CI and skips it elsewhere.
func jmsClient(t testing.TB) *jmsPeer {
	t.Helper()
	jmsPeerOnce.Do(func() { jmsPeerBuilt, jmsPeerErr = buildJMSPeer() })
	if jmsPeerErr != nil {
		missing(t, "Qpid JMS", jmsPeerErr)
	}
	return jmsPeerBuilt
}

func buildJMSPeer() (*jmsPeer, error) {
	lib := filepath.Join(peersDir(), "jms", "lib")
	if jars, _ := filepath.Glob(filepath.Join(lib, "qpid-jms-client-*.jar")); len(jars) == 0 {
		return nil, fmt.Errorf("no qpid-jms-client jar in %s (integration/peers/jms/fetch.sh integration/.peers/jms fetches it)", lib)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("java (OpenJDK 17) for the JMS peer: %w", err)
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		return nil, fmt.Errorf("javac (OpenJDK 17 JDK) for the JMS peer: %w", err)
	}
	dir, err := os.MkdirTemp("", "amq-jms-peer-")
	if err != nil {
		return nil, err
	}
	procsMu.Lock()
	tmpDirs = append(tmpDirs, dir)
	procsMu.Unlock()
	// javac expands the "lib/*" wildcard itself, as java does.
	jars := filepath.Join(lib, "*")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := filepath.Join(repoDir(), "peers", "jms", "JmsPeer.java")
	if out, err := exec.CommandContext(ctx, javac, "-d", dir, "-cp", jars, src).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("javac %s: %v\n%s", src, err, out)
	}
	return &jmsPeer{java: java, classpath: dir + string(os.PathListSeparator) + jars}, nil
}

// jmsReceived is one line of JmsPeer recv: the JMS class the message
// arrived as, its properties, and its body (or the error reading it).
type jmsReceived struct {
	Class string         `json:"class"`
	Props map[string]any `json:"props"`
	// Body and Types are compared as JSON (assert.JSONEq).
	Body  json.RawMessage `json:"body"`
	Types json.RawMessage `json:"types"`
	Error string          `json:"error"`
}

// command runs JmsPeer with the peer's URL and queue, bounded by ctx (the
// peer's own --timeout is what remains of ctx, so it reports a timeout
// itself before it is killed).
func (j *jmsPeer) command(ctx context.Context, p *Peer, mode, queue string, args ...string) *exec.Cmd {
	timeout := time.Minute
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline) - time.Second
	}
	argv := []string{"-cp", j.classpath, "JmsPeer", mode, p.URL, queue}
	argv = append(argv, args...)
	argv = append(argv, "--timeout", fmt.Sprint(max(1, int(timeout.Seconds()))))
	return exec.CommandContext(ctx, j.java, argv...)
}

// send sends one JMS message of each kind (text, bytes, map, stream,
// object, message) to queue.
func (j *jmsPeer) send(ctx context.Context, p *Peer, queue string, kinds ...string) error {
	cmd := j.command(ctx, p, "send", queue, kinds...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("JmsPeer send %s: %w\n%s", strings.Join(kinds, " "), err, out)
	}
	return nil
}

// recv starts receiving n messages from queue; ready is closed once the
// consumer exists, and wait returns what arrived.
func (j *jmsPeer) recv(t testing.TB, ctx context.Context, p *Peer, queue string, n int) (wait func() ([]jmsReceived, error), ready <-chan struct{}) {
	t.Helper()
	cmd := j.command(ctx, p, "recv", queue, fmt.Sprint(n))
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderrR, stderrW := io.Pipe()
	cmd.Stderr = stderrW
	stderr := &syncBuffer{}
	readyc := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderrR)
		closed := false
		for sc.Scan() {
			fmt.Fprintln(stderr, sc.Text())
			if sc.Text() == "ready" && !closed {
				close(readyc)
				closed = true
			}
		}
		io.Copy(io.Discard, stderrR)
	}()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start JmsPeer recv: %v", err)
	}
	return func() ([]jmsReceived, error) {
		err := cmd.Wait()
		stderrW.Close()
		<-scanned
		if err != nil {
			return nil, fmt.Errorf("JmsPeer recv %s %d: %w; stderr: %s; stdout: %s", queue, n, err, stderr.String(), stdout.String())
		}
		var got []jmsReceived
		sc := bufio.NewScanner(&stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m jmsReceived
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				return got, fmt.Errorf("JmsPeer recv line %q: %w", sc.Text(), err)
			}
			got = append(got, m)
		}
		return got, sc.Err()
	}, readyc
}

// recvAll receives n messages from queue with the JMS peer, after
// calling send once its consumer exists (so nothing waits on a poll).
func (j *jmsPeer) recvAll(t testing.TB, ctx context.Context, p *Peer, queue string, n int, send func() error) []jmsReceived {
	t.Helper()
	wait, ready := j.recv(t, ctx, p, queue, n)
	select {
	case <-ready:
	case <-ctx.Done():
		_, err := wait()
		t.Fatalf("JmsPeer recv never ready: %v", err)
	}
	sendErr := send()
	got, err := wait()
	if sendErr != nil {
		t.Fatalf("send: %v (JmsPeer recv: %v)", sendErr, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("JmsPeer received %d messages, want %d", len(got), n)
	}
	return got
}

//go:build integration

package integration

// cmd/amqbroker, the broker as a program, driven by the reference clients
// exactly as they ship: Qpid Proton Python (peers/proton_client.py, in the
// shape of Proton's own examples), the Qpid Proton C send and receive
// examples compiled from the Debian package, and raw go-amqp.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// amqbrokerProc is a running cmd/amqbroker.
type amqbrokerProc struct {
	URL  string // amqp://127.0.0.1:PORT as the program reported it
	cmd  *exec.Cmd
	out  *syncBuffer // stdout and stderr
	done chan struct{}
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// buildAmqbroker compiles cmd/amqbroker into dir.
func buildAmqbroker(t testing.TB, dir string) string { return buildCommand(t, dir, "amqbroker") }

// buildCommand compiles the program cmd/name into dir and returns its path.
func buildCommand(t testing.TB, dir, name string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	cmd := exec.Command(goTool(), "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = filepath.Dir(repoDir()) // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

var amqbrokerListeningRE = regexp.MustCompile(`^listening on (amqps?://\S+)$`)

// startAmqbroker runs bin with args and waits (bounded) for its
// "listening on URL" line. A cleanup kills it if the test has not stopped it.
func startAmqbroker(t testing.TB, bin string, args ...string) *amqbrokerProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start amqbroker: %v", err)
	}
	p := &amqbrokerProc{cmd: cmd, out: out, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(out, sc.Text())
			if m := amqbrokerListeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.URL = <-urlc:
	case <-p.done:
		t.Fatalf("amqbroker exited before listening (%v):\n%s", cmd.ProcessState, out.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("amqbroker printed no \"listening on\" line within 20s:\n%s", out.String())
	}
	return p
}

// hostPort splits the program's URL for the Proton C examples, which take
// host and port as separate arguments.
func (p *amqbrokerProc) hostPort(t testing.TB) (string, string) {
	t.Helper()
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatalf("amqbroker URL %q: %v", p.URL, err)
	}
	return u.Hostname(), u.Port()
}

// protonCExample compiles one of the Qpid Proton C examples (send, receive,
// ...) from the Debian package libqpid-proton11-dev-examples into dir, the
// way the harness compiles its broker.
func protonCExample(dir, name string) (string, error) {
	src := filepath.Join(protonCExamples, name+".c")
	if out, err := exec.Command("dpkg", "-L", "libqpid-proton11-dev-examples").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(line, "/c/"+name+".c") {
				src = line
				break
			}
		}
	}
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("%s.c not found (Debian package libqpid-proton11-dev-examples): %w", name, err)
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libqpid-proton").Output()
	if err != nil {
		return "", fmt.Errorf("pkg-config libqpid-proton (Debian package libqpid-proton11-dev): %w", err)
	}
	bin := filepath.Join(dir, "proton-c-"+name)
	args := append([]string{"-O2", "-o", bin, src, "-I" + filepath.Dir(src)}, strings.Fields(string(flags))...)
	args = append(args, "-lpthread")
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// TestAmqbrokerProgram builds cmd/amqbroker, runs it as an operator would,
// and drives it with the reference clients unchanged; SIGTERM then stops it
// cleanly.
func TestAmqbrokerProgram(t *testing.T) {
	dir := t.TempDir()
	bin := buildAmqbroker(t, dir)
	b := startAmqbroker(t, bin, "-listen", "amqp://127.0.0.1:0", "-allow-anonymous")
	t.Logf("amqbroker listening on %s", b.URL)

	t.Run("proton-python/send-receive", func(t *testing.T) {
		const n = 100
		cl := protonClient(t)
		ctx := testCtx(t, 90*time.Second)
		addr := uniqueName(t)
		send, _ := cl.start(t, ctx, "send", b.URL, addr, n)
		if _, err := send(); err != nil {
			t.Fatal(err)
		}
		recv, _ := cl.start(t, ctx, "recv", b.URL, addr, n)
		out, err := recv()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != n {
			t.Fatalf("received %d messages, want %d:\n%s", len(lines), n, out)
		}
		for i, line := range lines {
			var m interopMsg
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %d: %v: %s", i, err, line)
			}
			if fmt.Sprint(m.Body) != fmt.Sprintf("proton %d", i+1) || m.ID == nil || *m.ID != fmt.Sprintf("proton-%d", i+1) {
				t.Fatalf("message %d: %s", i, line)
			}
			if m.Subject == nil || *m.Subject != "interop" || m.ContentType == nil || *m.ContentType != "text/plain" {
				t.Errorf("message %d subject/content type: %s", i, line)
			}
			if fmt.Sprint(m.Props["seq"]) != fmt.Sprint(i+1) || m.Props["kind"] != "proton" {
				t.Errorf("message %d properties: %s", i, line)
			}
		}
	})

	t.Run("proton-python/request-reply-dynamic", func(t *testing.T) {
		const n = 5
		cl := protonClient(t)
		ctx := testCtx(t, 90*time.Second)
		svc := uniqueName(t)
		serve, ready := cl.start(t, ctx, "serve", b.URL, svc, n)
		select {
		case <-ready:
		case <-ctx.Done():
			_, err := serve()
			t.Fatalf("server never attached: %v", err)
		}
		request, _ := cl.start(t, ctx, "request", b.URL, svc, n)
		out, reqErr := request()
		_, srvErr := serve()
		if reqErr != nil || srvErr != nil {
			t.Fatalf("requester: %v\nserver: %v\nreplies:\n%s", reqErr, srvErr, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != n {
			t.Fatalf("%d replies, want %d:\n%s", len(lines), n, out)
		}
		var first struct {
			ReplyTo string `json:"reply_to"`
		}
		if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.ReplyTo == "" {
			t.Fatalf("no dynamic reply address in %q (%v)", lines[0], err)
		}
		t.Logf("dynamic reply address %q, %d replies", first.ReplyTo, len(lines))
	})

	t.Run("proton-python/every-amqp-type", func(t *testing.T) {
		cl := protonClient(t)
		ctx := testCtx(t, 90*time.Second)
		run, _ := cl.start(t, ctx, "types", b.URL, uniqueName(t), 0)
		out, err := run()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var ok []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			name, verdict, _ := strings.Cut(line, " ")
			if verdict != "ok" {
				t.Errorf("%s", line)
				continue
			}
			ok = append(ok, name)
		}
		// The 23 AMQP 1.0 primitive types (null ... symbol, list, map,
		// array) plus a described value and a 'double' beside 'float'.
		if len(ok) != 25 {
			t.Fatalf("%d types came back intact, want 25: %v", len(ok), ok)
		}
		t.Logf("intact through amqbroker: %s", strings.Join(ok, " "))
	})

	t.Run("proton-c/send-receive", func(t *testing.T) {
		const n = 1000
		cdir := t.TempDir()
		sendBin, err := protonCExample(cdir, "send")
		if err != nil {
			missing(t, "Qpid Proton C send example", err)
		}
		recvBin, err := protonCExample(cdir, "receive")
		if err != nil {
			missing(t, "Qpid Proton C receive example", err)
		}
		ctx := testCtx(t, 90*time.Second)
		host, port := b.hostPort(t)
		addr := uniqueName(t)
		// receive attaches first and waits; send then fills the queue.
		recv := exec.CommandContext(ctx, recvBin, host, port, addr, fmt.Sprint(n))
		var recvOut, recvErr strings.Builder
		recv.Stdout, recv.Stderr = &recvOut, &recvErr
		if err := recv.Start(); err != nil {
			t.Fatal(err)
		}
		sendOut, err := exec.CommandContext(ctx, sendBin, host, port, addr, fmt.Sprint(n)).CombinedOutput()
		if err != nil {
			recv.Process.Kill()
			recv.Wait()
			t.Fatalf("proton-c send: %v\n%s", err, sendOut)
		}
		if got, want := strings.TrimSpace(string(sendOut)), fmt.Sprintf("%d messages sent and acknowledged", n); got != want {
			t.Errorf("send printed %q, want %q", got, want)
		}
		if err := recv.Wait(); err != nil {
			t.Fatalf("proton-c receive: %v\nstdout (tail): %s\nstderr: %s", err, tail(recvOut.String(), 5), recvErr.String())
		}
		lines := strings.Split(strings.TrimSpace(recvOut.String()), "\n")
		if len(lines) != n+1 || lines[n] != fmt.Sprintf("%d messages received", n) {
			t.Fatalf("receive printed %d lines, want %d bodies and a summary; tail: %s", len(lines), n, tail(recvOut.String(), 5))
		}
		for i := 0; i < n; i++ {
			// pn_inspect of the example's body, the map {"sequence": N}.
			if want := fmt.Sprintf(`{"sequence"=%d}`, i+1); lines[i] != want {
				t.Fatalf("message %d: %s, want %s", i, lines[i], want)
			}
		}
	})

	t.Run("go-amqp", func(t *testing.T) {
		const n = 1000
		ctx := testCtx(t, 60*time.Second)
		_, s := rawSession(t, b.URL, nil)
		addr := uniqueName(t)
		r := rawReceiver(t, s, addr, &amqp.ReceiverOptions{Credit: 100})
		snd := rawSender(t, s, addr, nil)
		for _, presettled := range []bool{false, true} {
			prefix := fmt.Sprintf("raw-presettled=%v", presettled)
			errc := make(chan error, 1)
			go func() { errc <- sendN(ctx, snd, prefix, n, presettled) }()
			recvErr := receiveN(ctx, r, prefix, n, true)
			if err := errors.Join(<-errc, recvErr); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("sigterm", func(t *testing.T) {
		// A client still connected must not keep the program from exiting.
		ctx := testCtx(t, 30*time.Second)
		c, err := amqp.Dial(ctx, b.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.NewSession(ctx, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b.done:
			t.Fatalf("amqbroker exited early (%v):\n%s", b.cmd.ProcessState, b.out.String())
		default:
		}
		if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("amqbroker still running 20s after SIGTERM:\n%s", b.out.String())
		}
		if code := b.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("exit status %d after SIGTERM, want 0:\n%s", code, b.out.String())
		}
		hp := strings.TrimPrefix(b.URL, "amqp://")
		if conn, err := net.DialTimeout("tcp", hp, 2*time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s still accepts connections after the program exited", hp)
		}
		t.Logf("exit 0 after SIGTERM; log:\n%s", b.out.String())
	})
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/coder/websocket"
)

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "amqbroker")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// start runs the binary and returns it with the URL from its one line of
// standard output.
func start(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd, urls, stderr := startListeners(t, bin, 1, args...)
	if !strings.HasPrefix(urls[0], "amqp://127.0.0.1:") {
		t.Fatalf("first line for %q", urls[0])
	}
	return cmd, urls[0], stderr
}

// startListeners runs the binary and returns it with the URLs of the n
// lines it prints, one per listener.
func startListeners(t *testing.T, bin string, n int, args ...string) (*exec.Cmd, []string, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	br := bufio.NewReader(stdout)
	var urls []string
	for range n {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the listening lines: %v (stderr: %s)", err, stderr.String())
		}
		url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
		if !ok || strings.Contains(url, ":0/") || strings.HasSuffix(url, ":0") {
			t.Fatalf("line %q", line)
		}
		urls = append(urls, url)
	}
	return cmd, urls, &stderr
}

func roundTrip(t *testing.T, url string, opts *amqp.ConnOptions) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := amqp.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctx, "greetings", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, amqp.NewMessage([]byte("hello")), nil); err != nil {
		t.Fatal(err)
	}
	r, err := s.NewReceiver(ctx, "greetings", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.GetData()) != "hello" {
		t.Fatalf("got %q", m.GetData())
	}
	if err := r.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
}

func stopAndCheck(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v (stderr: %s)", err, stderr.String())
	}
}

func TestAmqbroker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)

	t.Run("anonymous", func(t *testing.T) {
		cmd, url, stderr := start(t, bin, "-listen", "amqp://127.0.0.1:0", "-allow-anonymous")
		roundTrip(t, url, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
		stopAndCheck(t, cmd, stderr)
	})

	t.Run("users file", func(t *testing.T) {
		users := filepath.Join(t.TempDir(), "users")
		if err := os.WriteFile(users, []byte("# test users\nalice:se:cret\n\nbob:pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd, url, stderr := start(t, bin, "-listen", "amqp://127.0.0.1:0", "-users", users)
		roundTrip(t, url, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "se:cret")})

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if c, err := amqp.Dial(ctx, url, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "wrong")}); err == nil {
			c.Close()
			t.Fatal("wrong password accepted")
		}
		if c, err := amqp.Dial(ctx, url, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()}); err == nil {
			c.Close()
			t.Fatal("anonymous accepted without -allow-anonymous")
		}
		stopAndCheck(t, cmd, stderr)
	})

	t.Run("no users refuses to start", func(t *testing.T) {
		out, err := exec.Command(bin, "-listen", "amqp://127.0.0.1:0").CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "-allow-anonymous") {
			t.Fatalf("err %v, output %q", err, out)
		}
	})
}

// amqbroker listens on amqp:// and amqpws:// at once, for one broker,
// and prints a line for each.
func TestAmqbrokerTwoListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	cmd, urls, stderr := startListeners(t, bin, 2, "-listen", "amqp://127.0.0.1:0", "-listen", "amqpws://127.0.0.1:0/amqp", "-allow-anonymous")
	if !strings.HasPrefix(urls[0], "amqp://127.0.0.1:") || !strings.HasPrefix(urls[1], "amqpws://127.0.0.1:") || !strings.HasSuffix(urls[1], "/amqp") {
		t.Fatalf("URLs %q", urls)
	}
	roundTrip(t, urls[0], &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})

	// A message sent over TCP is received over the WebSocket.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tcp, err := amqp.Dial(ctx, urls[0], &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	s, err := tcp.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctx, "across", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, amqp.NewMessage([]byte("to the WebSocket")), nil); err != nil {
		t.Fatal(err)
	}
	wc, _, err := websocket.Dial(ctx, strings.Replace(urls[1], "amqpws:", "http:", 1), &websocket.DialOptions{Subprotocols: []string{"amqp"}})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := amqp.NewConn(ctx, websocket.NetConn(context.Background(), wc, websocket.MessageBinary), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	s2, err := ws.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s2.NewReceiver(ctx, "across", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.GetData()) != "to the WebSocket" {
		t.Fatalf("got %q", m.GetData())
	}
	if err := r.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	stopAndCheck(t, cmd, stderr)
}

func TestParseFlags(t *testing.T) {
	var sink bytes.Buffer
	for _, args := range [][]string{
		{"-user", "a"},
		{"-tls-cert", "c.pem", "-allow-anonymous"},
		{"-listen", "amqps://127.0.0.1:0", "-allow-anonymous"},
		{"-allow-anonymous", "extra"},
	} {
		if _, err := parseFlags(args, &sink); err == nil {
			t.Errorf("parseFlags(%q) succeeded", args)
		}
	}
	c, err := parseFlags([]string{"-user", "a", "-password", "b", "-max-queue-messages", "5"}, &sink)
	if err != nil || c.listen.String() != "amqp://127.0.0.1:5672" || c.maxQueueMessages != 5 {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = parseFlags([]string{"-allow-anonymous", "-listen", "amqp://h:1,amqpws://h:2/ws", "-listen", "amqpws://h:3"}, &sink)
	if err != nil || c.listen.String() != "amqp://h:1,amqpws://h:2/ws,amqpws://h:3" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, args := range [][]string{
		{"-allow-anonymous", "-listen", "amqp://h:1,"},
		{"-allow-anonymous", "-listen", "amqp://h:1", "-listen", "amqpwss://h:2"},
	} {
		if _, err := parseFlags(args, &sink); err == nil {
			t.Errorf("parseFlags(%q) succeeded", args)
		}
	}
}

func TestReadUsersBadLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users")
	_ = os.WriteFile(p, []byte("nocolon-secret\n"), 0o600)
	err := readUsers(p, map[string]string{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v (must not echo the line)", err)
	}
}

func TestTuneGCStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tuneGC(ctx)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("tuneGC did not return when its context ended")
	}
}

// -user's password comes from $AMQBROKER_PASSWORD or -password-file, so
// that it stays out of the process list; -password still works, with a
// warning; exactly one of them must be given.
func TestPasswordSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-file\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		env      string // "" leaves the variable unset
		args     []string
		password string // "" when parseFlags must fail
		warns    bool
	}{
		{"environment", "from-env", []string{"-user", "a"}, "from-env", false},
		{"file", "", []string{"-user", "a", "-password-file", file}, "from-file", false},
		{"flag", "", []string{"-user", "a", "-password", "from-flag"}, "from-flag", true},
		{"none", "", []string{"-user", "a"}, "", false},
		{"two", "from-env", []string{"-user", "a", "-password", "x"}, "", false},
		{"file and flag", "", []string{"-user", "a", "-password", "x", "-password-file", file}, "", false},
		{"no user", "", []string{"-password-file", file, "-allow-anonymous"}, "", false},
		{"empty file", "", []string{"-user", "a", "-password-file", empty}, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv(passwordEnv, tt.env)
			} else {
				t.Setenv(passwordEnv, "")
				os.Unsetenv(passwordEnv)
			}
			var stderr bytes.Buffer
			c, err := parseFlags(tt.args, &stderr)
			if tt.password == "" {
				if err == nil {
					t.Fatalf("parseFlags(%q) succeeded", tt.args)
				}
				if strings.Contains(err.Error(), "from-") {
					t.Fatalf("the error quotes a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.password != tt.password {
				t.Fatalf("password %q, want %q", c.password, tt.password)
			}
			if warned := strings.Contains(stderr.String(), "process list"); warned != tt.warns {
				t.Fatalf("warning printed: %v, want %v (%q)", warned, tt.warns, stderr.String())
			}
		})
	}
}

// The connection, link, message-size and handshake bounds reach the
// server's options.
func TestLimitFlags(t *testing.T) {
	var sink bytes.Buffer
	c, err := parseFlags([]string{"-allow-anonymous", "-max-connections", "7", "-max-handshakes", "9", "-max-links", "-1",
		"-max-message-size", "2048", "-handshake-timeout", "3s", "-max-sessions", "16"}, &sink)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := c.brokerOptions(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	so := opts.Server
	if so.MaxConnections != 7 || so.MaxHandshakes != 9 || so.MaxLinks != -1 || so.MaxMessageSize != 2048 || so.HandshakeTimeout != 3*time.Second || so.ChannelMax != 15 {
		t.Fatalf("server options %+v", so)
	}
	for _, bad := range []string{"-1", "65537"} {
		c, err := parseFlags([]string{"-allow-anonymous", "-max-sessions", bad}, &sink)
		if err == nil {
			_, err = c.brokerOptions(slog.New(slog.NewTextHandler(io.Discard, nil)))
		}
		if err == nil || !strings.Contains(err.Error(), "-max-sessions") {
			t.Errorf("-max-sessions %s: %v", bad, err)
		}
	}
}

func TestMaxTotalBytesFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int64
	}{
		{nil, 0}, // the broker's default
		{[]string{"-max-total-bytes", "1048576"}, 1 << 20},
		{[]string{"-max-total-bytes", "-1"}, -1},
	} {
		c, err := parseFlags(append([]string{"-allow-anonymous"}, tc.args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := c.brokerOptions(slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if opts.MaxTotalBytes != tc.want {
			t.Errorf("%v: MaxTotalBytes %d, want %d", tc.args, opts.MaxTotalBytes, tc.want)
		}
	}
	if _, err := parseFlags([]string{"-allow-anonymous", "-max-total-bytes", "1G"}, io.Discard); err == nil {
		t.Error("-max-total-bytes 1G parsed")
	}
}

// excess counts what the process holds beyond its live heap: the garbage
// since the last collection and the free heap not returned yet.
func TestExcess(t *testing.T) {
	for _, tc := range []struct{ live, objects, free, want uint64 }{
		{10, 10, 0, 0},
		{10, 400, 0, 390},
		{10, 10, 300, 300},
		{500, 400, 5, 5}, // objects freed since the last collection
	} {
		if got := excess(tc.live, tc.objects, tc.free); got != tc.want {
			t.Errorf("excess(%d, %d, %d) = %d, want %d", tc.live, tc.objects, tc.free, got, tc.want)
		}
	}
}

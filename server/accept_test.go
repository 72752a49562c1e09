package server

import (
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// flakyListener fails its first failures Accept calls with EMFILE, as a
// process out of file descriptors does, then accepts from the real one.
type flakyListener struct {
	net.Listener
	mu       sync.Mutex
	failures int
	calls    int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls++
	fail := l.calls <= l.failures
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// An accept error such as EMFILE (1,100 idle sockets once exhausted the
// descriptors) makes the server back off, doubling from 5 ms, with a log
// line each time, and serve again once accepting works: never a spin.
func TestAcceptErrorsBackOff(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: ln, failures: 4}
	var logs syncBuffer
	cfg, err := newConfig(&Options{AllowAnonymous: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, false)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(fl, "amqp", "", cfg)
	t.Cleanup(func() { srv.Close() })

	// A connection is served once the failures are over.
	r := rawDial(t, srv)
	r.anonOpenBegin()

	fl.mu.Lock()
	calls := fl.calls
	fl.mu.Unlock()
	if calls != fl.failures+1 && calls != fl.failures+2 { // +2: the loop may be in its next Accept
		t.Fatalf("%d Accept calls for %d failures and one connection", calls, fl.failures)
	}
	out := logs.String()
	var delays []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="amqp server accept failed"`) {
			if !strings.Contains(line, "too many open files") {
				t.Errorf("the log line does not say why: %s", line)
			}
			_, d, _ := strings.Cut(line, "retry_in=")
			delays = append(delays, d)
		}
	}
	if want := []string{"5ms", "10ms", "20ms", "40ms"}; !equalStrings(delays, want) {
		t.Fatalf("back-off %v, want %v\n%s", delays, want, out)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

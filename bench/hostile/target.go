package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// target is one amqbroker process under attack. Every attack gets a fresh
// one, so that its RSS before, its VmHWM and its file descriptors are its
// own.
type target struct {
	cmd  *exec.Cmd
	pid  int
	addr string // 127.0.0.1:PORT
	url  string

	log *logTail

	exited  chan struct{} // closed when the process has been waited for
	exitErr error         // set before exited is closed
}

// startTarget starts bin listening on a free loopback port and waits for
// its "listening on" line. nofile > 0 sets the process's open-file limit
// (soft and hard) through sh's ulimit, as on the machine of issue #17;
// the Go runtime raises the soft limit to the hard one, so both are set.
func startTarget(ctx context.Context, bin string, nofile int, extra []string) (*target, error) {
	args := append([]string{"-listen", "amqp://127.0.0.1:0", "-allow-anonymous"}, extra...)
	var cmd *exec.Cmd
	if nofile > 0 {
		cmd = exec.Command("/bin/sh", append([]string{"-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(nofile), bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	// The broker dies with this program, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	t := &target{cmd: cmd, pid: cmd.Process.Pid, log: &logTail{}, exited: make(chan struct{})}
	var pipes sync.WaitGroup
	pipes.Add(1)
	go func() { defer pipes.Done(); t.log.consume(stderr) }()
	addrc := make(chan string, 1)
	pipes.Add(1)
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case addrc <- strings.TrimSpace(rest):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		pipes.Wait() // Wait closes the pipes: read them to the end first
		t.exitErr = cmd.Wait()
		close(t.exited)
	}()

	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case raw := <-addrc:
		u, err := url.Parse(raw)
		if err != nil {
			t.stop()
			return nil, fmt.Errorf("broker printed %q: %w", raw, err)
		}
		host, _, err := net.SplitHostPort(u.Host)
		if err != nil || !net.ParseIP(host).IsLoopback() {
			t.stop()
			return nil, fmt.Errorf("broker listens on %q, not on loopback", raw)
		}
		t.addr, t.url = u.Host, raw
		return t, nil
	case <-t.exited:
		return nil, fmt.Errorf("broker exited before listening: %v; stderr: %s", t.exitErr, t.log.tail(5))
	case <-timer.C:
		t.stop()
		return nil, fmt.Errorf("broker did not print its address within 10 s; stderr: %s", t.log.tail(5))
	case <-ctx.Done():
		t.stop()
		return nil, ctx.Err()
	}
}

// dead reports whether the process has ended, and how.
func (t *target) dead() (bool, string) {
	select {
	case <-t.exited:
		how := "exited"
		if t.exitErr != nil {
			how = t.exitErr.Error()
		}
		if crash := t.log.crash(); crash != "" {
			how += ": " + crash
		}
		return true, how
	default:
		return false, ""
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (t *target) stop() {
	if dead, _ := t.dead(); dead {
		return
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.exited:
		return
	case <-time.After(5 * time.Second):
	}
	_ = t.cmd.Process.Kill()
	<-t.exited
}

// memory reads VmRSS and VmHWM (the peak RSS), in KiB, from
// /proc/PID/status.
func (t *target) memory() (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", t.pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(value)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch name {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS (process gone?)")
	}
	return rss, hwm, nil
}

// sockets counts the process's open file descriptors and, among them, the
// sockets.
func (t *target) sockets() (fds, socks int) {
	dir := fmt.Sprintf("/proc/%d/fd", t.pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1, -1
	}
	for _, e := range ents {
		fds++
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			socks++
		}
	}
	return fds, socks
}

// nofileLimit returns the "Max open files" soft limit of the process.
func (t *target) nofileLimit() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", t.pid))
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return "?"
}

// watch samples the target's RSS every 20 ms until stop is called. It
// calls abort when the RSS passes limitKiB or the process ends, so that
// the attack stops instead of waiting for its deadline.
type watch struct {
	peak    atomic.Int64 // KiB
	over    atomic.Bool
	stopc   chan struct{}
	stopped chan struct{}
}

func (t *target) watch(limitKiB int64, abort func()) *watch {
	w := &watch{stopc: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(w.stopped)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, hwm, err := t.memory(); err == nil {
				w.raise(max(rss, hwm))
				if rss > limitKiB {
					w.over.Store(true)
					abort()
				}
			}
			select {
			case <-w.stopc:
				return
			case <-t.exited:
				abort()
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *watch) raise(kib int64) {
	for {
		old := w.peak.Load()
		if kib <= old || w.peak.CompareAndSwap(old, kib) {
			return
		}
	}
}

func (w *watch) stop() {
	close(w.stopc)
	<-w.stopped
}

// logTail keeps the last lines of the broker's stderr, and counts the
// accept errors for want of file descriptors (a broker at its limit logs
// one per attempt).
type logTail struct {
	mu     sync.Mutex
	lines  []string
	emfil  int
	crashd []string // the Go runtime's first words when the process died
}

func (l *logTail) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		if strings.Contains(line, "too many open files") {
			l.emfil++
		}
		if len(l.crashd) < 2 && (strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") ||
			strings.HasPrefix(line, "runtime: goroutine stack exceeds") || strings.HasPrefix(line, "runtime: out of memory")) {
			l.crashd = append(l.crashd, line)
		}
		l.lines = append(l.lines, line)
		if len(l.lines) > 64 {
			l.lines = l.lines[len(l.lines)-32:]
		}
		l.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

func (l *logTail) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines[max(0, len(l.lines)-n):]
	return strings.Join(lines, " | ")
}

func (l *logTail) emfile() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.emfil
}

// crash returns the Go runtime's reason when the process died of a fatal
// error ("fatal error: stack overflow", "runtime: out of memory", a panic).
func (l *logTail) crash() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.crashd, "; ")
}

package amq

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCoalescingConnKeepsOrderAndFlushesOnClose(t *testing.T) {
	client, server := net.Pipe()
	cc := newCoalescingConn(client)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	var want bytes.Buffer
	for i := range 10000 {
		p := []byte{byte(i), byte(i >> 8), byte(i >> 16)}
		want.Write(p)
		n, err := cc.Write(p)
		require.NoError(t, err)
		require.Equal(t, 3, n)
	}
	require.NoError(t, cc.Close())
	select {
	case b := <-got:
		assert.Equal(t, want.Bytes(), b, "every byte, in order, before the close")
	case <-time.After(10 * time.Second):
		t.Fatal("reader did not finish")
	}
	_, err := cc.Write([]byte("late"))
	assert.ErrorIs(t, err, net.ErrClosed)
}

func TestCoalescingConnReportsWriteErrorLater(t *testing.T) {
	client, server := net.Pipe()
	server.Close() // every write to client now fails
	cc := newCoalescingConn(client)
	_, _ = cc.Write([]byte("first")) // may be accepted into the buffer
	var err error
	require.Eventually(t, func() bool {
		_, err = cc.Write([]byte("next"))
		return err != nil
	}, 10*time.Second, time.Millisecond, "the flusher's error reaches a later Write")
	assert.True(t, errors.Is(err, io.ErrClosedPipe), "got %v", err)
	cc.Close()
}

func TestCoalescingConnCloseDoesNotHangOnStuckPeer(t *testing.T) {
	client, server := net.Pipe() // nobody reads server: writes block
	defer server.Close()
	defer func(d time.Duration) { closeFlushTimeout = d }(closeFlushTimeout)
	closeFlushTimeout = 50 * time.Millisecond
	cc := newCoalescingConn(client)
	cc.mu.Lock()
	cc.last = time.Now().Add(time.Hour) // no pause: the write is buffered, not written through
	cc.mu.Unlock()
	_, err := cc.Write([]byte("stuck"))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- cc.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on a peer that does not read")
	}
}

// recordConn is a net.Conn that records what is written to it.
type recordConn struct {
	net.Conn
	mu      sync.Mutex
	written []byte
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.written = append(r.written, p...)
	return len(p), nil
}

func (r *recordConn) Close() error { return nil }

func TestCoalescingConnWritesThroughAfterAPause(t *testing.T) {
	rc := &recordConn{}
	cc := newCoalescingConn(rc)
	defer cc.Close()
	n, err := cc.Write([]byte("direct"))
	require.NoError(t, err)
	assert.Equal(t, 6, n)
	// Written through on the caller's goroutine: the bytes are on the
	// connection when Write returns, with no flusher involved.
	rc.mu.Lock()
	assert.Equal(t, "direct", string(rc.written))
	rc.mu.Unlock()
}

// deadlineConn records the write deadlines set on it, and the one in force
// at each write.
type deadlineConn struct {
	recordConn
	deadlines []time.Time // every SetWriteDeadline, in order
	atWrite   []time.Time // the deadline in force at each Write
}

func (d *deadlineConn) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deadlines = append(d.deadlines, t)
	return nil
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	d.mu.Lock()
	var cur time.Time
	if n := len(d.deadlines); n > 0 {
		cur = d.deadlines[n-1]
	}
	d.atWrite = append(d.atWrite, cur)
	d.mu.Unlock()
	return d.recordConn.Write(p)
}

func (d *deadlineConn) state() (deadlines []time.Time, lastWrite time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	deadlines = append([]time.Time(nil), d.deadlines...)
	if n := len(d.atWrite); n > 0 {
		lastWrite = d.atWrite[n-1]
	}
	return deadlines, lastWrite
}

// TestCoalescingConnMovesTheWriteDeadlineOncePerSlack: the socket's write
// deadline moves only when the asked-for one is deadlineSlack past it, just
// before a write, whether the write goes through on the caller's goroutine
// or through the flusher; an earlier one is applied at once. Which path a
// Write takes is chosen by the test (cc.last: a pause or none, and the
// flusher waited for after each buffered write), not left to the
// scheduler, so no assertion depends on timing.
func TestCoalescingConnMovesTheWriteDeadlineOncePerSlack(t *testing.T) {
	dc := &deadlineConn{}
	cc := newCoalescingConn(dc)
	defer cc.Close()
	setLast := func(last time.Time) {
		cc.mu.Lock()
		cc.last = last
		cc.mu.Unlock()
	}
	writeThrough := func() { // after a pause: on the caller's goroutine
		setLast(time.Time{})
		_, err := cc.Write([]byte("frame"))
		require.NoError(t, err)
	}
	writeBuffered := func() { // no pause: buffered, written by the flusher
		setLast(time.Now().Add(time.Hour))
		_, err := cc.Write([]byte("frame"))
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			cc.mu.Lock()
			defer cc.mu.Unlock()
			return !cc.busy && len(cc.buf) == 0
		}, 10*time.Second, time.Millisecond, "the flusher wrote the frame")
	}

	base := time.Now().Add(30 * time.Second)
	// go-amqp's pattern: a deadline 30s ahead before every frame.
	for i := range 100 {
		require.NoError(t, cc.SetWriteDeadline(base.Add(time.Duration(i)*time.Millisecond)))
		if i%2 == 0 {
			writeThrough()
		} else {
			writeBuffered()
		}
	}
	got, _ := dc.state()
	assert.Equal(t, []time.Time{base}, got, "the first deadline only: the later ones are within the slack")

	// Past the slack: the flusher moves it before its write.
	viaFlusher := base.Add(2 * deadlineSlack)
	require.NoError(t, cc.SetWriteDeadline(viaFlusher))
	got, _ = dc.state()
	assert.Equal(t, []time.Time{base}, got, "not moved before a write needs it")
	writeBuffered()
	got, atWrite := dc.state()
	assert.Equal(t, []time.Time{base, viaFlusher}, got)
	assert.Equal(t, viaFlusher, atWrite, "moved before the flusher's write")

	// Earlier: applied at once, with no write.
	earlier := base.Add(-time.Second)
	require.NoError(t, cc.SetWriteDeadline(earlier))
	got, _ = dc.state()
	assert.Equal(t, []time.Time{base, viaFlusher, earlier}, got)

	// Past the slack again: moved before a write-through.
	viaWriteThrough := viaFlusher.Add(2 * deadlineSlack)
	require.NoError(t, cc.SetWriteDeadline(viaWriteThrough))
	writeThrough()
	got, atWrite = dc.state()
	assert.Equal(t, []time.Time{base, viaFlusher, earlier, viaWriteThrough}, got)
	assert.Equal(t, viaWriteThrough, atWrite, "moved before the write-through")
}

func TestCoalescingConnWriteDeadlineFailsAStuckFlush(t *testing.T) {
	client, server := net.Pipe() // nobody reads server: writes block
	defer server.Close()
	cc := newCoalescingConn(client)
	defer cc.Close()
	cc.mu.Lock()
	cc.last = time.Now().Add(time.Hour) // no pause: buffered, written by the flusher
	cc.mu.Unlock()
	_, err := cc.Write([]byte("stuck"))
	require.NoError(t, err)
	require.NoError(t, cc.SetWriteDeadline(time.Now().Add(20*time.Millisecond)))
	require.Eventually(t, func() bool {
		_, err = cc.Write([]byte("next"))
		return err != nil
	}, 10*time.Second, time.Millisecond, "the flusher's timeout reaches a later Write")
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

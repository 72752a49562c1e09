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

// deadlineConn counts the write deadlines set on it.
type deadlineConn struct {
	recordConn
	deadlines []time.Time
}

func (d *deadlineConn) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deadlines = append(d.deadlines, t)
	return nil
}

func TestCoalescingConnMovesTheWriteDeadlineOncePerSlack(t *testing.T) {
	dc := &deadlineConn{}
	cc := newCoalescingConn(dc)
	defer cc.Close()
	base := time.Now().Add(30 * time.Second)
	// go-amqp's pattern: a deadline 30s ahead before every frame.
	for i := range 100 {
		require.NoError(t, cc.SetWriteDeadline(base.Add(time.Duration(i)*time.Millisecond)))
		_, err := cc.Write([]byte("frame"))
		require.NoError(t, err)
	}
	dc.mu.Lock()
	assert.Equal(t, []time.Time{base}, dc.deadlines, "the first deadline only: the later ones are within the slack")
	dc.mu.Unlock()

	later := base.Add(2 * deadlineSlack)
	require.NoError(t, cc.SetWriteDeadline(later))
	earlier := base.Add(-time.Second)
	require.NoError(t, cc.SetWriteDeadline(earlier)) // applied at once
	dc.mu.Lock()
	assert.Equal(t, []time.Time{base, earlier}, dc.deadlines)
	dc.mu.Unlock()
	require.NoError(t, cc.SetWriteDeadline(later))
	cc.mu.Lock()
	cc.last = time.Time{} // a pause: the next write goes straight to the socket
	cc.mu.Unlock()
	require.Eventually(t, func() bool {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return !cc.busy && len(cc.buf) == 0
	}, 10*time.Second, time.Millisecond, "the flusher is idle")
	_, err := cc.Write([]byte("frame"))
	require.NoError(t, err)
	dc.mu.Lock()
	assert.Equal(t, []time.Time{base, earlier, later}, dc.deadlines, "moved before the write")
	dc.mu.Unlock()
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

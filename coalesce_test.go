package amq

import (
	"bytes"
	"errors"
	"io"
	"net"
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

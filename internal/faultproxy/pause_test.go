//go:build unix

package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acceptOne listens on loopback and returns its address and the channel
// that yields the one connection it accepts.
func acceptOne(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(ch)
			return
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(4 * ioTimeout))
		ch <- c
	}()
	return ln.Addr().String(), ch
}

// readAll reads c to EOF on its own goroutine.
func readAll(c net.Conn) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		ch <- b
	}()
	return ch
}

// writeUntilFull writes p to c without blocking until the socket's send
// buffer is full (EAGAIN) or p is written; it returns how much it wrote.
func writeUntilFull(t *testing.T, c net.Conn, p []byte) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	written := 0
	for written < len(p) {
		var n int
		var werr error
		require.NoError(t, raw.Write(func(fd uintptr) bool {
			n, werr = syscall.Write(int(fd), p[written:])
			return true // one attempt: EAGAIN is the answer sought, not a wait
		}))
		if errors.Is(werr, syscall.EAGAIN) {
			return written
		}
		require.NoError(t, werr)
		written += n
	}
	return written
}

// TestPause: while paused the proxy reads nothing from the client, so the
// client's writes back up to a full socket buffer (a write would block),
// while the other direction flows on; resuming forwards everything, in
// order, with nothing lost.
func TestPause(t *testing.T) {
	target, accepted := acceptOne(t)
	p := Start(t, target)
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(4*ioTimeout)))
	server := <-accepted

	// Forwarding works, and the proxy's reader then waits in a read of
	// the client, which Pause has to interrupt.
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	hello := make([]byte, 5)
	_, err = io.ReadFull(server, hello)
	require.NoError(t, err)

	p.Pause(true)
	p.Pause(true) // idempotent
	read := p.fromClient.Load()

	// The other direction is not paused.
	_, err = server.Write([]byte("down"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "down", string(buf))

	// Far more than the kernel buffers between client and proxy hold.
	data := make([]byte, 32<<20)
	for i := range data {
		data[i] = byte(i % 251)
	}
	n := writeUntilFull(t, c, data)
	require.Less(t, n, len(data), "the client never had to wait: the proxy read on while paused")
	assert.Equal(t, read, p.fromClient.Load(), "the proxy read from the client while paused")

	p.Pause(false)
	p.Pause(false) // idempotent
	got := readAll(server)
	_, err = c.Write(data[n:])
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	b := <-got
	require.Equal(t, len(data), len(b), "bytes lost or added across the pause")
	assert.True(t, bytes.Equal(data, b), "bytes reordered or changed across the pause")
}

// TestPauseNewConnection: a connection accepted while paused is not read
// from either until the pause ends.
func TestPauseNewConnection(t *testing.T) {
	target, accepted := acceptOne(t)
	p := Start(t, target)
	p.Pause(true)
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(4*ioTimeout)))
	server := <-accepted // dialled: the pumps are starting or running
	_, err = server.Write([]byte("hi"))
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = io.ReadFull(c, buf) // the pumps run, the server-side one forwards
	require.NoError(t, err)

	data := bytes.Repeat([]byte("x"), 32<<20)
	n := writeUntilFull(t, c, data)
	require.Less(t, n, len(data))
	assert.Zero(t, p.fromClient.Load(), "the proxy read from a client accepted while paused")

	p.Pause(false)
	got := readAll(server)
	_, err = c.Write(data[n:])
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	assert.Equal(t, len(data), len(<-got))
}

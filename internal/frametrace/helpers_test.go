package frametrace

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// lines collects trace lines; safe for concurrent use.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (c *lines) add(s string) {
	c.mu.Lock()
	c.l = append(c.l, s)
	c.mu.Unlock()
}

func (c *lines) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.l...)
}

func ptr[T any](v T) *T { return &v }

// stream builds the bytes of one direction of a connection.
type stream struct {
	t testing.TB
	b []byte
}

func (s *stream) header(h [8]byte) *stream {
	s.b = append(s.b, h[:]...)
	return s
}

func (s *stream) frame(channel uint16, body codec.Performative, payload ...byte) *stream {
	s.t.Helper()
	typ := codec.FrameAMQP
	if body != nil {
		typ = body.FrameType()
	}
	b, err := codec.AppendFrame(s.b, codec.Frame{Type: typ, Channel: channel, Body: body, Payload: payload})
	if err != nil {
		s.t.Fatal(err)
	}
	s.b = b
	return s
}

func (s *stream) raw(b ...byte) *stream {
	s.b = append(s.b, b...)
	return s
}

// memConn is a net.Conn that serves reads from r, chunk bytes at a time
// at most, and records writes.
type memConn struct {
	r       []byte
	chunk   int
	written bytes.Buffer
}

func (c *memConn) Read(p []byte) (int, error) {
	if len(c.r) == 0 {
		return 0, net.ErrClosed
	}
	n := copy(p[:min(len(p), c.chunk)], c.r)
	c.r = c.r[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error)      { return c.written.Write(p) }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// readAll reads everything from c with a buffer of size bufSize.
func readAll(c net.Conn, bufSize int) []byte {
	var got []byte
	buf := make([]byte, bufSize)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got
		}
	}
}

// writeChunks writes b to c, chunk bytes per Write.
func writeChunks(t *testing.T, c net.Conn, b []byte, chunk int) {
	t.Helper()
	for len(b) > 0 {
		n := min(chunk, len(b))
		if _, err := c.Write(b[:n]); err != nil {
			t.Errorf("write: %v", err)
			return
		}
		b = b[n:]
	}
}

package frametrace

import (
	"net"
	"sync"
)

// Wrap returns conn wrapped so that every byte read and written is decoded
// into frames and each frame is passed, as one readable line, to out. id
// identifies the connection in each line ("[id]: ..."). A nil out is
// StderrWriter().
//
// Wrap must be applied before the first protocol header is exchanged (and
// above TLS, if any): each direction expects a protocol header first and
// follows the SASL and AMQP layers from the headers it sees.
//
// out is called from the goroutines that call Read and Write, at most one
// call at a time for a given wrapped connection; it sits on the I/O path,
// so it should be quick. A panic in out stops tracing of that direction
// and does not reach the caller of Read or Write. A written frame is traced just before it is
// written, so that a request always precedes its reply in the log; a read
// one as soon as its last byte is read. The returned conn passes Close,
// deadlines and addresses to conn unchanged.
func Wrap(conn net.Conn, id string, out func(line string)) net.Conn {
	if out == nil {
		out = StderrWriter()
	}
	t := &tracer{prefix: "[" + id + "]: ", out: out}
	c := &tracedConn{Conn: conn}
	c.in = &direction{t: t, arrow: "<-"}
	c.out = &direction{t: t, arrow: "->"}
	c.in.other, c.out.other = c.out, c.in
	return c
}

// tracer is what both directions of a connection share: the line prefix and
// the sink, which is called under mu.
type tracer struct {
	prefix string
	mu     sync.Mutex
	out    func(string)
}

func (t *tracer) emit(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.out(t.prefix + line)
}

type tracedConn struct {
	net.Conn
	in, out *direction
}

// Read reads from the wrapped conn and traces what was read.
func (c *tracedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.in.observe(p[:n])
	}
	return n, err
}

// Write traces p, then writes it to the wrapped conn. A net.Conn writes all
// of p or fails, so tracing first loses nothing but the rare tail of a
// failed write, and keeps each frame ahead of the peer's answer to it.
func (c *tracedConn) Write(p []byte) (int, error) {
	if len(p) > 0 {
		c.out.observe(p)
	}
	return c.Conn.Write(p)
}

// Package wsnet turns a WebSocket into the byte stream AMQP runs on, for
// the client (amqpws://, amqpwss://) and the server alike, as the OASIS
// AMQP WebSocket Binding 1.0 describes: binary messages whose payloads,
// read in order, are the AMQP stream; frames may span messages.
package wsnet

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Subprotocol is the WebSocket subprotocol of AMQP: the client asks for
// it in the upgrade request and the server must choose it.
const Subprotocol = "amqp"

// MaxMessage is the largest WebSocket message written. The engine writes
// whatever it has batched in one write, often far more than one frame,
// and peers bound the messages they read: ActiveMQ Artemis drops the
// connection past 64 KiB (its acceptor's webSocketMaxFramePayloadLength),
// and coder/websocket's readers stop at 32 KiB by default. 16 KiB stays
// under the common limits at little cost: a message header is at most
// 14 bytes.
const MaxMessage = 16 << 10

// Conn is a WebSocket as a net.Conn of binary messages, each write cut
// into messages of at most MaxMessage bytes.
//
// It is written here rather than taken from websocket.NetConn, which
// hands each read and write a cancellable context: coder/websocket then
// arms a context.AfterFunc per operation, several allocations for every
// frame the engine reads or writes. Conn passes a context that is never
// cancelled and implements deadlines with one timer per direction.
type Conn struct {
	ws            *websocket.Conn
	local, remote net.Addr

	rmu   sync.Mutex
	msg   io.Reader // the binary message being read; nil between messages
	eof   bool      // the peer closed normally: reads return io.EOF
	rdead deadline

	wmu   sync.Mutex
	wdead deadline
}

// New returns wc as a Conn, with the addresses of the connection under
// it (nil when unknown). The Conn outlives any request or dial context:
// its Close ends it. Reads have no message size limit (the bytes are
// streamed, and the engine bounds AMQP frames itself).
func New(wc *websocket.Conn, local, remote net.Addr) *Conn {
	wc.SetReadLimit(-1)
	c := &Conn{ws: wc, local: local, remote: remote}
	c.rdead.ws, c.wdead.ws = wc, wc
	return c
}

// Read reads the payloads of binary messages as one stream.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if err := c.rdead.begin("read"); err != nil {
		return 0, err
	}
	n, err := c.read(p)
	if c.rdead.end() && err != nil {
		err = timeoutError("read")
	}
	return n, err
}

func (c *Conn) read(p []byte) (int, error) {
	for {
		if c.eof {
			return 0, io.EOF
		}
		if c.msg == nil {
			typ, r, err := c.ws.Reader(context.Background())
			if err != nil {
				switch websocket.CloseStatus(err) {
				case websocket.StatusNormalClosure, websocket.StatusGoingAway:
					c.eof = true
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.MessageBinary {
				err := fmt.Errorf("wsnet: a %v WebSocket message: AMQP travels in binary messages only", typ)
				_ = c.ws.Close(websocket.StatusUnsupportedData, "AMQP travels in binary messages only")
				return 0, err
			}
			c.msg = r
		}
		n, err := c.msg.Read(p)
		if err == io.EOF {
			c.msg, err = nil, nil
		}
		if n > 0 || err != nil || len(p) == 0 {
			return n, err
		}
		// The end of a message, or an empty one: on to the next.
	}
}

// Write writes p as one or more binary messages of at most MaxMessage
// bytes.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.wdead.begin("write"); err != nil {
		return 0, err
	}
	n := 0
	var err error
	for len(p) > 0 {
		k := min(len(p), MaxMessage)
		if err = c.ws.Write(context.Background(), websocket.MessageBinary, p[:k]); err != nil {
			break
		}
		n += k
		p = p[k:]
	}
	if c.wdead.end() && err != nil {
		err = timeoutError("write")
	}
	return n, err
}

// Close closes the WebSocket with a normal closure, waiting (a bounded
// time) for the peer's close frame.
func (c *Conn) Close() error {
	c.rdead.stop()
	c.wdead.stop()
	return c.ws.Close(websocket.StatusNormalClosure, "")
}

// CloseNow closes the connection under the WebSocket without a close
// frame.
func (c *Conn) CloseNow() error {
	c.rdead.stop()
	c.wdead.stop()
	return c.ws.CloseNow()
}

// LocalAddr is the address of the connection under the WebSocket, if
// known.
func (c *Conn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return unknownAddr{}
}

// RemoteAddr is the peer's address on the connection under the
// WebSocket, if known.
func (c *Conn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return unknownAddr{}
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdead.set(t)
	c.wdead.set(t)
	return nil
}

// SetReadDeadline sets the read deadline; see deadline for what it does
// to a read under way.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdead.set(t)
	return nil
}

// SetWriteDeadline sets the write deadline; see deadline for what it
// does to a write under way.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdead.set(t)
	return nil
}

// unknownAddr stands for an address nobody told the Conn.
type unknownAddr struct{}

func (unknownAddr) Network() string { return "websocket" }
func (unknownAddr) String() string  { return "websocket/unknown-addr" }

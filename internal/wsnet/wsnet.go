// Package wsnet turns a WebSocket into the byte stream AMQP runs on, for
// the client (amqpws://, amqpwss://) and the server alike, as the OASIS
// AMQP WebSocket Binding 1.0 describes: binary messages whose payloads,
// read in order, are the AMQP stream; frames may span messages.
package wsnet

import (
	"context"
	"net"

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
type Conn struct {
	net.Conn
}

// New returns wc as a Conn. The connection outlives any request or dial
// context: its Close ends it. Reads have no message size limit (the bytes
// are streamed, and the engine bounds AMQP frames itself).
func New(wc *websocket.Conn) *Conn {
	return &Conn{Conn: websocket.NetConn(context.Background(), wc, websocket.MessageBinary)}
}

// Write writes p as one or more binary messages of at most MaxMessage
// bytes.
func (c *Conn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), MaxMessage)
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

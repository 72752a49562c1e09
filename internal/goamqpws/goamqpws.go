// Package goamqpws runs github.com/Azure/go-amqp, which has no WebSocket
// transport of its own, over AMQP's WebSocket binding, on the transport
// amq uses (internal/wsnet). It is for the tests and amqbench, where
// go-amqp is the independent peer and the baseline; package amq never
// imports it.
package goamqpws

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"

	amqp "github.com/Azure/go-amqp"
	"github.com/coder/websocket"

	"github.com/amqgo/amq/internal/wsnet"
)

// Dial dials rawURL with go-amqp: an amqpws:// or amqpwss:// URL over a
// WebSocket of the amqp subprotocol, the same transport amq uses (writes
// cut into 16 KiB messages), so that the two engines put the same bytes
// on the wire; any other URL as amqp.Dial does. amqpwss verifies the
// server against the system's roots. The upgrade is bounded by ctx.
func Dial(ctx context.Context, rawURL string, opts *amqp.ConnOptions) (*amqp.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "amqpws" && u.Scheme != "amqpwss" {
		return amqp.Dial(ctx, rawURL, opts)
	}
	scheme, port := "http", "80"
	if u.Scheme == "amqpwss" {
		scheme, port = "https", "443"
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), port)
	}
	wc, _, err := websocket.Dial(ctx, scheme+"://"+host+u.EscapedPath(), &websocket.DialOptions{Subprotocols: []string{wsnet.Subprotocol}})
	if err != nil {
		return nil, fmt.Errorf("WebSocket upgrade: %w", err)
	}
	if wc.Subprotocol() != wsnet.Subprotocol {
		wc.CloseNow()
		return nil, fmt.Errorf("WebSocket upgrade: the server chose subprotocol %q, not %q", wc.Subprotocol(), wsnet.Subprotocol)
	}
	nc := &closedReads{Conn: wsnet.New(wc, nil, nil)}
	c, err := amqp.NewConn(ctx, nc, opts)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// closedReads is a connection whose reads fail with net.ErrClosed once it
// is closed: go-amqp takes that for the end of a connection it closed
// itself, where a WebSocket's reads fail with "context canceled".
type closedReads struct {
	net.Conn
	closed atomic.Bool
}

func (c *closedReads) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.closed.Load() {
		err = net.ErrClosed
	}
	return n, err
}

func (c *closedReads) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// OpenOptions are the fields of the client's open that the server's side
// of Config does not have.
type OpenOptions struct {
	// Hostname is the open's hostname: the virtual host asked for.
	Hostname string
	// Properties are the open's properties.
	Properties codec.Map
	// OfferedCapabilities and DesiredCapabilities are the open's.
	OfferedCapabilities []codec.Symbol
	DesiredCapabilities []codec.Symbol
}

// OpenError is a peer's close that came instead of its open (§2.4.1: a
// peer that refuses a connection opens it and closes it at once): its
// condition and description are the reason.
type OpenError struct{ Err *codec.Error }

func (e *OpenError) Error() string {
	if e.Err == nil {
		return "amqp: the peer closed the connection while opening it"
	}
	return "amqp: the peer refused the connection: " + e.Err.Error()
}

func (e *OpenError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

// Dial runs the AMQP part of a connection we opened, as a client: nc has
// been dialled (and secured, and authenticated: the SASL layer is the
// caller's, as is the TLS handshake), so the AMQP protocol headers are
// exchanged, then the opens (§2.4.1). It returns once the peer's open
// arrived; the reader and writer goroutines then run until the connection
// ends. ctx bounds the exchange only.
//
// Handler, when set in cfg, decides the links the peer attaches itself
// (rare for a client); nil refuses them.
func Dial(ctx context.Context, nc net.Conn, id uint64, cfg *Config, opts OpenOptions) (*Conn, error) {
	c := NewConn(nc, id, cfg)
	c.br = bufio.NewReaderSize(nc, 32*1024)
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	err := c.clientOpen(opts)
	interrupted := !stop()
	_ = nc.SetDeadline(time.Time{})
	if err != nil {
		nc.Close()
		c.cancel()
		if interrupted && ctx.Err() != nil {
			return nil, fmt.Errorf("amqp: open: %w", ctx.Err())
		}
		return nil, err
	}
	c.mu.Lock()
	c.opened = true
	c.mu.Unlock()
	cfg.wgAdd()
	go c.writeLoop()
	cfg.wgAdd()
	go c.run()
	return c, nil
}

// clientOpen exchanges protocol headers and opens, writing ours first.
func (c *Conn) clientOpen(opts OpenOptions) error {
	cfg := c.cfg
	ours := &codec.Open{
		ContainerID:         cfg.ContainerID,
		Hostname:            opts.Hostname,
		MaxFrameSize:        cfg.MaxFrameSize,
		ChannelMax:          &cfg.ChannelMax,
		IdleTimeOut:         uint32(cfg.IdleTimeout / 2 / time.Millisecond),
		Properties:          opts.Properties,
		OfferedCapabilities: opts.OfferedCapabilities,
		DesiredCapabilities: opts.DesiredCapabilities,
	}
	// Header and open in one write: the peer may answer both at once.
	b := protoHeader(codec.ProtoIDAMQP)
	b, err := codec.AppendFrame(b, codec.Frame{Type: codec.FrameAMQP, Body: ours})
	if err != nil {
		return fmt.Errorf("amqp: encoding open: %w", err)
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("amqp: writing open: %w", err)
	}
	if id, err := codec.ReadProtoHeader(c.br); err != nil {
		var he *codec.ProtoHeaderError
		if errors.As(err, &he) {
			return fmt.Errorf("amqp: the peer answered with protocol header %q, not AMQP 1.0", he.Header[:])
		}
		return fmt.Errorf("amqp: reading the protocol header: %w", err)
	} else if id != codec.ProtoIDAMQP {
		return fmt.Errorf("amqp: the peer answered with protocol id %d, not AMQP (0)", id)
	}
	// The open is read with our own frame limit: the peer's is not known
	// yet, and an open is small.
	fr, err := codec.ReadFrame(c.br, cfg.MaxFrameSize)
	if err != nil {
		return fmt.Errorf("amqp: reading the peer's open: %w", err)
	}
	switch b := fr.Body.(type) {
	case *codec.Open:
		if fr.Channel != 0 {
			return fmt.Errorf("amqp: the peer's open came on channel %d, not 0", fr.Channel)
		}
		if b.MaxFrameSize != 0 && b.MaxFrameSize < MinMaxFrameSize {
			e := &codec.Error{Condition: codec.ErrCondInvalidField, Description: fmt.Sprintf("max-frame-size %d is below the minimum of %d", b.MaxFrameSize, MinMaxFrameSize)}
			c.writeCloseDirect(e)
			return fmt.Errorf("amqp: refusing the peer's open: %w", e)
		}
		c.negotiate(b)
		c.log.Debug("amqp connection open", "container", c.remoteContainer,
			"max_frame", c.peerMaxFrame, "channel_max", c.channelMax, "peer_idle", c.peerIdle)
		return nil
	case *codec.Close:
		return &OpenError{Err: b.Error}
	}
	return fmt.Errorf("amqp: expected the peer's open, got %s", performativeName(fr.Body))
}

// writeCloseDirect writes a close frame before the writer runs.
func (c *Conn) writeCloseDirect(e *codec.Error) {
	if b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Body: &codec.Close{Error: e}}); err == nil {
		_, _ = c.nc.Write(b)
	}
}

// run is the reader goroutine of a connection we opened; it owns the
// teardown.
func (c *Conn) run() {
	defer c.cfg.wgDone()
	c.teardown(c.readLoop())
	if c.cfg.OnEnd != nil {
		c.cfg.OnEnd(c)
	}
}

// CloseWait closes c with err (see Conn.Close) and waits until it has
// ended: the peer answered our close, or the grace period passed, or ctx
// ended. (Functions, not methods, are the client's operations on types the
// server package names as its own.)
func CloseWait(ctx context.Context, c *Conn, err error) error {
	_ = c.Close(err)
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.nc.Close()
		return ctx.Err()
	}
}

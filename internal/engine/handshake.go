package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

// protoHeader returns the protocol header "AMQP" id 1 0 0 (§2.2, §5.1).
func protoHeader(id uint8) []byte { return []byte{'A', 'M', 'Q', 'P', id, 1, 0, 0} }

// errHeaderRefused ends a connection whose protocol header we answered with
// the one we want instead (§2.2: reply with the supported header and close).
var errHeaderRefused = errors.New("amqp: protocol header refused")

// TLSBeneath is a connection whose TLS was done beneath it before the
// engine got it: an AMQP WebSocket upgraded from an https request. Its
// state (nil when there is no TLS) stands for the engine's own, so that
// SASL EXTERNAL and the handler see the client's certificate.
type TLSBeneath interface {
	TLSConnectionState() *tls.ConnectionState
}

// handshake takes the connection from accept to an exchanged open: TLS,
// protocol headers, SASL, open. It bounds all of it by HandshakeTimeout.
func (c *Conn) handshake() error {
	cfg := c.cfg
	if d := cfg.HandshakeTimeout; d > 0 {
		_ = c.nc.SetDeadline(time.Now().Add(d))
	}
	if cfg.TLS != nil {
		tc := tls.Server(c.nc, cfg.TLS)
		ctx, cancel := context.WithCancel(c.ctx)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.nc.Close()
			return fmt.Errorf("amqp: TLS handshake: %w", err)
		}
		st := tc.ConnectionState()
		c.mu.Lock()
		c.nc = tc
		c.tlsState = &st
		c.mu.Unlock()
	} else if tb, ok := c.nc.(TLSBeneath); ok {
		st := tb.TLSConnectionState()
		c.mu.Lock()
		c.tlsState = st
		c.mu.Unlock()
	}
	c.br = bufio.NewReaderSize(c.nc, 32*1024)

	var mechs []string
	if cfg.SASL != nil {
		mechs = cfg.SASL.Mechanisms(c.tlsState != nil)
	}
	bareOK := cfg.AllowBare
	// The header we answer an unacceptable one with.
	preferred := (codec.ProtoIDSASL)
	if len(mechs) == 0 && bareOK {
		preferred = codec.ProtoIDAMQP
	}

	id, err := c.readHeader()
	if err != nil {
		if errors.Is(err, errHeaderRefused) {
			_, _ = c.nc.Write(protoHeader(preferred))
		}
		return err
	}
	switch {
	case id == codec.ProtoIDSASL && len(mechs) > 0:
		if _, err := c.nc.Write(protoHeader(codec.ProtoIDSASL)); err != nil {
			return err
		}
		if err := c.saslExchange(mechs); err != nil {
			return err
		}
		id, err = c.readHeader()
		if err != nil || id != codec.ProtoIDAMQP {
			if err == nil || errors.Is(err, errHeaderRefused) {
				_, _ = c.nc.Write(protoHeader(codec.ProtoIDAMQP))
				return errHeaderRefused
			}
			return err
		}
	case id == codec.ProtoIDAMQP && bareOK:
	default:
		_, _ = c.nc.Write(protoHeader(preferred))
		return fmt.Errorf("%w: protocol id %d", errHeaderRefused, id)
	}
	if _, err := c.nc.Write(protoHeader(codec.ProtoIDAMQP)); err != nil {
		return err
	}
	return c.openExchange()
}

// readHeader reads an 8-byte protocol header and returns its protocol id;
// anything but AMQP 1.0.0 is errHeaderRefused.
func (c *Conn) readHeader() (uint8, error) {
	id, err := codec.ReadProtoHeader(c.br)
	if err != nil {
		var he *codec.ProtoHeaderError
		if errors.As(err, &he) {
			return 0, fmt.Errorf("%w: %q", errHeaderRefused, he.Header[:])
		}
		return 0, fmt.Errorf("amqp: reading protocol header: %w", err)
	}
	return id, nil
}

// writeDirect writes one frame straight to the socket (handshake only: the
// writer goroutine is not running yet).
func (c *Conn) writeDirect(ftype uint8, body codec.Performative) error {
	b, err := codec.AppendFrame(nil, codec.Frame{Type: ftype, Body: body})
	if err != nil {
		return err
	}
	_, err = c.nc.Write(b)
	return err
}

// saslExchange runs the SASL layer (§5.3) after the SASL headers.
func (c *Conn) saslExchange(mechs []string) error {
	syms := make([]codec.Symbol, len(mechs))
	for i, m := range mechs {
		syms[i] = codec.Symbol(m)
	}
	if err := c.writeDirect(codec.FrameSASL, &codec.SASLMechanisms{Mechanisms: syms}); err != nil {
		return err
	}
	fr, err := codec.ReadFrame(c.br, MinMaxFrameSize*128)
	if err != nil {
		return fmt.Errorf("amqp: reading sasl-init: %w", err)
	}
	init, ok := fr.Body.(*codec.SASLInit)
	if !ok {
		return fmt.Errorf("amqp: expected sasl-init, got %T", fr.Body)
	}
	mech := string(init.Mechanism)
	offered := false
	for _, m := range mechs {
		offered = offered || m == mech
	}
	fail := func(code codec.SASLCode, why error) error {
		c.log.Debug("amqp SASL authentication failed", "mechanism", mech, "reason", why)
		_ = c.writeDirect(codec.FrameSASL, &codec.SASLOutcome{Code: code})
		return fmt.Errorf("amqp: SASL %s: %w", mech, why)
	}
	if !offered {
		return fail(codec.SASLCodeAuth, fmt.Errorf("mechanism %q not offered", mech))
	}
	conv, err := c.cfg.SASL.Start(c.ctx, c.nc.RemoteAddr(), mech, c.tlsState)
	if err != nil {
		return fail(codec.SASLCodeSys, err)
	}
	resp := init.InitialResponse
	for round := 0; ; round++ {
		if round > 8 {
			return fail(codec.SASLCodeAuth, errors.New("too many SASL rounds"))
		}
		challenge, done, identity, additional, err := conv.Step(resp)
		if err != nil {
			return fail(codec.SASLCodeAuth, err)
		}
		if done {
			if err := c.writeDirect(codec.FrameSASL, &codec.SASLOutcome{Code: codec.SASLCodeOK, AdditionalData: additional}); err != nil {
				return err
			}
			c.user, c.mechanism = identity, mech
			c.log.Debug("amqp SASL authenticated", "mechanism", mech, "user", identity)
			return nil
		}
		if err := c.writeDirect(codec.FrameSASL, &codec.SASLChallenge{Challenge: challenge}); err != nil {
			return err
		}
		fr, err := codec.ReadFrame(c.br, MinMaxFrameSize*128)
		if err != nil {
			return fmt.Errorf("amqp: reading sasl-response: %w", err)
		}
		r, ok := fr.Body.(*codec.SASLResponse)
		if !ok {
			return fail(codec.SASLCodeAuth, fmt.Errorf("expected sasl-response, got %T", fr.Body))
		}
		resp = r.Response
	}
}

// openExchange reads the peer's open and answers with ours (§2.4.1).
func (c *Conn) openExchange() error {
	cfg := c.cfg
	fr, err := codec.ReadFrame(c.br, MinMaxFrameSize)
	var open *codec.Open
	if err == nil {
		open, _ = fr.Body.(*codec.Open)
	}
	ours := &codec.Open{
		ContainerID:         cfg.ContainerID,
		MaxFrameSize:        cfg.MaxFrameSize,
		ChannelMax:          &cfg.ChannelMax,
		OfferedCapabilities: cfg.OfferedCapabilities,
		DesiredCapabilities: cfg.DesiredCapabilities,
		// Announce half of what we enforce, as Proton does: a peer
		// heartbeating at half the announced value then has a 4x margin
		// against scheduling hiccups.
		IdleTimeOut: uint32(cfg.IdleTimeout / 2 / time.Millisecond),
	}
	if open == nil || fr.Channel != 0 {
		// An error before open still gets an open, then the close (§2.4.1).
		e := &codec.Error{Condition: codec.ErrCondNotAllowed, Description: "expected open on channel 0"}
		if err != nil {
			e = frameErrorCondition(err)
		}
		c.mu.Lock()
		if c.closeSent {
			// Our Close interrupted the read: that is the reason.
			e, err = c.closingReason(), nil
		}
		c.mu.Unlock()
		if !isEOF(err) {
			_ = c.writeDirect(codec.FrameAMQP, ours)
			_ = c.writeDirect(codec.FrameAMQP, &codec.Close{Error: e})
		}
		if err == nil {
			err = errors.New(e.Error())
		}
		return fmt.Errorf("amqp: open exchange: %w", err)
	}
	if open.MaxFrameSize != 0 && open.MaxFrameSize < MinMaxFrameSize {
		// §2.7.1: no frame size below 512 is allowed; a peer asking for one
		// cannot be sent a transfer of any useful size.
		e := &codec.Error{Condition: codec.ErrCondInvalidField, Description: fmt.Sprintf("max-frame-size %d is below the minimum of %d", open.MaxFrameSize, MinMaxFrameSize)}
		_ = c.writeDirect(codec.FrameAMQP, ours)
		_ = c.writeDirect(codec.FrameAMQP, &codec.Close{Error: e})
		return fmt.Errorf("amqp: open exchange: %w", e)
	}
	c.negotiate(open)
	if err := c.writeDirect(codec.FrameAMQP, ours); err != nil {
		return err
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		// Closed while handshaking: say so now that we can.
		c.closeSent = false
		c.opened = true
		c.closeWithLocked(c.closingReason())
		return nil
	}
	c.opened = true
	c.log.Debug("amqp connection open", "container", c.remoteContainer, "user", c.user,
		"max_frame", c.peerMaxFrame, "channel_max", c.channelMax, "peer_idle", c.peerIdle)
	return nil
}

// closingReason is the reason given to a peer whose connection the server
// closed while it was still being opened: the one asked for, or
// connection-forced. c.mu must be held.
func (c *Conn) closingReason() *codec.Error {
	if c.closeErr != nil {
		return c.closeErr
	}
	return &codec.Error{Condition: codec.ErrCondConnectionForced, Description: "server closing"}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

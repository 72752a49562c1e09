package sasl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
	"unicode/utf8"

	"github.com/amqgo/amq/internal/codec"
)

// maxSASLFrame bounds the frames read. AMQP 1.0 §5.3.1 limits SASL frames
// to 512 bytes, but GSSAPI tokens carrying a PAC are larger and Proton
// sends them anyway, so the bound is generous.
const maxSASLFrame = 64 << 10

// maxChallenges bounds the rounds a server may make the client play.
const maxChallenges = 16

// Negotiate runs the client side of the SASL layer on conn: it must be
// called on a fresh connection (after the TLS handshake, if any), before
// anything else is written. It returns once the server sent an ok outcome;
// the next bytes on conn are the server's AMQP protocol header, which
// Negotiate has not read. On error the caller closes conn.
//
// ctx bounds the whole exchange: its deadline is set on conn while
// negotiating and cleared (set to zero) afterwards; cancelling it
// interrupts a blocked read or write. A nil cfg is the zero Config.
func Negotiate(ctx context.Context, conn net.Conn, cfg *Config) (Result, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	allowed, err := normalizeMechanisms(cfg.Mechanisms)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("sasl: %w", err)
	}
	stop := bindContext(ctx, conn)
	res, err := negotiate(ctx, conn, cfg, allowed)
	clearErr := stop()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("sasl: negotiation interrupted: %w: %w", context.Cause(ctx), err)
		}
		return Result{}, err
	}
	if clearErr != nil {
		return Result{}, fmt.Errorf("sasl: clearing the connection deadline: %w", clearErr)
	}
	return res, nil
}

// bindContext makes ctx's deadline and cancellation interrupt I/O on conn.
// stop undoes it and leaves conn with no deadline.
func bindContext(ctx context.Context, conn net.Conn) (stop func() error) {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	fired := make(chan struct{})
	stopAfter := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = conn.SetDeadline(time.Unix(1, 0)) // in the past: pending I/O fails now
	})
	return func() error {
		if !stopAfter() {
			<-fired // it ran (or is running): clear after it, not before
		}
		return conn.SetDeadline(time.Time{})
	}
}

func negotiate(ctx context.Context, conn net.Conn, cfg *Config, allowed []string) (Result, error) {
	if err := exchangeHeaders(conn); err != nil {
		return Result{}, err
	}
	body, err := readSASL(conn)
	if err != nil {
		return Result{}, err
	}
	mechs, ok := body.(*codec.SASLMechanisms)
	if !ok {
		return Result{}, fmt.Errorf("sasl: protocol error: expected sasl-mechanisms, got %s", describe(body))
	}
	offered := make([]string, len(mechs.Mechanisms))
	for i, m := range mechs.Mechanisms {
		offered[i] = string(m)
	}
	mech, err := choose(offered, allowed, cfg)
	if err != nil {
		return Result{}, err
	}
	hostname := cfg.Hostname
	if cfg.VirtualHost != "" {
		hostname = cfg.VirtualHost
	}
	return runExchange(ctx, conn, mech, hostname)
}

// runExchange plays mech from sasl-init to the sasl-outcome.
func runExchange(ctx context.Context, conn net.Conn, mech mechanism, hostname string) (Result, error) {
	initial, err := mech.start(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := writeSASL(conn, &codec.SASLInit{Mechanism: codec.Symbol(mech.name()), InitialResponse: initial, Hostname: hostname}); err != nil {
		return Result{}, err
	}
	for round := 0; ; round++ {
		body, err := readSASL(conn)
		if err != nil {
			return Result{}, err
		}
		switch b := body.(type) {
		case *codec.SASLChallenge:
			if round >= maxChallenges {
				return Result{}, fmt.Errorf("sasl: %s: the server sent more than %d challenges", mech.name(), maxChallenges)
			}
			resp, err := mech.step(b.Challenge)
			if err != nil {
				return Result{}, err
			}
			if err := writeSASL(conn, &codec.SASLResponse{Response: resp}); err != nil {
				return Result{}, err
			}
		case *codec.SASLOutcome:
			if b.Code != codec.SASLCodeOK {
				return Result{}, &AuthError{Mechanism: mech.name(), Code: Code(b.Code), Detail: failureDetail(mech, b.AdditionalData)}
			}
			if err := mech.finish(b.AdditionalData); err != nil {
				return Result{}, err
			}
			return Result{Mechanism: mech.name()}, nil
		default:
			return Result{}, fmt.Errorf("sasl: protocol error: expected sasl-challenge or sasl-outcome, got %s", describe(body))
		}
	}
}

// exchangeHeaders sends the SASL protocol header and checks the server's
// (§5.3.2).
func exchangeHeaders(conn net.Conn) error {
	if _, err := conn.Write(codec.ProtoSASL[:]); err != nil {
		return fmt.Errorf("sasl: writing the SASL protocol header: %w", err)
	}
	id, err := codec.ReadProtoHeader(conn)
	var he *codec.ProtoHeaderError
	switch {
	case errors.As(err, &he):
		return fmt.Errorf("sasl: the server is not an AMQP 1.0 peer: it answered with % x: %w", he.Header[:], err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("sasl: the server closed the connection instead of answering the SASL protocol header: %w", err)
	case err != nil:
		return fmt.Errorf("sasl: reading the server's protocol header: %w", err)
	case id == codec.ProtoIDAMQP:
		return ErrNoSASL
	case id == codec.ProtoIDTLS:
		return errors.New("sasl: the server requires TLS (it answered with the AMQP TLS header); connect with amqps://")
	}
	return nil
}

// readSASL reads the next SASL frame body. It reads exactly one frame from
// conn (no buffering), skipping empty frames.
func readSASL(conn net.Conn) (codec.Performative, error) {
	for {
		f, err := codec.ReadFrame(conn, maxSASLFrame)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("sasl: the server closed the connection during the SASL exchange: %w", err)
			}
			return nil, fmt.Errorf("sasl: reading a SASL frame: %w", err)
		}
		if f.Type != codec.FrameSASL {
			return nil, fmt.Errorf("sasl: protocol error: AMQP frame (%s) during the SASL exchange", describe(f.Body))
		}
		if f.Body != nil {
			return f.Body, nil
		}
	}
}

func writeSASL(conn net.Conn, body codec.Performative) error {
	if err := codec.WriteFrame(conn, codec.Frame{Type: codec.FrameSASL, Body: body}); err != nil {
		return fmt.Errorf("sasl: writing %s: %w", describe(body), err)
	}
	return nil
}

func describe(p codec.Performative) string {
	switch p.(type) {
	case nil:
		return "an empty frame"
	case *codec.SASLMechanisms:
		return "sasl-mechanisms"
	case *codec.SASLInit:
		return "sasl-init"
	case *codec.SASLChallenge:
		return "sasl-challenge"
	case *codec.SASLResponse:
		return "sasl-response"
	case *codec.SASLOutcome:
		return "sasl-outcome"
	}
	return fmt.Sprintf("%T", p)
}

// failureDetail is what the server said about a failure, if readable.
func failureDetail(mech mechanism, additional []byte) string {
	if d, ok := mech.(detailer); ok && d.failureDetail() != "" {
		return d.failureDetail()
	}
	if len(additional) > 0 && utf8.Valid(additional) {
		return truncate(string(additional))
	}
	return ""
}

package server

import (
	"bytes"
	"crypto/tls"
	"errors"

	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/internal/saslmech"
)

// SASL mechanism names, from the registry the client shares.
const (
	mechAnonymous   = saslmech.Anonymous
	mechPlain       = saslmech.Plain
	mechExternal    = saslmech.External
	mechSCRAMSHA1   = saslmech.SCRAMSHA1
	mechSCRAMSHA256 = saslmech.SCRAMSHA256
	mechSCRAMSHA512 = saslmech.SCRAMSHA512
)

// allMechanisms in the order they are offered: strongest first (the
// registry's order), so a client picking the first it supports gets the
// best.
var allMechanisms = saslmech.ServerNames()

func knownMechanism(m string) bool {
	for _, k := range allMechanisms {
		if k == m {
			return true
		}
	}
	return false
}

// errAuthFailed is the only failure a client learns about: which part of its
// credentials was wrong is not revealed.
var errAuthFailed = errors.New("server: SASL authentication failed")

// saslResult is a successful SASL exchange.
type saslResult struct {
	identity   string // authenticated user; "" for ANONYMOUS
	additional []byte // additional-data of the outcome
}

// saslConv is the server side of one mechanism's exchange. step gets the
// client's initial-response or response and returns either a challenge to
// send, a result (success), or an error (authentication failure).
type saslConv interface {
	step(resp []byte) (challenge []byte, res *saslResult, err error)
}

// saslServer is the server side of the SASL layer the engine runs: the
// mechanisms Options allow, and this package's conversations.
type saslServer struct{ cfg *config }

// Mechanisms lists what is offered on a TLS connection or not.
func (s saslServer) Mechanisms(onTLS bool) []string {
	if onTLS {
		return s.cfg.tlsMechanisms
	}
	return s.cfg.mechanisms
}

// Start starts the exchange for a mechanism already checked to be offered.
func (s saslServer) Start(mech string, tlsState *tls.ConnectionState) (engine.SASLConversation, error) {
	var conv saslConv
	var err error
	switch mech {
	case mechAnonymous:
		conv = anonymousConv{}
	case mechPlain:
		conv = plainConv{creds: s.cfg.Credentials}
	case mechExternal:
		conv = externalConv{state: tlsState}
	case mechSCRAMSHA1, mechSCRAMSHA256, mechSCRAMSHA512:
		conv, err = newSCRAMConv(mech, s.cfg.Credentials)
	default:
		err = errAuthFailed
	}
	if err != nil {
		return nil, err
	}
	return conversation{conv}, nil
}

// conversation adapts a saslConv to the engine's SASLConversation.
type conversation struct{ saslConv }

func (c conversation) Step(resp []byte) (challenge []byte, done bool, identity string, additional []byte, err error) {
	challenge, res, err := c.step(resp)
	if err != nil || res == nil {
		return challenge, false, "", nil, err
	}
	return nil, true, res.identity, res.additional, nil
}

// anonymousConv accepts anything (RFC 4505: the response is an optional
// trace string, ignored here).
type anonymousConv struct{}

func (anonymousConv) step([]byte) ([]byte, *saslResult, error) {
	return nil, &saslResult{}, nil
}

// plainConv checks "authzid NUL authcid NUL passwd" (RFC 4616).
type plainConv struct{ creds *Credentials }

func (p plainConv) step(resp []byte) ([]byte, *saslResult, error) {
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || p.creds == nil {
		return nil, nil, errAuthFailed
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return nil, nil, errAuthFailed // no proxy authorization
	}
	if !p.creds.verify(user, pass) {
		return nil, nil, errAuthFailed
	}
	return nil, &saslResult{identity: user}, nil
}

// externalConv authenticates with the TLS client certificate the handshake
// verified; the identity is its subject common name (RFC 4422 App. A).
type externalConv struct{ state *tls.ConnectionState }

func (e externalConv) step(resp []byte) ([]byte, *saslResult, error) {
	if e.state == nil || len(e.state.VerifiedChains) == 0 || len(e.state.PeerCertificates) == 0 {
		return nil, nil, errAuthFailed
	}
	cn := e.state.PeerCertificates[0].Subject.CommonName
	if cn == "" {
		return nil, nil, errAuthFailed
	}
	// A non-empty response is an authorization identity: only the
	// certificate's own identity may be asked for.
	if len(resp) > 0 && string(resp) != cn {
		return nil, nil, errAuthFailed
	}
	return nil, &saslResult{identity: cn}, nil
}

package sasl

import (
	"context"
	"fmt"

	"github.com/xdg-go/scram"
)

// scramMech runs SCRAM (RFC 5802) through xdg-go/scram. The
// server-final-message, which carries the server signature, arrives either
// as the additional-data of the outcome (AMQP 1.0 §5.3.3.6; Proton, Qpid
// JMS, amq's server) or as a last challenge answered with an empty
// response (some Cyrus-based servers). Either way it must verify before the
// connection is trusted.
type scramMech struct {
	mech     string
	conv     *scram.ClientConversation
	rounds   int
	verified bool
}

var scramHashes = map[string]scram.HashGeneratorFcn{
	SCRAMSHA1:   scram.SHA1,
	SCRAMSHA256: scram.SHA256,
	SCRAMSHA512: scram.SHA512,
}

func newSCRAM(mech, user, password string) (*scramMech, error) {
	c, err := scramHashes[mech].NewClient(user, password, "")
	if err != nil {
		// The library's message may quote the credentials: keep it out.
		return nil, fmt.Errorf("sasl: %s: the user name or password cannot be prepared (RFC 4013 SASLprep)", mech)
	}
	return &scramMech{mech: mech, conv: c.NewConversation()}, nil
}

func (m *scramMech) name() string { return m.mech }

func (m *scramMech) start(context.Context) ([]byte, error) {
	first, err := m.conv.Step("")
	if err != nil {
		return nil, fmt.Errorf("sasl: %s: %w", m.mech, err)
	}
	return []byte(first), nil
}

func (m *scramMech) step(challenge []byte) ([]byte, error) {
	m.rounds++
	switch m.rounds {
	case 1: // server-first-message
		final, err := m.conv.Step(string(challenge))
		if err != nil {
			return nil, fmt.Errorf("sasl: %s: bad server-first-message: %w", m.mech, err)
		}
		return []byte(final), nil
	case 2: // server-final-message as a challenge
		if err := m.verify(challenge); err != nil {
			return nil, err
		}
		return []byte{}, nil
	}
	return nil, fmt.Errorf("sasl: %s: unexpected challenge after the server-final-message", m.mech)
}

func (m *scramMech) finish(additional []byte) error {
	if m.verified {
		return nil
	}
	if len(additional) == 0 {
		return fmt.Errorf("%w: %s outcome carries no server signature", ErrServerNotAuthenticated, m.mech)
	}
	return m.verify(additional)
}

func (m *scramMech) verify(serverFinal []byte) error {
	if _, err := m.conv.Step(string(serverFinal)); err != nil {
		return fmt.Errorf("%w: %s server-final-message: %v", ErrServerNotAuthenticated, m.mech, err)
	}
	if !m.conv.Valid() {
		return fmt.Errorf("%w: %s server signature does not verify", ErrServerNotAuthenticated, m.mech)
	}
	m.verified = true
	return nil
}

package sasl

import (
	"context"
	"fmt"
)

// anonymousMech sends an empty trace string (RFC 4505); externalMech an
// empty authorization identity, so that the server uses the identity of the
// TLS client certificate (RFC 4422 Appendix A). Neither has more to say.
type (
	anonymousMech struct{}
	externalMech  struct{}
)

func (anonymousMech) name() string                          { return Anonymous }
func (anonymousMech) start(context.Context) ([]byte, error) { return []byte{}, nil }
func (anonymousMech) finish([]byte) error                   { return nil }
func (externalMech) name() string                           { return External }
func (externalMech) start(context.Context) ([]byte, error)  { return []byte{}, nil }
func (externalMech) finish([]byte) error                    { return nil }
func (anonymousMech) step([]byte) ([]byte, error)           { return nil, unexpectedChallenge(Anonymous) }
func (externalMech) step([]byte) ([]byte, error)            { return nil, unexpectedChallenge(External) }
func unexpectedChallenge(mech string) error {
	return fmt.Errorf("sasl: %s: unexpected challenge from the server", mech)
}

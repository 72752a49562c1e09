package sasl

import "context"

// plainMech sends "authzid NUL authcid NUL passwd" (RFC 4616) with an empty
// authzid. It sends the password in clear: choose only picks it on TLS or
// with Config.AllowInsecure.
type plainMech struct{ user, password string }

func (plainMech) name() string { return Plain }

func (m plainMech) start(context.Context) ([]byte, error) {
	b := make([]byte, 0, 2+len(m.user)+len(m.password))
	b = append(b, 0)
	b = append(b, m.user...)
	b = append(b, 0)
	return append(b, m.password...), nil
}

func (plainMech) step([]byte) ([]byte, error) {
	return nil, unexpectedChallenge(Plain)
}

func (plainMech) finish([]byte) error { return nil }

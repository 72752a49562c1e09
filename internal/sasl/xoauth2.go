package sasl

import (
	"context"
	"unicode/utf8"
)

// xoauth2Mech sends Google's XOAUTH2 initial response,
// "user=USER ^A auth=Bearer TOKEN ^A ^A". A server that refuses the token
// answers with a challenge holding a JSON error; the client must answer it
// with an empty response, after which the server sends the failing outcome.
// The JSON (which holds no secret) becomes AuthError.Detail.
type xoauth2Mech struct {
	user, token string
	errJSON     string
}

func (*xoauth2Mech) name() string { return XOAUTH2 }

func (m *xoauth2Mech) start(context.Context) ([]byte, error) {
	b := make([]byte, 0, 22+len(m.user)+len(m.token))
	b = append(b, "user="...)
	b = append(b, m.user...)
	b = append(b, "\x01auth=Bearer "...)
	b = append(b, m.token...)
	return append(b, "\x01\x01"...), nil
}

func (m *xoauth2Mech) step(challenge []byte) ([]byte, error) {
	if utf8.Valid(challenge) {
		m.errJSON = truncate(string(challenge))
	}
	return []byte{}, nil
}

func (*xoauth2Mech) finish([]byte) error { return nil }

func (m *xoauth2Mech) failureDetail() string { return m.errJSON }

// truncate bounds what a server's text adds to an error.
func truncate(s string) string {
	const max = 256
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

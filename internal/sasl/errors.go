package sasl

import (
	"errors"
	"fmt"
	"strings"
)

// Code is the code of a sasl-outcome (AMQP 1.0 §5.3.3.6).
type Code uint8

// Outcome codes.
const (
	CodeOK      Code = 0 // authentication succeeded
	CodeAuth    Code = 1 // the credentials were refused
	CodeSys     Code = 2 // system error
	CodeSysPerm Code = 3 // unrecoverable system error
	CodeSysTemp Code = 4 // transient system error
)

// String returns the spec's name of the code.
func (c Code) String() string {
	switch c {
	case CodeOK:
		return "ok"
	case CodeAuth:
		return "auth"
	case CodeSys:
		return "sys"
	case CodeSysPerm:
		return "sys-perm"
	case CodeSysTemp:
		return "sys-temp"
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// AuthError is a sasl-outcome other than ok: the server refused to
// authenticate the connection. Retrying with the same credentials does not
// help, except for CodeSysTemp (see Temporary).
type AuthError struct {
	// Mechanism is the mechanism that was tried.
	Mechanism string
	// Code is the outcome code the server sent.
	Code Code
	// Detail is what else the server said (the outcome's additional-data
	// or an XOAUTH2 error challenge), "" if nothing.
	Detail string
}

// Error says which mechanism failed and how; it holds no credential.
func (e *AuthError) Error() string {
	var what string
	switch e.Code {
	case CodeAuth:
		what = "the credentials were refused"
	case CodeSysTemp:
		what = "temporary server error"
	default:
		what = "server error"
	}
	s := fmt.Sprintf("sasl: %s authentication failed: %s (outcome %s)", e.Mechanism, what, e.Code)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Temporary reports whether the server said the failure is transient
// (sys-temp), so that trying again later may succeed.
func (e *AuthError) Temporary() bool { return e.Code == CodeSysTemp }

// NoMechanismError says the server offers no mechanism the client can use.
type NoMechanismError struct {
	// Offered is what the server's sasl-mechanisms listed.
	Offered []string
	// Allowed is Config.Mechanisms ("any supported" when empty).
	Allowed []string
	// Credentials describes what was present: for example
	// "user and password, no client certificate, no XOAUTH2 token, no
	// Kerberos credentials".
	Credentials string
}

// Error lists what was offered, allowed and present.
func (e *NoMechanismError) Error() string {
	allowed := "any supported"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, " ")
	}
	return fmt.Sprintf("sasl: no usable mechanism: server offers [%s], client allows [%s], credentials: %s",
		strings.Join(e.Offered, " "), allowed, e.Credentials)
}

// InsecureError says the only usable mechanism would send a reusable
// secret in the clear on a connection that is not TLS.
type InsecureError struct {
	// Mechanism is the refused mechanism (PLAIN or XOAUTH2).
	Mechanism string
}

// Error says why the mechanism was refused and how to fix it.
func (e *InsecureError) Error() string {
	return fmt.Sprintf("sasl: refusing %s on a connection without TLS: it would send the secret in clear text; "+
		"connect with amqps:// (TLS), or allow insecure mechanisms explicitly (sasl.allow_insecure)", e.Mechanism)
}

// ErrNoSASL is returned when the server answers the SASL protocol header
// with the plain AMQP header: it does not do SASL. Connect without the
// SASL layer (SASL disabled) if that is what the server expects.
var ErrNoSASL = errors.New("sasl: the server does not use SASL (it answered with the AMQP protocol header); disable SASL to connect to it")

// ErrServerNotAuthenticated is returned when the server accepted the
// client but failed to prove its own identity (a wrong or missing SCRAM
// server signature, a GSSAPI token that does not verify). The connection
// must not be used: the peer may be an impostor.
var ErrServerNotAuthenticated = errors.New("sasl: the server was not authenticated")

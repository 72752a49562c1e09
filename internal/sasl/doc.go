// Package sasl is the client side of the AMQP 1.0 SASL layer (AMQP 1.0
// §5.3): it runs on the raw net.Conn, after TLS and before the AMQP
// connection engine (go-amqp) takes the connection over.
//
// Negotiate writes the SASL protocol header, reads the server's
// sasl-mechanisms, picks the strongest mechanism both sides allow and the
// credentials make possible, runs the exchange and reads the sasl-outcome.
// It reads exactly the SASL frames and nothing more, so after a successful
// Negotiate the caller hands the connection to the AMQP engine, which then
// sends the plain AMQP protocol header (§5.3.2: after a successful outcome
// both peers restart at the AMQP header).
//
// Supported mechanisms, strongest first: EXTERNAL (TLS client
// certificate), GSSAPI (Kerberos V5, RFC 4752), SCRAM-SHA-512,
// SCRAM-SHA-256, SCRAM-SHA-1 (RFC 5802, RFC 7677; the server signature is
// verified), XOAUTH2 (a bearer token), PLAIN (RFC 4616), ANONYMOUS
// (RFC 4505).
//
// Errors never contain a password or a token. The failures a caller acts
// on are typed: *AuthError (the server refused the credentials),
// *NoMechanismError, *InsecureError, and the sentinels ErrNoSASL and
// ErrServerNotAuthenticated.
package sasl

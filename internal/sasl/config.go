package sasl

import "github.com/amqgo/amq/internal/saslmech"

// Mechanism names (RFC 4422 registry; XOAUTH2 is Google's), from the
// registry the server shares.
const (
	Anonymous   = saslmech.Anonymous
	Plain       = saslmech.Plain
	External    = saslmech.External
	GSSAPI      = saslmech.GSSAPI
	XOAUTH2     = saslmech.XOAUTH2
	SCRAMSHA1   = saslmech.SCRAMSHA1
	SCRAMSHA256 = saslmech.SCRAMSHA256
	SCRAMSHA512 = saslmech.SCRAMSHA512
)

// Config is what Negotiate needs to know about the connection and the
// credentials. The zero value allows every supported mechanism with no
// credentials (so ANONYMOUS). Negotiate does not modify it.
type Config struct {
	// Mechanisms restricts the mechanisms the client accepts, by name
	// (case-insensitive), like the reference client's allowed_mechs.
	// Empty: every supported mechanism the credentials make possible.
	// Listing a mechanism also allows it when the credentials alone would
	// not select it (ANONYMOUS with a user set, GSSAPI with no ticket cache
	// found: its set-up error is then reported).
	Mechanisms []string

	// User and Password are the credentials of the password mechanisms
	// (SCRAM-SHA-*, PLAIN) and the user of XOAUTH2. HasUser says User was
	// given (an empty user name is possible in a URL).
	User, Password string
	HasUser        bool

	// XOAUTH2Token is an OAuth 2 bearer token; "" disables XOAUTH2.
	XOAUTH2Token string

	// TLS says the connection is TLS (amqps).
	TLS bool
	// ClientCert says a TLS client certificate was presented, which makes
	// EXTERNAL possible.
	ClientCert bool
	// AllowInsecure allows the mechanisms that send a reusable secret in
	// the clear (PLAIN, XOAUTH2) on a connection that is not TLS.
	AllowInsecure bool

	// Hostname is the server's host name: sent as the hostname of
	// sasl-init, and the host part of the GSSAPI service principal
	// (Kerberos.ServiceName/Hostname).
	Hostname string
	// VirtualHost, when set, is sent as the hostname of sasl-init instead
	// of Hostname (§5.3.3.1: the field exists for virtual hosting), as
	// Proton sends its connection's hostname there; the service principal
	// keeps the real host.
	VirtualHost string

	// Kerberos locates the GSSAPI credentials.
	Kerberos KerberosConfig
}

// KerberosConfig locates the Kerberos set-up for GSSAPI. Every zero field
// means the MIT Kerberos default, so a user who ran kinit needs nothing
// here.
type KerberosConfig struct {
	// ConfigPath is krb5.conf. "": $KRB5_CONFIG, else /etc/krb5.conf.
	ConfigPath string
	// CCache is the credential cache kinit filled ("FILE:path", a bare
	// path, "DIR:dir" or "DIR::path"). "": $KRB5CCNAME, else krb5.conf's
	// default_ccache_name, else FILE:/tmp/krb5cc_UID. FILE: and DIR:
	// caches only; KEYRING:, KCM: and the like are an error saying how to
	// use a FILE: cache.
	CCache string
	// Keytab and Principal ("alice" or "alice@REALM") log in with a
	// keytab instead of the credential cache. Both must be set.
	Keytab, Principal string
	// ServiceName is the service part of the server's principal.
	// "": "amqp".
	ServiceName string
}

// Result describes a successful negotiation.
type Result struct {
	// Mechanism is the mechanism that authenticated the connection.
	Mechanism string
}

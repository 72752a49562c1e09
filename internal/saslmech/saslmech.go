// Package saslmech is the one registry of SASL mechanisms the client
// (internal/sasl) and the server (package server) share: their names, and
// the order from strongest to weakest in which a client prefers them and a
// server offers them (reference 7.3: the strongest common one wins).
package saslmech

// The mechanism names (RFC 4422 and its companions).
const (
	External    = "EXTERNAL"
	GSSAPI      = "GSSAPI"
	SCRAMSHA512 = "SCRAM-SHA-512"
	SCRAMSHA256 = "SCRAM-SHA-256"
	SCRAMSHA1   = "SCRAM-SHA-1"
	XOAUTH2     = "XOAUTH2"
	Plain       = "PLAIN"
	Anonymous   = "ANONYMOUS"
)

// Mechanism is one entry of the registry.
type Mechanism struct {
	Name string
	// Client and Server say which side amq implements it for.
	Client, Server bool
	// Cleartext: the mechanism sends a reusable secret as it is, so a
	// client refuses it on a connection without TLS unless allowed.
	Cleartext bool
}

// All is the registry, strongest first.
var All = []Mechanism{
	{Name: External, Client: true, Server: true},
	{Name: GSSAPI, Client: true},
	{Name: SCRAMSHA512, Client: true, Server: true},
	{Name: SCRAMSHA256, Client: true, Server: true},
	{Name: SCRAMSHA1, Client: true, Server: true},
	{Name: XOAUTH2, Client: true, Cleartext: true},
	{Name: Plain, Client: true, Server: true, Cleartext: true},
	{Name: Anonymous, Client: true, Server: true},
}

// ClientNames lists the mechanisms the client runs, strongest first.
func ClientNames() []string { return names(func(m Mechanism) bool { return m.Client }) }

// ServerNames lists the mechanisms the server offers, strongest first.
func ServerNames() []string { return names(func(m Mechanism) bool { return m.Server }) }

func names(keep func(Mechanism) bool) []string {
	var out []string
	for _, m := range All {
		if keep(m) {
			out = append(out, m.Name)
		}
	}
	return out
}

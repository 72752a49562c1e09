package sasl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/amqgo/amq/internal/saslmech"
)

// ranking is every supported mechanism, strongest first. EXTERNAL and
// GSSAPI lead: each rests on a key the client holds (certificate, Kerberos
// key) and authenticates the server too. EXTERNAL goes first because its
// proof was already made in the TLS handshake. Then SCRAM (no password on
// the wire, server verified) by hash strength; then the mechanisms that send
// a reusable secret: a bearer token (scoped and revocable) before a password;
// ANONYMOUS last.
// The order is the shared registry's (internal/saslmech).
var ranking = saslmech.ClientNames()

// normalizeMechanisms upper-cases and checks Config.Mechanisms. An entry
// may hold several names separated by spaces, as the reference's
// allowed_mechs string does.
func normalizeMechanisms(in []string) ([]string, error) {
	var out []string
	for _, entry := range in {
		for _, m := range strings.Fields(entry) {
			m = strings.ToUpper(m)
			if !slices.Contains(ranking, m) {
				return nil, fmt.Errorf("sasl: unsupported mechanism %q in Mechanisms (supported: %s)", m, strings.Join(ranking, " "))
			}
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// choose picks the strongest mechanism the server offers, the client
// allows and the credentials make possible:
//   - EXTERNAL only with a client certificate;
//   - GSSAPI when listed explicitly, or when Kerberos credentials are found
//     (a user with only a password never tries it);
//   - SCRAM-* and PLAIN only with a user; XOAUTH2 only with a token;
//   - PLAIN and XOAUTH2 only on TLS or with AllowInsecure;
//   - ANONYMOUS when listed explicitly, or when no credentials were given
//     (a user who gave a password is not silently connected anonymously).
//
// allowed is the normalised Config.Mechanisms.
func choose(offered []string, allowed []string, cfg *Config) (mechanism, error) {
	var insecure string
	krb := lazyKerberos{cfg: &cfg.Kerberos}
	for _, m := range ranking {
		explicit := slices.Contains(allowed, m)
		if !slices.Contains(offered, m) || (len(allowed) > 0 && !explicit) {
			continue
		}
		cleartextOK := cfg.TLS || cfg.AllowInsecure
		switch m {
		case External:
			if cfg.ClientCert {
				return externalMech{}, nil
			}
		case GSSAPI:
			if explicit || krb.usable() == nil {
				return newGSSAPI(cfg, &krb), nil
			}
		case SCRAMSHA512, SCRAMSHA256, SCRAMSHA1:
			if cfg.HasUser {
				return newSCRAM(m, cfg.User, cfg.Password)
			}
		case XOAUTH2:
			if cfg.XOAUTH2Token == "" {
				continue
			}
			if !cleartextOK {
				insecure = firstNonEmpty(insecure, m)
				continue
			}
			return &xoauth2Mech{user: cfg.User, token: cfg.XOAUTH2Token}, nil
		case Plain:
			if !cfg.HasUser {
				continue
			}
			if !cleartextOK {
				insecure = firstNonEmpty(insecure, m)
				continue
			}
			return plainMech{user: cfg.User, password: cfg.Password}, nil
		case Anonymous:
			if explicit || (!cfg.HasUser && !cfg.ClientCert && cfg.XOAUTH2Token == "") {
				return anonymousMech{}, nil
			}
		}
	}
	if insecure != "" {
		return nil, &InsecureError{Mechanism: insecure}
	}
	return nil, &NoMechanismError{
		Offered:     slices.Clone(offered),
		Allowed:     slices.Clone(allowed),
		Credentials: describeCredentials(cfg, krb.usable()),
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// describeCredentials says what the client had, without any secret.
func describeCredentials(cfg *Config, krbErr error) string {
	var parts []string
	switch {
	case cfg.HasUser && cfg.Password != "":
		parts = append(parts, fmt.Sprintf("user %q with a password", cfg.User))
	case cfg.HasUser:
		parts = append(parts, fmt.Sprintf("user %q without a password", cfg.User))
	default:
		parts = append(parts, "no user")
	}
	if cfg.ClientCert {
		parts = append(parts, "a TLS client certificate")
	} else {
		parts = append(parts, "no TLS client certificate")
	}
	if cfg.XOAUTH2Token != "" {
		parts = append(parts, "an XOAUTH2 token")
	} else {
		parts = append(parts, "no XOAUTH2 token")
	}
	if krbErr == nil {
		parts = append(parts, "Kerberos credentials")
	} else {
		parts = append(parts, "no Kerberos credentials ("+krbErr.Error()+")")
	}
	if cfg.TLS {
		parts = append(parts, "TLS")
	} else {
		parts = append(parts, "no TLS")
	}
	return strings.Join(parts, ", ")
}

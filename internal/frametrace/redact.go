package frametrace

import (
	"strings"

	"github.com/amqgo/amq/internal/codec"
)

// redacted is printed in place of a field that may hold a credential.
const redacted = "<redacted>"

// redactField reports whether field i of the list-based composite with
// descriptor code must not be printed:
//
//   - the initial-response of a sasl-init (§5.3.3.2), unless the mechanism
//     is ANONYMOUS (trace information) or EXTERNAL (an authorization
//     identity): for PLAIN it is the password, for XOAUTH2 a bearer token,
//     for SCRAM the client-first message, for GSSAPI a Kerberos token, and
//     for a mechanism this package does not know it is assumed secret;
//   - the response of a sasl-response (§5.3.3.4): SCRAM's client-final
//     message with its proof, GSSAPI tokens, and the like.
//
// Challenges and outcomes carry nothing a client keeps secret.
func redactField(code uint64, i int, fields codec.List) bool {
	switch code {
	case codec.DescSASLInit:
		if i != 1 {
			return false
		}
		mech, _ := fields[0].(codec.Symbol)
		return !strings.EqualFold(string(mech), "ANONYMOUS") && !strings.EqualFold(string(mech), "EXTERNAL")
	case codec.DescSASLResponse:
		return i == 0
	}
	return false
}

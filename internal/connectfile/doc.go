// Package connectfile reads connect.json, the file-based connection
// configuration of reference chapter 13: the settings a client uses when it
// is asked to connect without a URL.
//
// # Where the file is looked for
//
// [SearchPaths] lists the candidates and [Find] picks the first that exists:
//
//   - $MESSAGING_CONNECT_FILE when that variable is set and not empty, and
//     then nothing else. Unlike Qpid Proton, which quietly falls back to an
//     empty configuration, a variable that names a missing file is an error.
//   - ./connect.json (the current working directory of the process)
//   - $HOME/.config/messaging/connect.json
//   - /etc/messaging/connect.json
//
// On Windows only %cd%\connect.json is searched after the variable, as the
// reference documents.
//
// # Format
//
// The file holds one JSON object. JavaScript comments (// and /* */) and
// trailing commas are allowed; the file is read with
// github.com/tailscale/hujson (JWCC: JSON With Commas and Comments), a
// superset of what Proton reads: Proton strips comments but refuses
// trailing commas. A leading UTF-8 byte order mark is ignored. Every key is
// optional, and a key set to null counts as absent. Keys are
// case-sensitive, and an unknown key at any level is an error, so that a
// typo such as "usr" or "verfy" cannot go unnoticed:
//
//	key                 type                 default      meaning
//	scheme              string               "amqps"      "amqp" for cleartext, "amqps" for TLS; "amqpws", "amqpwss" (amq's extension)
//	host                string               "localhost"  host name or IP address (IPv6 with or without brackets)
//	port                number or string     by scheme    1-65535, or "amqp" (5672) / "amqps" (5671)
//	path                string               "/"          amqpws and amqpwss only (amq's extension): the HTTP path
//	user                string               none         user name for authentication
//	password            string               none         password; used only together with user
//	sasl.enabled        boolean              true         false skips the SASL layer altogether
//	sasl.mechanisms     list or string       none         allowed SASL mechanisms; a string is space-separated
//	sasl.allow_insecure boolean              none         allow mechanisms that send a cleartext password
//	tls.cert            string               none         client certificate file (needs tls.key)
//	tls.key             string               none         private key of tls.cert (needs tls.cert)
//	tls.ca              string               none         CA certificate file or directory
//	tls.verify          boolean              true         require a valid server certificate matching the host
//
// The default port is 5671 for amqps, 5672 for amqp, 80 for amqpws and 443
// for amqpwss. An empty string for
// user, password, a mechanism list or a tls file counts as absent, as the
// reference treats it. File names are used as written: a relative one is
// relative to the process's working directory, not to the file.
//
// The schemes amqpws and amqpwss (AMQP over WebSockets, plain and over
// TLS) and the key path, the HTTP path of their upgrade request (starting
// with "/"), are amq's extension: Proton knows only amqp and amqps, and
// refuses a file with them. A path with amqp or amqps is an error.
//
// Two keys differ from Qpid Proton Python 0.37: sasl.allow_insecure is
// listed in the reference's table but ignored by Proton, while amq honours
// it; and Proton applies the tls section only to amqps, which this package
// leaves to its caller (it reports what the file says).
//
// # Errors
//
// Every problem is an [*Error] naming the file and, when it concerns the
// content, the line and column (1-based; columns count characters):
// syntax errors, values of the wrong type, unknown or repeated keys, an
// invalid scheme, host or port, tls.cert without tls.key or the reverse,
// and files that are missing, unreadable, larger than 1 MiB or holding more
// than 1000 '{' and '[' (the parser recurses on nesting). Errors never
// quote the password, nor any value that could carry one (a host pasted
// from a URL with credentials, a malformed literal, a stray character):
// they quote only key names, port numbers, scheme names and punctuation.
package connectfile

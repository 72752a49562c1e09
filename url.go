package amq

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// endpoint is one parsed connection URL (reference 6.1):
// scheme://[user[:password]@]host[:port], and for the WebSocket schemes
// scheme://[user[:password]@]host[:port][/path].
type endpoint struct {
	Scheme   string // "amqp", "amqps", "amqpws" or "amqpwss"
	Host     string // without brackets
	Port     string
	Path     string // amqpws(s) only: the HTTP path, escaped; "" for "/"
	User     string
	Password string
	HasUser  bool
}

// Addr is host:port, with brackets around an IPv6 host.
func (e endpoint) Addr() string { return net.JoinHostPort(e.Host, e.Port) }

// String is the URL without credentials, safe to log and to put in errors.
func (e endpoint) String() string { return e.Scheme + "://" + e.Addr() + e.Path }

// TLS reports whether the endpoint is amqps or amqpwss.
func (e endpoint) TLS() bool { return e.Scheme == "amqps" || e.Scheme == "amqpwss" }

// WebSocket reports whether the endpoint is amqpws or amqpwss: AMQP over
// WebSockets (websocket.go).
func (e endpoint) WebSocket() bool { return e.Scheme == "amqpws" || e.Scheme == "amqpwss" }

// parseURL parses a connection URL. A bare "host[:port]" means amqp. The
// default ports are 5672 (amqp), 5671 (amqps), 80 (amqpws) and 443
// (amqpwss); only the WebSocket schemes take a path, the HTTP path of the
// upgrade request. Errors name the part that is wrong and never contain
// the password.
func parseURL(raw string) (endpoint, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return endpoint{}, fmt.Errorf("amq: empty connection URL")
	}
	if !strings.Contains(s, "://") {
		if l := strings.ToLower(s); strings.HasPrefix(l, "amqp:") || strings.HasPrefix(l, "amqps:") ||
			strings.HasPrefix(l, "amqpws:") || strings.HasPrefix(l, "amqpwss:") {
			return endpoint{}, fmt.Errorf("amq: connection URL %q: missing // after the scheme", redactURL(raw))
		}
		s = "amqp://" + s
	}
	// The user information is split off first, up to the last "@" after
	// the scheme: a password may then hold "#", "/", "?" or "@" without
	// percent-encoding, and no error below can quote a piece of it.
	scheme, rest, _ := strings.Cut(s, "://")
	if strings.ContainsAny(scheme, "@:/") {
		return endpoint{}, fmt.Errorf("amq: connection URL %q: malformed scheme (the user and password go after the scheme, as in amqp://user:password@host)", redactURL(raw))
	}
	var ep endpoint
	// The same holds for the WebSocket schemes, whose path therefore
	// cannot hold a literal "@": it is written %40 there.
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, _ := strings.Cut(rest[:at], ":")
		ep.HasUser, ep.User, ep.Password = true, unescapeUserinfo(user), unescapeUserinfo(pass)
		rest = rest[at+1:]
	}
	u, err := url.Parse(scheme + "://" + rest)
	if err != nil {
		return endpoint{}, fmt.Errorf("amq: malformed connection URL %q: %v", redactURL(raw), unwrapURLError(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "amqp":
		ep.Scheme, ep.Port = "amqp", "5672"
	case "amqps":
		ep.Scheme, ep.Port = "amqps", "5671"
	case "amqpws":
		ep.Scheme, ep.Port = "amqpws", "80"
	case "amqpwss":
		ep.Scheme, ep.Port = "amqpwss", "443"
	default:
		return endpoint{}, fmt.Errorf("amq: connection URL %q: unsupported scheme %q (want amqp, amqps, amqpws or amqpwss)", redactURL(raw), u.Scheme)
	}
	if u.Opaque != "" {
		return endpoint{}, fmt.Errorf("amq: connection URL %q: missing // after the scheme", redactURL(raw))
	}
	switch {
	case ep.WebSocket():
		if p := u.EscapedPath(); p != "/" {
			ep.Path = p
		}
	case u.Path != "" && u.Path != "/":
		return endpoint{}, fmt.Errorf("amq: connection URL %q: unexpected path %q (the address goes to NewSender/NewReceiver, not the URL; only amqpws:// and amqpwss:// URLs have a path)", redactURL(raw), u.Path)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("amq: connection URL %q: query and fragment are not supported", redactURL(raw))
	}
	ep.Host = u.Hostname()
	if ep.Host == "" {
		return endpoint{}, fmt.Errorf("amq: connection URL %q: missing host", redactURL(raw))
	}
	if strings.Contains(u.Host, "[") != strings.Contains(ep.Host, ":") {
		return endpoint{}, fmt.Errorf("amq: connection URL %q: an IPv6 host must be in brackets, like amqp://[::1]:5672", redactURL(raw))
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return endpoint{}, fmt.Errorf("amq: connection URL %q: invalid port %q (want 1-65535)", redactURL(raw), p)
		}
		ep.Port = p
	} else if strings.HasSuffix(u.Host, ":") {
		return endpoint{}, fmt.Errorf("amq: connection URL %q: empty port", redactURL(raw))
	}
	return ep, nil
}

// unescapeUserinfo percent-decodes a user name or password ("%40" is
// "@"). One that is not valid percent-encoding ("50%off") is taken as
// written rather than refused: it can only be meant literally.
func unescapeUserinfo(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// redactURL hides the password of a URL so it can go into an error: what
// lies between the first ":" of the user information and the last "@",
// as parseURL reads it. It never fails, whatever raw is.
func redactURL(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i+3 <= at {
		start = i + 3
	}
	colon := strings.Index(raw[start:at], ":")
	if colon < 0 {
		return raw
	}
	return raw[:start+colon] + ":xxxxx" + raw[at:]
}

// unwrapURLError drops net/url's "parse URL:" prefix, which would repeat
// the (unredacted) URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

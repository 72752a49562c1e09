package connectfile

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tailscale/hujson"
)

// The keys of reference 13.3, by section. Keys are matched exactly, as
// Proton's dictionary look-ups match them.
var (
	rootKeys = []string{"scheme", "host", "port", "path", "user", "password", "sasl", "tls"}
	saslKeys = []string{"enabled", "mechanisms", "allow_insecure"}
	tlsKeys  = []string{"cert", "key", "ca", "verify"}
)

// decoder turns the syntax tree of a connect.json into a File. It reports
// the first problem in file order.
type decoder struct {
	path string
	src  []byte
}

func (d *decoder) errorAt(off int, format string, args ...any) *Error {
	line, col := position(d.src, off)
	return &Error{Path: d.path, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) file(root *hujson.Value) (*File, error) {
	f := &File{
		Path:   d.path,
		Scheme: "amqps",
		Host:   "localhost",
		SASL:   SASLConfig{Enabled: true},
		TLS:    TLSConfig{Verify: true},
	}
	if root.Value.Kind() != '{' {
		return nil, d.errorAt(root.StartOffset, "the file must hold a JSON object ({ ... }), not %s", kindName(root.Value))
	}
	var password string
	pathAt := -1
	err := d.object(root, "", rootKeys, func(key string, v *hujson.Value) error {
		var err error
		switch key {
		case "scheme":
			f.Scheme, err = d.scheme(v)
		case "host":
			f.Host, err = d.host(v)
		case "port":
			f.Port, err = d.port(v)
		case "path":
			f.HTTPPath, err = d.httpPath(v)
			pathAt = v.StartOffset
		case "user":
			f.User, err = d.string(v, key)
		case "password":
			password, err = d.string(v, key)
		case "sasl":
			err = d.sasl(v, &f.SASL)
		case "tls":
			err = d.tls(v, &f.TLS)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	ws := f.Scheme == "amqpws" || f.Scheme == "amqpwss"
	if pathAt >= 0 && !ws {
		return nil, d.errorAt(pathAt, "path is only for the schemes \"amqpws\" and \"amqpwss\" (AMQP over WebSockets), not %q", f.Scheme)
	}
	if f.Port == 0 {
		switch f.Scheme {
		case "amqp":
			f.Port = portAMQP
		case "amqpws":
			f.Port = portAMQPWS
		case "amqpwss":
			f.Port = portAMQPWSS
		default:
			f.Port = portAMQPS
		}
	}
	// Proton tests both with Python truthiness: an empty user is no user,
	// and a password without a user is dropped.
	f.HasUser = f.User != ""
	if f.HasUser {
		f.Password = password
	}
	return f, nil
}

// object calls set for each member of the object v in file order, after
// rejecting unknown and repeated keys. Members set to null are skipped:
// null means absent, as dict.get makes it in the reference.
func (d *decoder) object(v *hujson.Value, prefix string, known []string, set func(key string, v *hujson.Value) error) error {
	obj, ok := v.Value.(*hujson.Object)
	if !ok {
		return d.typeError(v, strings.TrimSuffix(prefix, "."), "an object")
	}
	seen := make(map[string]int, len(obj.Members))
	for i := range obj.Members {
		m := &obj.Members[i]
		name := m.Name.Value.(hujson.Literal).String()
		if !slices.Contains(known, name) {
			return d.errorAt(m.Name.StartOffset, "unknown key %q%s", prefix+name, suggest(prefix, name))
		}
		if first, dup := seen[name]; dup {
			line, _ := position(d.src, first)
			return d.errorAt(m.Name.StartOffset, "key %q appears twice (first on line %d)", prefix+name, line)
		}
		seen[name] = m.Name.StartOffset
		if m.Value.Value.Kind() == 'n' {
			continue
		}
		if err := set(name, &m.Value); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) sasl(v *hujson.Value, s *SASLConfig) error {
	return d.object(v, "sasl.", saslKeys, func(key string, v *hujson.Value) error {
		var err error
		switch key {
		case "enabled":
			s.Enabled, err = d.bool(v, "sasl.enabled")
		case "mechanisms":
			s.Mechanisms, err = d.mechanisms(v)
		case "allow_insecure":
			var b bool
			b, err = d.bool(v, "sasl.allow_insecure")
			s.AllowInsecure = &b
		}
		return err
	})
}

func (d *decoder) tls(v *hujson.Value, t *TLSConfig) error {
	var certAt, keyAt int
	err := d.object(v, "tls.", tlsKeys, func(key string, v *hujson.Value) error {
		var err error
		switch key {
		case "cert":
			t.Cert, err = d.string(v, "tls.cert")
			certAt = v.StartOffset
		case "key":
			t.Key, err = d.string(v, "tls.key")
			keyAt = v.StartOffset
		case "ca":
			t.CA, err = d.string(v, "tls.ca")
		case "verify":
			t.Verify, err = d.bool(v, "tls.verify")
		}
		return err
	})
	switch {
	case err != nil:
		return err
	// Proton silently drops a certificate without its key (and the reverse)
	// and connects without a client certificate; that surfaces much later as
	// an authentication failure on the broker, far from the cause.
	case t.Cert != "" && t.Key == "":
		return d.errorAt(certAt, "tls.cert is set but tls.key is not: a client certificate needs its private key")
	case t.Key != "" && t.Cert == "":
		return d.errorAt(keyAt, "tls.key is set but tls.cert is not: a private key needs its client certificate")
	}
	return nil
}

func (d *decoder) string(v *hujson.Value, key string) (string, error) {
	if v.Value.Kind() != '"' {
		return "", d.typeError(v, key, "a string")
	}
	return v.Value.(hujson.Literal).String(), nil
}

func (d *decoder) bool(v *hujson.Value, key string) (bool, error) {
	if k := v.Value.Kind(); k != 't' && k != 'f' {
		return false, d.typeError(v, key, "a boolean (true or false)")
	}
	return v.Value.(hujson.Literal).Bool(), nil
}

// typeError never shows the value: it may be a password.
func (d *decoder) typeError(v *hujson.Value, key, want string) error {
	return d.errorAt(v.StartOffset, "%s must be %s, not %s", key, want, kindName(v.Value))
}

func kindName(v hujson.ValueTrimmed) string {
	switch v.Kind() {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "nothing"
}

func (d *decoder) scheme(v *hujson.Value) (string, error) {
	s, err := d.string(v, "scheme")
	if err != nil {
		return "", err
	}
	switch l := strings.ToLower(s); l {
	case "amqp", "amqps", "amqpws", "amqpwss":
		return l, nil
	}
	// Quote the value only when it looks like a scheme, not like a URL
	// with credentials in it.
	if s == "" || len(s) > 16 || strings.Trim(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz0123456789+-.") != "" {
		return "", d.errorAt(v.StartOffset, "scheme must be \"amqp\", \"amqps\", \"amqpws\" or \"amqpwss\"")
	}
	return "", d.errorAt(v.StartOffset, "scheme %q is not supported (want \"amqp\", \"amqps\", \"amqpws\" or \"amqpwss\")", s)
}

// httpPath accepts the HTTP path of an amqpws(s) URL: it starts with "/" and
// holds no query, fragment or control character. "/" alone is no path.
// Errors do not quote the value, which could be a URL pasted whole.
func (d *decoder) httpPath(v *hujson.Value) (string, error) {
	p, err := d.string(v, "path")
	if err != nil {
		return "", err
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", d.errorAt(v.StartOffset, "path must start with \"/\"")
	case strings.ContainsAny(p, "?#\\ ") || strings.IndexFunc(p, notPrintable) >= 0:
		return "", d.errorAt(v.StartOffset, "path must be a URL path, without spaces, query (?) or fragment (#)")
	}
	if p == "/" {
		return "", nil
	}
	return p, nil
}

// host accepts a host name, an IPv4 address or an IPv6 address with or
// without brackets (and a zone). Errors do not quote the value: a host
// pasted from a URL can carry user:password@.
func (d *decoder) host(v *hujson.Value) (string, error) {
	h, err := d.string(v, "host")
	if err != nil {
		return "", err
	}
	bad := func(why string) (string, error) {
		return "", d.errorAt(v.StartOffset, "host %s", why)
	}
	if _, p, err := net.SplitHostPort(h); err == nil && p != "" && !strings.ContainsAny(h, "/@") {
		return bad("includes a port; give it in \"port\"")
	}
	switch {
	case h == "":
		return bad("is empty (leave it out for localhost)")
	case strings.Contains(h, "://"):
		return bad("is a URL; give only the host name, and the rest in scheme, port, user and password")
	case strings.ContainsAny(h, " /?#@\\") || strings.IndexFunc(h, notPrintable) >= 0:
		return bad("is not a host name or IP address")
	}
	inner := h
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		inner = h[1 : len(h)-1]
		if !strings.Contains(inner, ":") {
			return bad("has brackets, which are only for an IPv6 address")
		}
	} else if strings.ContainsAny(h, "[]") {
		return bad("is not a host name or IP address")
	}
	if strings.Contains(inner, ":") {
		addr, zone, _ := strings.Cut(inner, "%") // zone, as in fe80::1%eth0
		if net.ParseIP(addr) == nil || strings.Contains(zone, "%") {
			return bad("is not a valid IPv6 address")
		}
	} else if strings.IndexFunc(inner, notHostNameChar) >= 0 {
		return bad("is not a host name or IP address")
	}
	// The last word goes to net/url, which the client parses File.URL with.
	u, err := url.Parse((&url.URL{Scheme: "amqp", Host: net.JoinHostPort(inner, "1")}).String())
	if err != nil || u.Hostname() != inner {
		return bad("is not a host name or IP address")
	}
	return inner, nil
}

func notPrintable(r rune) bool { return r == utf8.RuneError || !unicode.IsPrint(r) }

// notHostNameChar: names are letters (internationalised names too),
// digits, '-' and '.'; '_' is let through for the many internal names that
// use it.
func notHostNameChar(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '.' && r != '_'
}

// port accepts what Proton's Url.Port accepts, less service names from
// /etc/services other than the two the reference names: a number, a string
// of digits, "amqp" or "amqps".
func (d *decoder) port(v *hujson.Value) (int, error) {
	var text string
	switch v.Value.Kind() {
	case '0':
		text = string(v.Value.(hujson.Literal))
	case '"':
		text = v.Value.(hujson.Literal).String()
		switch strings.ToLower(text) {
		case "amqp":
			return portAMQP, nil
		case "amqps":
			return portAMQPS, nil
		}
		if text == "" || strings.Trim(text, "0123456789") != "" {
			// Not quoted: only digits are safe to show.
			return 0, d.errorAt(v.StartOffset, "port must be a number, \"amqp\" or \"amqps\"")
		}
	default:
		return 0, d.typeError(v, "port", "a number or a string")
	}
	n, err := strconv.Atoi(text)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, d.errorAt(v.StartOffset, "port %s is out of range (1-65535)", text)
	case err != nil:
		return 0, d.errorAt(v.StartOffset, "port %s is not a whole number", text)
	case n < 1 || n > 65535:
		return 0, d.errorAt(v.StartOffset, "port %d is out of range (1-65535)", n)
	}
	return n, nil
}

// mechanisms takes a list of names or one string of space-separated names,
// as Proton's allowed_mechs does. Names are checked against RFC 4422's
// grammar so that a comma-separated string is caught here rather than
// refused by the broker.
func (d *decoder) mechanisms(v *hujson.Value) ([]string, error) {
	var out []string
	add := func(v *hujson.Value) error {
		for name := range strings.FieldsSeq(v.Value.(hujson.Literal).String()) {
			if c, ok := badMechanismChar(name); ok {
				return d.errorAt(v.StartOffset, "sasl.mechanisms: %s is not a SASL mechanism name (1 to 20 letters, digits, '-' and '_'; separate names with spaces)", describeMechanism(name, c))
			}
			out = append(out, name)
		}
		return nil
	}
	switch v.Value.Kind() {
	case '"':
		if err := add(v); err != nil {
			return nil, err
		}
	case '[':
		for i := range v.Value.(*hujson.Array).Elements {
			e := &v.Value.(*hujson.Array).Elements[i]
			if e.Value.Kind() != '"' {
				return nil, d.typeError(e, fmt.Sprintf("sasl.mechanisms[%d]", i), "a string")
			}
			if err := add(e); err != nil {
				return nil, err
			}
		}
	default:
		return nil, d.typeError(v, "sasl.mechanisms", "a list of strings or a string")
	}
	return out, nil
}

// badMechanismChar checks a name against RFC 4422 section 3.1: 1 to 20
// characters from A-Z, 0-9, '-' and '_'. It reports the first character
// outside that set, or 0 for a name that is too long. Lower case is let
// through; matching is the SASL layer's business.
func badMechanismChar(s string) (byte, bool) {
	for _, c := range []byte(s) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return c, true
		}
	}
	return 0, len(s) > 20
}

// describeMechanism names a bad mechanism without quoting what could be
// a secret in the wrong place: names made of the allowed characters are
// safe to show, otherwise only a punctuation character is shown.
func describeMechanism(name string, c byte) string {
	switch {
	case c == 0:
		return "a name longer than 20 characters"
	case strings.IndexByte(",;:/|+", c) >= 0:
		return fmt.Sprintf("a name with %q in it", rune(c))
	}
	return "a name with an invalid character"
}

// suggest names the key the user probably meant: the same key in another
// section, a different case, or a near spelling.
func suggest(prefix, name string) string {
	for _, sec := range []struct {
		prefix string
		keys   []string
	}{{"", rootKeys}, {"sasl.", saslKeys}, {"tls.", tlsKeys}} {
		if sec.prefix != prefix && slices.Contains(sec.keys, name) {
			return fmt.Sprintf(" (did you mean %q?)", sec.prefix+name)
		}
	}
	known := rootKeys
	switch prefix {
	case "sasl.":
		known = saslKeys
	case "tls.":
		known = tlsKeys
	}
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return fmt.Sprintf(" (keys are lower case: %q)", prefix+k)
		}
		if dist := editDistance(strings.ToLower(name), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", prefix+best)
	}
	want := make([]string, len(known))
	for i, k := range known {
		want[i] = strconv.Quote(prefix + k)
	}
	return " (known keys: " + strings.Join(want, ", ") + ")"
}

// editDistance is the Levenshtein distance, for short keys.
func editDistance(a, b string) int {
	if len(a) > 64 {
		return len(a) // not worth comparing
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

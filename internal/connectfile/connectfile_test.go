package connectfile

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// defaults is what an empty {} gives.
func defaults(path string) *File {
	return &File{
		Path:   path,
		Scheme: "amqps",
		Host:   "localhost",
		Port:   5671,
		SASL:   SASLConfig{Enabled: true},
		TLS:    TLSConfig{Verify: true},
	}
}

// dump shows every field, the password included, which File.String hides.
func dump(f *File) string {
	if f == nil {
		return "<nil>"
	}
	ai := "nil"
	if f.SASL.AllowInsecure != nil {
		ai = fmt.Sprint(*f.SASL.AllowInsecure)
	}
	return fmt.Sprintf("{Path:%q Scheme:%q Host:%q Port:%d User:%q Password:%q HasUser:%v SASL:{Mechanisms:%q Enabled:%v AllowInsecure:%s} TLS:%+v}",
		f.Path, f.Scheme, f.Host, f.Port, f.User, f.Password, f.HasUser, f.SASL.Mechanisms, f.SASL.Enabled, ai, f.TLS)
}

func ptr[T any](v T) *T { return &v }

func TestReferenceExamples(t *testing.T) {
	// Reference 13.2, the two example files, loaded as the reference
	// describes them: amqps to example.com:5671 (scheme and port default),
	// the user and password, the mechanism list, the client certificate.
	tests := []struct {
		file string
		want func(*File)
	}{
		{"reference-13.2-simple.json", func(f *File) {
			f.Host, f.User, f.Password, f.HasUser = "example.com", "alice", "secret", true
		}},
		{"reference-13.2-sasl-tls.json", func(f *File) {
			f.Host, f.User, f.Password, f.HasUser = "example.com", "ortega", "secret", true
			f.SASL.Mechanisms = []string{"SCRAM-SHA-1", "SCRAM-SHA-256"}
			f.TLS.Cert, f.TLS.Key = "/home/ortega/cert.pem", "/home/ortega/key.pem"
		}},
		{"every-key.json", func(f *File) {
			f.Scheme, f.Host, f.Port = "amqp", "broker.example.net", 5671
			f.User, f.Password, f.HasUser = "bob", "p@ss // not a comment /* nor this */", true
			f.SASL = SASLConfig{Enabled: true, Mechanisms: []string{"SCRAM-SHA-256", "PLAIN"}, AllowInsecure: ptr(true)}
			f.TLS = TLSConfig{Cert: "certs/client.pem", Key: "certs/client-key.pem", CA: "/etc/ssl/certs", Verify: false}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			got, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := defaults(path)
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load(%s)\n got %s\nwant %s", tt.file, dump(got), dump(want))
			}
		})
	}
	f, err := Load(filepath.Join("testdata", "reference-13.2-simple.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.URL(), "amqps://example.com:5671"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}

// TestParseKeys covers every key of reference 13.3, each form of value it
// takes, and its default.
func TestParseKeys(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(*File)
	}{
		{"empty object", `{}`, func(*File) {}},
		{"comments and trailing commas", "// c\n{ /* c */ \"host\": \"h\", // c\n}\n/* end */", func(f *File) { f.Host = "h" }},
		{"comment on the last line", "{\"host\": \"h\"} // no newline after it", func(f *File) { f.Host = "h" }},
		{"block comment last", "{\"host\": \"h\"} /* end */", func(f *File) { f.Host = "h" }},
		{"CRLF line ends", "{\r\n\"host\": \"h\", // c\r\n}\r\n", func(f *File) { f.Host = "h" }},
		{"byte order mark", "\uFEFF{\"host\": \"h\"}", func(f *File) { f.Host = "h" }},
		{"null means absent", `{"scheme": null, "host": null, "port": null, "user": null, "password": null,
			"sasl": {"enabled": null, "mechanisms": null, "allow_insecure": null}, "tls": {"cert": null, "key": null, "ca": null, "verify": null}}`, func(*File) {}},
		{"null sections", `{"sasl": null, "tls": null}`, func(*File) {}},
		{"empty sections", `{"sasl": {}, "tls": {}}`, func(*File) {}},

		{"scheme amqp, default port 5672", `{"scheme": "amqp"}`, func(f *File) { f.Scheme, f.Port = "amqp", 5672 }},
		{"scheme amqps", `{"scheme": "amqps"}`, func(*File) {}},
		{"scheme upper case", `{"scheme": "AMQP"}`, func(f *File) { f.Scheme, f.Port = "amqp", 5672 }},
		{"scheme after port keeps the port", `{"port": 1234, "scheme": "amqp"}`, func(f *File) { f.Scheme, f.Port = "amqp", 1234 }},

		{"host name", `{"host": "example.com"}`, func(f *File) { f.Host = "example.com" }},
		{"host IPv4", `{"host": "192.0.2.7"}`, func(f *File) { f.Host = "192.0.2.7" }},
		{"host IPv6", `{"host": "2001:db8::1"}`, func(f *File) { f.Host = "2001:db8::1" }},
		{"host IPv6 in brackets", `{"host": "[::1]"}`, func(f *File) { f.Host = "::1" }},
		{"host internationalised", `{"host": "bücher.example"}`, func(f *File) { f.Host = "bücher.example" }},
		{"host with underscore", `{"host": "mq_1.internal"}`, func(f *File) { f.Host = "mq_1.internal" }},
		{"host IPv6 with zone", `{"host": "fe80::1%eth0"}`, func(f *File) { f.Host = "fe80::1%eth0" }},

		{"port number", `{"port": 5673}`, func(f *File) { f.Port = 5673 }},
		{"port 1", `{"port": 1}`, func(f *File) { f.Port = 1 }},
		{"port 65535", `{"port": 65535}`, func(f *File) { f.Port = 65535 }},
		{"port digit string", `{"port": "5673"}`, func(f *File) { f.Port = 5673 }},
		{"port literal amqp", `{"port": "amqp"}`, func(f *File) { f.Port = 5672 }},
		{"port literal amqps", `{"scheme": "amqp", "port": "amqps"}`, func(f *File) { f.Scheme, f.Port = "amqp", 5671 }},

		{"user and password", `{"user": "alice", "password": "secret"}`, func(f *File) { f.User, f.Password, f.HasUser = "alice", "secret", true }},
		{"user alone", `{"user": "alice"}`, func(f *File) { f.User, f.HasUser = "alice", true }},
		{"password without user is ignored", `{"password": "secret"}`, func(*File) {}},
		{"empty user counts as none", `{"user": "", "password": "secret"}`, func(*File) {}},
		{"user with empty password", `{"user": "alice", "password": ""}`, func(f *File) { f.User, f.HasUser = "alice", true }},
		{"unicode and escapes", `{"user": "J\u00fcrgen", "password": "a\"b\\c"}`, func(f *File) { f.User, f.Password, f.HasUser = "Jürgen", `a"b\c`, true }},

		{"sasl.enabled false", `{"sasl": {"enabled": false}}`, func(f *File) { f.SASL.Enabled = false }},
		{"sasl.enabled true", `{"sasl": {"enabled": true}}`, func(*File) {}},
		{"sasl.mechanisms list", `{"sasl": {"mechanisms": ["PLAIN", "ANONYMOUS"]}}`, func(f *File) { f.SASL.Mechanisms = []string{"PLAIN", "ANONYMOUS"} }},
		{"sasl.mechanisms bare string", `{"sasl": {"mechanisms": "EXTERNAL"}}`, func(f *File) { f.SASL.Mechanisms = []string{"EXTERNAL"} }},
		{"sasl.mechanisms space-separated", `{"sasl": {"mechanisms": " SCRAM-SHA-512  XOAUTH2 "}}`, func(f *File) { f.SASL.Mechanisms = []string{"SCRAM-SHA-512", "XOAUTH2"} }},
		{"sasl.mechanisms list element with spaces", `{"sasl": {"mechanisms": ["PLAIN ANONYMOUS", "GSSAPI"]}}`, func(f *File) { f.SASL.Mechanisms = []string{"PLAIN", "ANONYMOUS", "GSSAPI"} }},
		{"sasl.mechanisms empty list", `{"sasl": {"mechanisms": []}}`, func(*File) {}},
		{"sasl.mechanisms empty string", `{"sasl": {"mechanisms": ""}}`, func(*File) {}},
		{"sasl.allow_insecure true", `{"sasl": {"allow_insecure": true}}`, func(f *File) { f.SASL.AllowInsecure = ptr(true) }},
		{"sasl.allow_insecure false", `{"sasl": {"allow_insecure": false}}`, func(f *File) { f.SASL.AllowInsecure = ptr(false) }},

		{"tls.cert and tls.key", `{"tls": {"cert": "c.pem", "key": "k.pem"}}`, func(f *File) { f.TLS.Cert, f.TLS.Key = "c.pem", "k.pem" }},
		{"tls.ca", `{"tls": {"ca": "ca.pem"}}`, func(f *File) { f.TLS.CA = "ca.pem" }},
		{"tls.verify false", `{"tls": {"verify": false}}`, func(f *File) { f.TLS.Verify = false }},
		{"tls.verify true", `{"tls": {"verify": true}}`, func(*File) {}},
		{"tls with scheme amqp is kept", `{"scheme": "amqp", "tls": {"ca": "ca.pem"}}`, func(f *File) { f.Scheme, f.Port, f.TLS.CA = "amqp", 5672, "ca.pem" }},
		{"empty tls.cert and tls.key count as none", `{"tls": {"cert": "", "key": ""}}`, func(*File) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("connect.json", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := defaults("connect.json")
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%s)\n got %s\nwant %s", tt.in, dump(got), dump(want))
			}
		})
	}
}

// errorCases are files that must be refused, with where and why. Every one
// also has a password, which must not show up in the error.
var errorCases = []struct {
	name      string
	in        string
	line, col int
	msg       string // a part of Error.Msg
}{
	// syntax
	{"empty file", ``, 1, 1, "syntax error: unexpected end of file"},
	{"only a comment", `// nothing`, 1, 11, "unexpected end of file"},
	{"unclosed object", "{\n  \"host\": \"h\",\n", 3, 1, "unexpected end of file"},
	{"unterminated string", `{"host": "h`, 1, 12, "unterminated string"},
	{"unterminated comment", "{ /* \"host\": \"h\" }", 1, 3, "unterminated /* comment */"},
	{"missing comma", "{\n  \"user\": \"u\"\n  \"password\": \"SECRETPW\"\n}", 3, 3, "(a comma missing?)"},
	{"single quotes", `{'host': 'h'}`, 1, 2, "JSON strings take double quotes"},
	{"equals sign", `{"host" = "h"}`, 1, 9, "use ':' between a key and its value"},
	{"unquoted value", "{\n\t\"password\": SECRETPW\n}", 2, 14, "invalid value"},
	{"bad escape", `{"password": "SECRET\qPW"}`, 1, 14, "invalid string"},
	{"raw tab in string", "{\"password\": \"SECRET\tPW\"}", 1, 14, "invalid string"},
	{"text after the object", `{"password": "SECRETPW"} SECRETPW`, 1, 26, "unexpected character after top-level value"},
	{"missing value", `{"password": }`, 1, 14, "unexpected '}' at start of value"},
	{"columns count characters", "{\"user\": \"Jürgen\",\n \"host\": \"hé\" \"port\": 1}", 2, 15, "syntax error"},
	{"too many brackets", strings.Repeat("[", maxBrackets+1), 1, maxBrackets + 1, "more than 1000 '{' and '['"},

	// shape and types
	{"top level array", ` ["SECRETPW"]`, 1, 2, "the file must hold a JSON object ({ ... }), not an array"},
	{"top level string", `"SECRETPW"`, 1, 1, "not a string"},
	{"scheme number", `{"scheme": 1}`, 1, 12, "scheme must be a string, not a number"},
	{"host boolean", `{"host": false}`, 1, 10, "host must be a string, not a boolean"},
	{"port boolean", `{"port": true}`, 1, 10, "port must be a number or a string, not a boolean"},
	{"port object", `{"port": {}}`, 1, 10, "port must be a number or a string, not an object"},
	{"user number", `{"user": 5}`, 1, 10, "user must be a string, not a number"},
	{"password number", `{"user": "u", "password": 12345678}`, 1, 27, "password must be a string, not a number"},
	{"password list", `{"user": "u", "password": ["SECRETPW"]}`, 1, 27, "password must be a string, not an array"},
	{"sasl array", `{"sasl": []}`, 1, 10, "sasl must be an object, not an array"},
	{"sasl string", `{"sasl": "PLAIN"}`, 1, 10, "sasl must be an object, not a string"},
	{"sasl.enabled string", `{"sasl": {"enabled": "false"}}`, 1, 22, "sasl.enabled must be a boolean (true or false), not a string"},
	{"sasl.allow_insecure number", `{"sasl": {"allow_insecure": 1}}`, 1, 29, "sasl.allow_insecure must be a boolean"},
	{"sasl.mechanisms number", `{"sasl": {"mechanisms": 1}}`, 1, 25, "sasl.mechanisms must be a list of strings or a string, not a number"},
	{"sasl.mechanisms element", `{"sasl": {"mechanisms": ["PLAIN", null]}}`, 1, 35, "sasl.mechanisms[1] must be a string, not null"},
	{"sasl.mechanisms commas", `{"sasl": {"mechanisms": "PLAIN,ANONYMOUS"}}`, 1, 25, `sasl.mechanisms: a name with ',' in it is not a SASL mechanism name`},
	{"sasl.mechanisms too long", `{"sasl": {"mechanisms": ["ABCDEFGHIJKLMNOPQRSTU"]}}`, 1, 26, "a name longer than 20 characters"},
	{"sasl.mechanisms odd character", `{"sasl": {"mechanisms": "PL@IN"}}`, 1, 25, "a name with an invalid character"},
	{"tls array", `{"tls": ["a"]}`, 1, 9, "tls must be an object, not an array"},
	{"tls.cert number", `{"tls": {"cert": 1, "key": "k"}}`, 1, 18, "tls.cert must be a string, not a number"},
	{"tls.key boolean", `{"tls": {"key": true}}`, 1, 17, "tls.key must be a string, not a boolean"},
	{"tls.ca object", `{"tls": {"ca": {}}}`, 1, 16, "tls.ca must be a string, not an object"},
	{"tls.verify string", `{"tls": {"verify": "no"}}`, 1, 20, "tls.verify must be a boolean (true or false), not a string"},

	// keys
	{"unknown key usr", "{\n  \"usr\": \"alice\",\n  \"password\": \"SECRETPW\"\n}", 2, 3, `unknown key "usr" (did you mean "user"?)`},
	{"unknown key tls.verfy", "{\n  \"tls\": {\n    \"verfy\": false\n  }\n}", 3, 5, `unknown key "tls.verfy" (did you mean "tls.verify"?)`},
	{"unknown key sasl.mechs", `{"sasl": {"mechs": "PLAIN"}}`, 1, 11, `unknown key "sasl.mechs"`},
	{"key in the wrong section", `{"mechanisms": ["PLAIN"]}`, 1, 2, `unknown key "mechanisms" (did you mean "sasl.mechanisms"?)`},
	{"key in the wrong section 2", `{"tls": {"user": "u"}}`, 1, 10, `unknown key "tls.user" (did you mean "user"?)`},
	{"key in upper case", `{"Host": "h"}`, 1, 2, `unknown key "Host" (keys are lower case: "host")`},
	{"unknown key far from any", `{"virtual_host": "h"}`, 1, 2, `unknown key "virtual_host" (known keys: "scheme", "host"`},
	{"unknown key set to null", `{"usr": null}`, 1, 2, `unknown key "usr"`},
	{"repeated key", "{\"password\": \"SECRETPW\",\n\"password\": \"SECRETPW\"}", 2, 1, `key "password" appears twice (first on line 1)`},
	{"repeated key in section", `{"tls": {"ca": "a", "ca": "b"}}`, 1, 21, `key "tls.ca" appears twice`},

	// values
	{"tls.cert without tls.key", "{\"tls\": {\n  \"cert\": \"c.pem\"\n}}", 2, 11, "tls.cert is set but tls.key is not"},
	{"tls.key without tls.cert", `{"tls": {"key": "k.pem", "cert": ""}}`, 1, 17, "tls.key is set but tls.cert is not"},
	{"scheme http", `{"scheme": "http"}`, 1, 12, `scheme "http" is not supported (want "amqp", "amqps", "amqpws" or "amqpwss")`},
	{"scheme with colon slashes", `{"scheme": "amqps://u:SECRETPW@h"}`, 1, 12, `scheme must be "amqp", "amqps", "amqpws" or "amqpwss"`},
	{"scheme empty", `{"scheme": ""}`, 1, 12, `scheme must be "amqp", "amqps", "amqpws" or "amqpwss"`},
	{"port 0", `{"port": 0}`, 1, 10, "port 0 is out of range (1-65535)"},
	{"port 65536", `{"port": 65536}`, 1, 10, "port 65536 is out of range"},
	{"port negative", `{"port": -5672}`, 1, 10, "port -5672 is out of range"},
	{"port huge", `{"port": 99999999999999999999999}`, 1, 10, "is out of range"},
	{"port fraction", `{"port": 5672.5}`, 1, 10, "port 5672.5 is not a whole number"},
	{"port exponent", `{"port": 5e3}`, 1, 10, "port 5e3 is not a whole number"},
	{"port string out of range", `{"port": "70000"}`, 1, 10, "port 70000 is out of range"},
	{"port service name", `{"port": "http"}`, 1, 10, `port must be a number, "amqp" or "amqps"`},
	{"port empty string", `{"port": ""}`, 1, 10, `port must be a number, "amqp" or "amqps"`},
	{"port signed string", `{"port": "+5672"}`, 1, 10, `port must be a number, "amqp" or "amqps"`},
	{"host empty", `{"host": ""}`, 1, 10, "host is empty"},
	{"host URL", `{"host": "amqps://example.com"}`, 1, 10, "is a URL"},
	{"host with port", `{"host": "example.com:5672"}`, 1, 10, `includes a port; give it in "port"`},
	{"host IPv6 with port", `{"host": "[::1]:5672"}`, 1, 10, "includes a port"},
	{"host with space", `{"host": "example .com"}`, 1, 10, "is not a host name or IP address"},
	{"host with user", `{"host": "alice@example.com"}`, 1, 10, "is not a host name or IP address"},
	{"host bracketed name", `{"host": "[example.com]"}`, 1, 10, "brackets, which are only for an IPv6 address"},
	{"host bad IPv6", `{"host": "1:2:3:4:5:6:7:8:9"}`, 1, 10, "is not a valid IPv6 address"},
	{"host control character", "{\"host\": \"a\\u007fb\"}", 1, 10, "is not a host name or IP address"},
	{"host NUL", `{"host": "a\u0000b"}`, 1, 10, "is not a host name or IP address"},
	{"host quote", `{"host": "a\"b"}`, 1, 10, "is not a host name or IP address"},
	{"host percent", `{"host": "a%b"}`, 1, 10, "is not a host name or IP address"},
	{"host escaped zone", `{"host": "fe80::1%25eth0%"}`, 1, 10, "is not a valid IPv6 address"},
	{"host half bracket", `{"host": "[::1"}`, 1, 10, "is not a host name or IP address"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("/etc/messaging/connect.json", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want an error", tt.in, dump(f))
			}
			if f != nil {
				t.Errorf("Parse returned a File with its error: %s", dump(f))
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			if e.Path != "/etc/messaging/connect.json" || e.Line != tt.line || e.Column != tt.col || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Parse(%q)\n got error %q (line %d, column %d)\nwant line %d, column %d, message containing %q",
					tt.in, err, e.Line, e.Column, tt.line, tt.col, tt.msg)
			}
			wantPrefix := fmt.Sprintf("/etc/messaging/connect.json:%d:%d: ", tt.line, tt.col)
			if !strings.HasPrefix(err.Error(), wantPrefix) {
				t.Errorf("error %q does not start with %q", err, wantPrefix)
			}
		})
	}
}

// TestErrorsNeverShowThePassword breaks files around a password in every
// way the error table knows, and a few more aimed at the password itself.
func TestErrorsNeverShowThePassword(t *testing.T) {
	const pw = "SECRETPW"
	inputs := []string{
		`{"user": "u", "password": SECRETPW}`,
		`{"user": "u", "password": 'SECRETPW'}`,
		`{"user": "u", "password": "SECRETPW}`,
		`{"user": "u", "password": "SECRET\xPW"}`,
		`{"user": "u", "password": "SECRETPW" "tls": {}}`,
		`{"user": "u", "password" "SECRETPW"}`,
		`{"user": "u", "password": "SECRETPW", "port": SECRETPW}`,
		`{"user": "u", "password": "SECRETPW", "usr": "SECRETPW"}`,
		`{"user": "u", SECRETPW: "x"}`,
		`{"user": "u", "password": "SECRETPW", "host": "SECRETPW:SECRETPW@h"}`,
		`{"user": "u", "password": "SECRETPW", "tls": {"cert": "c"}}`,
		`{"user": "u", "password": ["SECRETPW"]}`,
		`{"user": "u", "password": {"SECRETPW": "SECRETPW"}}`,
		"{\"user\": \"u\", \"password\": \"SECRETPW\"}\nSECRETPW",
		`{"user": "u", "password": "SECRETPW", "sasl": {"mechanisms": 5}}`,
	}
	for _, tt := range errorCases {
		inputs = append(inputs, tt.in)
	}
	for _, in := range inputs {
		_, err := Parse("connect.json", []byte(in))
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", in)
			continue
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Parse(%q): error shows the password: %v", in, err)
		}
	}
	f, err := Parse("connect.json", []byte(`{"user": "u", "password": "SECRETPW"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{f.String(), fmt.Sprint(f), fmt.Sprintf("%v %+v %s", f, f, f), f.URL()} {
		if strings.Contains(s, pw) {
			t.Errorf("%q shows the password", s)
		}
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`{}`, "amqps://localhost:5671"},
		{`{"scheme": "amqp"}`, "amqp://localhost:5672"},
		{`{"host": "example.com", "port": 1234, "user": "u", "password": "p"}`, "amqps://example.com:1234"},
		{`{"host": "::1", "scheme": "amqp"}`, "amqp://[::1]:5672"},
		{`{"host": "[2001:db8::1]", "port": "amqp"}`, "amqps://[2001:db8::1]:5672"},
		{`{"host": "fe80::1%eth0"}`, "amqps://[fe80::1%25eth0]:5671"},
	}
	for _, tt := range tests {
		f, err := Parse("connect.json", []byte(tt.in))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.in, err)
		}
		got := f.URL()
		if got != tt.want {
			t.Errorf("Parse(%s).URL() = %q, want %q", tt.in, got, tt.want)
		}
		// The URL must read back to the same host and port.
		u, err := url.Parse(got)
		if err != nil {
			t.Errorf("url.Parse(%q): %v", got, err)
			continue
		}
		if u.Scheme != f.Scheme || u.Hostname() != f.Host || u.Port() != fmt.Sprint(f.Port) || u.User != nil {
			t.Errorf("url.Parse(%q) = scheme %q host %q port %q user %v; want %q %q %d", got, u.Scheme, u.Hostname(), u.Port(), u.User, f.Scheme, f.Host, f.Port)
		}
	}
}

func TestString(t *testing.T) {
	f, err := Parse("/x/connect.json", []byte(`{"user": "alice", "password": "secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.String(), `/x/connect.json (amqps://localhost:5671 user="alice" password=xxxxx)`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("ok", func(t *testing.T) {
		p := write("ok.json", `{"host": "h"}`)
		f, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if f.Path != p || f.Host != "h" {
			t.Errorf("Load = %s", dump(f))
		}
	})
	t.Run("syntax error names the file", func(t *testing.T) {
		p := write("bad.json", "{\n  \"host\": \"h\"\n  \"port\": 1\n}")
		_, err := Load(p)
		if err == nil || !strings.HasPrefix(err.Error(), p+":3:3: syntax error") {
			t.Errorf("Load = %v, want %s:3:3: syntax error ...", err, p)
		}
	})
	t.Run("missing", func(t *testing.T) {
		p := filepath.Join(dir, "nope.json")
		_, err := Load(p)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load = %v, want fs.ErrNotExist", err)
		}
		if err == nil || err.Error() != p+": cannot read the file: no such file or directory" {
			t.Errorf("Load = %q", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, err := Load(dir)
		if err == nil || err.Error() != dir+": is a directory, not a file" {
			t.Errorf("Load(dir) = %v", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		p := write("big.json", "{}"+strings.Repeat(" ", maxSize))
		_, err := Load(p)
		var e *Error
		if !errors.As(err, &e) || e.Path != p || !strings.Contains(e.Msg, "larger than") {
			t.Errorf("Load = %v, want a too-large error", err)
		}
	})
	t.Run("permission denied", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads files whatever their mode")
		}
		p := write("secret.json", `{}`)
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Load = %v, want fs.ErrPermission", err)
		}
		if err == nil || err.Error() != p+": cannot read the file: permission denied" {
			t.Errorf("Load = %q", err)
		}
	})
}

func TestReadError(t *testing.T) {
	// The form of a read error, independent of who runs the test (root
	// can read a file of mode 0, see TestLoad/permission_denied).
	cause := &fs.PathError{Op: "open", Path: "/etc/messaging/connect.json", Err: fs.ErrPermission}
	err := readError("/etc/messaging/connect.json", cause)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("readError does not wrap its cause")
	}
	if got, want := err.Error(), "/etc/messaging/connect.json: cannot read the file: permission denied"; got != want {
		t.Errorf("readError = %q, want %q", got, want)
	}
}

func TestParseLargeInputs(t *testing.T) {
	// Deep nesting must come back as an error, not a stack overflow.
	for _, in := range []string{
		strings.Repeat("[", maxSize),
		strings.Repeat("{\"a\":", maxSize/5),
		"{\"host\": \"" + strings.Repeat("[", maxSize-20) + "\"}",
	} {
		if _, err := Parse("connect.json", []byte(in)); err == nil {
			t.Errorf("Parse(%.20q...) succeeded", in)
		}
	}
	if _, err := Parse("connect.json", make([]byte, maxSize+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Parse of %d bytes = %v, want a too-large error", maxSize+1, err)
	}
	// Up to the bound, a file is parsed.
	in := "{\"host\": \"h\"}" + strings.Repeat(" ", maxSize-13)
	if _, err := Parse("connect.json", []byte(in)); err != nil {
		t.Errorf("Parse of %d bytes: %v", len(in), err)
	}
}

func TestPosition(t *testing.T) {
	src := []byte("ab\ncdé\n\nxyz")
	tests := []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {5, 2, 3}, {7, 2, 4}, {8, 3, 1}, {9, 4, 1}, {12, 4, 4}, {99, 4, 4}, {-1, 1, 1},
	}
	for _, tt := range tests {
		if l, c := position(src, tt.off); l != tt.line || c != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
	}
	for _, tt := range []struct{ line, col, off int }{{1, 1, 0}, {2, 1, 3}, {2, 4, 6}, {4, 2, 10}, {9, 1, 12}, {4, 99, 12}} {
		if got := offsetOf(src, tt.line, tt.col); got != tt.off {
			t.Errorf("offsetOf(%d, %d) = %d, want %d", tt.line, tt.col, got, tt.off)
		}
	}
}

package amq

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want endpoint
	}{
		{"amqp://localhost", endpoint{Scheme: "amqp", Host: "localhost", Port: "5672"}},
		{"amqps://broker.example.com", endpoint{Scheme: "amqps", Host: "broker.example.com", Port: "5671"}},
		{"localhost:1234", endpoint{Scheme: "amqp", Host: "localhost", Port: "1234"}},
		{"example.net", endpoint{Scheme: "amqp", Host: "example.net", Port: "5672"}},
		{"AMQP://h:1", endpoint{Scheme: "amqp", Host: "h", Port: "1"}},
		{"amqp://[::1]:2000", endpoint{Scheme: "amqp", Host: "::1", Port: "2000"}},
		{"amqps://[::1]", endpoint{Scheme: "amqps", Host: "::1", Port: "5671"}},
		{"amqp://alice:secret@h", endpoint{Scheme: "amqp", Host: "h", Port: "5672", User: "alice", Password: "secret", HasUser: true}},
		{"amqp://bob@h:5", endpoint{Scheme: "amqp", Host: "h", Port: "5", User: "bob", HasUser: true}},
		{"amqp://h/", endpoint{Scheme: "amqp", Host: "h", Port: "5672"}},
		{"  amqp://h  ", endpoint{Scheme: "amqp", Host: "h", Port: "5672"}},
		// A password may hold "#", "/", "?" and "@" unencoded: the user
		// information ends at the last "@".
		{"amqp://alice:S3cr3t#PWxyz@127.0.0.1:5672", endpoint{Scheme: "amqp", Host: "127.0.0.1", Port: "5672", User: "alice", Password: "S3cr3t#PWxyz", HasUser: true}},
		{"amqp://a:p/q?r@s@h", endpoint{Scheme: "amqp", Host: "h", Port: "5672", User: "a", Password: "p/q?r@s", HasUser: true}},
		{"amqp://a%40b:p%3Ax@h", endpoint{Scheme: "amqp", Host: "h", Port: "5672", User: "a@b", Password: "p:x", HasUser: true}},
		{"amqp://u:50%off@h", endpoint{Scheme: "amqp", Host: "h", Port: "5672", User: "u", Password: "50%off", HasUser: true}},
		{"u:p@h:7", endpoint{Scheme: "amqp", Host: "h", Port: "7", User: "u", Password: "p", HasUser: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseURL(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{"", "empty connection URL"},
		{"http://h", `unsupported scheme "http"`},
		{"amqp://", "missing host"},
		{"amqp://h:0", `invalid port "0"`},
		{"amqp://h:70000", `invalid port "70000"`},
		{"amqp://h:x", "malformed"},
		{"amqp://h:", "empty port"},
		{"amqp://h/queue", `unexpected path "/queue"`},
		{"amqp://h?x=1", "query"},
		{"amqp:h", "missing //"},
		{"amqp://::1:5672", "brackets"},
		{"amqp://user:topsecret@h:x", "malformed"},
		// Once panics (#17): none may, nor quote the password.
		{"@", "missing host"},
		{"a@", "missing host"},
		{":@", "missing host"},
		{"x@amqp://h", "malformed scheme"},
		{"user:topsecret@amqp://", "malformed scheme"},
		{"amqp://alice:topsecret#x@", "missing host"},
		{"amqp://alice:topsecret@h#frag", "query and fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := parseURL(tt.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "topsecret", "the password must never appear in an error")
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"amqp://localhost", "amqps://u:p@[::1]:5671", "h:1", "amqp://h/x", "::::", "amqp://u:p@h:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := parseURL(s)
		if err != nil {
			if ep != (endpoint{}) {
				t.Fatalf("error with a non-zero endpoint: %+v", ep)
			}
			if strings.Contains(s, ":pw-marker@") && strings.Contains(err.Error(), "pw-marker") {
				t.Fatalf("password leaked into %v", err)
			}
			return
		}
		if ep.Host == "" || (ep.Scheme != "amqp" && ep.Scheme != "amqps") || ep.Port == "" {
			t.Fatalf("accepted %q as an incomplete endpoint %+v", s, ep)
		}
	})
}

// FuzzParseURLPassword: whatever the password and the rest of the URL, an
// error never quotes the password, and a URL that parses gives it back
// whole.
func FuzzParseURLPassword(f *testing.F) {
	f.Add("S3cr3t#PWxyz", "127.0.0.1:5672")
	f.Add("a/b?c@d", "h")
	f.Add("secret", "h:x")
	f.Add("p%41ss", "[::1]:99999")
	f.Fuzz(func(t *testing.T, pw, host string) {
		s := "amqp://user:" + pw + "@" + host
		ep, err := parseURL(s)
		if len(pw) < 4 || strings.Contains("amqp://user:@"+host, pw) || strings.Contains(pw, "%") {
			return // too short or too common to tell a leak from the rest
		}
		if err != nil {
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("password %q leaked into %v", pw, err)
			}
			return
		}
		if strings.Contains(host, "@") {
			return // the user information ends at the host's "@"
		}
		if ep.Password != pw {
			t.Fatalf("password %q parsed as %q", pw, ep.Password)
		}
	})
}

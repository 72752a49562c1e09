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
		// AMQP over WebSockets: ports 80 and 443, and a path.
		{"amqpws://h", endpoint{Scheme: "amqpws", Host: "h", Port: "80"}},
		{"amqpwss://h", endpoint{Scheme: "amqpwss", Host: "h", Port: "443"}},
		{"AMQPWS://h:8080/", endpoint{Scheme: "amqpws", Host: "h", Port: "8080"}},
		{"amqpwss://[::1]:8443/broker/amqp", endpoint{Scheme: "amqpwss", Host: "::1", Port: "8443", Path: "/broker/amqp"}},
		{"amqpws://h/a%20b", endpoint{Scheme: "amqpws", Host: "h", Port: "80", Path: "/a%20b"}},
		{"amqpwss://alice:p/q@h/ws", endpoint{Scheme: "amqpwss", Host: "h", Port: "443", Path: "/ws", User: "alice", Password: "p/q", HasUser: true}},
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
		{"amqps://h/ws", `unexpected path "/ws"`},
		{"amqpws://", "missing host"},
		{"amqpws:h", "missing //"},
		{"amqpwss://h:0/ws", `invalid port "0"`},
		{"amqpws://h/ws?x=1", "query"},
		{"amqpwss://alice:topsecret@h/ws#x", "query and fragment"},
		{"ws://h", `unsupported scheme "ws"`},
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
	for _, s := range []string{"amqp://localhost", "amqps://u:p@[::1]:5671", "h:1", "amqp://h/x", "::::", "amqp://u:p@h:99999", "amqpwss://u:p@h:443/x/y", "amqpws://h/"} {
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
		if ep.Host == "" || (ep.Scheme != "amqp" && ep.Scheme != "amqps" && !ep.WebSocket()) || ep.Port == "" {
			t.Fatalf("accepted %q as an incomplete endpoint %+v", s, ep)
		}
		if ep.Path != "" && (!ep.WebSocket() || !strings.HasPrefix(ep.Path, "/")) {
			t.Fatalf("accepted %q with a path %q", s, ep.Path)
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

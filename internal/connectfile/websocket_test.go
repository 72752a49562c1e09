package connectfile

import (
	"strings"
	"testing"
)

func TestWebSocketSchemes(t *testing.T) {
	for _, tc := range []struct{ in, url string }{
		{`{"scheme": "amqpws"}`, "amqpws://localhost:80"},
		{`{"scheme": "AMQPWSS", "host": "::1"}`, "amqpwss://[::1]:443"},
		{`{"scheme": "amqpwss", "port": 8443, "path": "/broker/amqp"}`, "amqpwss://localhost:8443/broker/amqp"},
		{`{"path": "/", "scheme": "amqpws"}`, "amqpws://localhost:80"},
		{`{"scheme": "amqpws", "path": "/a b%"}`, ""},
	} {
		f, err := Parse("connect.json", []byte(tc.in))
		if tc.url == "" {
			if err == nil {
				t.Errorf("%s: accepted as %s", tc.in, f.URL())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := f.URL(); got != tc.url {
			t.Errorf("%s: URL %s, want %s", tc.in, got, tc.url)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`{"path": "/ws"}`, `path is only for the schemes "amqpws" and "amqpwss"`},
		{`{"scheme": "amqp", "path": "/ws"}`, `not "amqp"`},
		{`{"scheme": "amqpws", "path": "ws"}`, `path must start with "/"`},
		{`{"scheme": "amqpws", "path": "/ws?SECRETPW"}`, "without spaces, query"},
		{`{"scheme": "amqpws", "path": 1}`, "path must be a string"},
	} {
		_, err := Parse("connect.json", []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "SECRETPW") {
			t.Errorf("%s: error %v, want one with %q", tc.in, err, tc.want)
		}
	}
}

package server

import (
	"net"
	"strings"
	"testing"
)

// The reference's bare listen forms (AMQ Python 6.5) and the network each
// listens on: an IPv4 host on IPv4 only, [::] on both.
func TestParseListenURLForms(t *testing.T) {
	for _, tc := range []struct {
		in, scheme, network, addr string
	}{
		{"0.0.0.0", "amqp", "tcp4", "0.0.0.0:5672"},
		{"0.0.0.0:5673", "amqp", "tcp4", "0.0.0.0:5673"},
		{"[::0]", "amqp", "tcp", "[::]:5672"},
		{"[::]:0", "amqp", "tcp", "[::]:0"},
		{"localhost:5672", "amqp", "tcp", "localhost:5672"},
		{"127.0.0.1", "amqp", "tcp4", "127.0.0.1:5672"},
		{"amqp://0.0.0.0:1234", "amqp", "tcp4", "0.0.0.0:1234"},
		{"amqps://[::1]", "amqps", "tcp", "[::1]:5671"},
		{"amqp://example.org", "amqp", "tcp", "example.org:5672"},
	} {
		scheme, network, addr, _, err := parseListen(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if scheme != tc.scheme || network != tc.network || canonical(addr) != tc.addr {
			t.Errorf("%q: %s %s %s, want %s %s %s", tc.in, scheme, network, addr, tc.scheme, tc.network, tc.addr)
		}
	}
	for _, bad := range []string{"", "0.0.0.0:99999", "host:port", "amqp://u:p@host", "http://host", "[::1"} {
		if _, _, _, _, err := parseListen(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// A bare host:port listens, on loopback.
func TestListenBareForm(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", &Options{AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URL(), "amqp://127.0.0.1:") || strings.HasSuffix(srv.URL(), ":0") {
		t.Errorf("URL %q", srv.URL())
	}
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// canonical writes an IP host the way net.IP does (::0 as ::).
func canonical(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && ip != nil {
		return net.JoinHostPort(ip.String(), port)
	}
	return addr
}

package sasl

import (
	"fmt"
	"net"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

func TestVirtualHostInSASLInit(t *testing.T) {
	for _, tc := range []struct{ vhost, want string }{{"", "broker.example"}, {"vhost:tenant-a", "vhost:tenant-a"}} {
		addr := fakeServer(t, []string{Anonymous}, func(conn net.Conn, init *codec.SASLInit) error {
			if init.Hostname != tc.want {
				return fmt.Errorf("sasl-init hostname %q, want %q", init.Hostname, tc.want)
			}
			return send(conn, &codec.SASLOutcome{Code: codec.SASLCodeOK})
		})
		_, err := Negotiate(testCtx(t), dialTCP(t, addr), &Config{
			Hostname: "broker.example", VirtualHost: tc.vhost, Kerberos: noKerberos,
		})
		if err != nil {
			t.Fatalf("VirtualHost %q: %v", tc.vhost, err)
		}
	}
}

package sasl

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

func TestXOAUTH2(t *testing.T) {
	const token = "ya29.secret-token"
	const errJSON = `{"status":"401","schemes":"bearer","scope":"amqp"}`
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refused=%v", refuse), func(t *testing.T) {
			addr := fakeServer(t, []string{XOAUTH2, Plain}, func(conn net.Conn, init *codec.SASLInit) error {
				want := "user=" + testUser + "\x01auth=Bearer " + token + "\x01\x01"
				if string(init.Mechanism) != XOAUTH2 || string(init.InitialResponse) != want || init.Hostname != "broker.example" {
					return fmt.Errorf("sasl-init %s %q %q, want XOAUTH2 %q", init.Mechanism, init.InitialResponse, init.Hostname, want)
				}
				if !refuse {
					return send(conn, &codec.SASLOutcome{Code: codec.SASLCodeOK})
				}
				if err := send(conn, &codec.SASLChallenge{Challenge: []byte(errJSON)}); err != nil {
					return err
				}
				if r, err := recvResponse(conn); err != nil || len(r) != 0 {
					return fmt.Errorf("want an empty response to the error challenge, got %q, %v", r, err)
				}
				return send(conn, &codec.SASLOutcome{Code: codec.SASLCodeAuth})
			})
			conn := dialTCP(t, addr)
			res, err := Negotiate(testCtx(t), conn, &Config{
				User: testUser, HasUser: true, XOAUTH2Token: token, TLS: true, Hostname: "broker.example", Kerberos: noKerberos,
			})
			if !refuse {
				if err != nil || res.Mechanism != XOAUTH2 {
					t.Fatalf("got %v, %v", res, err)
				}
				return
			}
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Detail != errJSON {
				t.Fatalf("got %v, want *AuthError with the server's JSON", err)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("error reveals the token: %v", err)
			}
		})
	}
}

package sasl

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/xdg-go/scram"

	"github.com/amqgo/amq/internal/codec"
)

// scramServer plays the server side of SCRAM-SHA-256 for alice and returns
// the server-final-message, to be delivered by the caller.
func scramServer(conn net.Conn, init *codec.SASLInit) (string, error) {
	cl, err := scram.SHA256.NewClient(testUser, testPassword, "")
	if err != nil {
		return "", err
	}
	stored, err := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "0123456789abcdef", Iters: 4096})
	if err != nil {
		return "", err
	}
	srv, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return stored, nil })
	if err != nil {
		return "", err
	}
	conv := srv.NewConversation()
	first, err := conv.Step(string(init.InitialResponse))
	if err != nil {
		return "", err
	}
	if err := send(conn, &codec.SASLChallenge{Challenge: []byte(first)}); err != nil {
		return "", err
	}
	resp, err := recvResponse(conn)
	if err != nil {
		return "", err
	}
	return conv.Step(string(resp))
}

// forge replaces the server signature with another of the same length.
func forge(serverFinal string) string {
	sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(serverFinal, "v="))
	for i := range sig {
		sig[i] ^= 0x5a
	}
	return "v=" + base64.StdEncoding.EncodeToString(sig)
}

func TestSCRAMServerSignature(t *testing.T) {
	for _, tc := range []struct {
		name    string
		deliver func(conn net.Conn, final string) error
		wantErr error
	}{
		{"good in outcome", func(c net.Conn, final string) error {
			return send(c, &codec.SASLOutcome{Code: codec.SASLCodeOK, AdditionalData: []byte(final)})
		}, nil},
		{"good as challenge", func(c net.Conn, final string) error {
			if err := send(c, &codec.SASLChallenge{Challenge: []byte(final)}); err != nil {
				return err
			}
			if r, err := recvResponse(c); err != nil || len(r) != 0 {
				return fmt.Errorf("want an empty response to the server-final challenge, got %q, %v", r, err)
			}
			return send(c, &codec.SASLOutcome{Code: codec.SASLCodeOK})
		}, nil},
		{"forged in outcome", func(c net.Conn, final string) error {
			return send(c, &codec.SASLOutcome{Code: codec.SASLCodeOK, AdditionalData: []byte(forge(final))})
		}, ErrServerNotAuthenticated},
		{"forged as challenge", func(c net.Conn, final string) error {
			if err := send(c, &codec.SASLChallenge{Challenge: []byte(forge(final))}); err != nil {
				return err
			}
			_, _ = codec.ReadFrame(c, 0) // the client hangs up instead
			return nil
		}, ErrServerNotAuthenticated},
		{"missing", func(c net.Conn, final string) error {
			return send(c, &codec.SASLOutcome{Code: codec.SASLCodeOK})
		}, ErrServerNotAuthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientDone := make(chan struct{})
			addr := fakeServer(t, []string{SCRAMSHA256}, func(conn net.Conn, init *codec.SASLInit) error {
				final, err := scramServer(conn, init)
				if err != nil {
					return err
				}
				err = tc.deliver(conn, final)
				<-clientDone
				return err
			})
			conn := dialTCP(t, addr)
			_, err := Negotiate(testCtx(t), conn, &Config{User: testUser, Password: testPassword, HasUser: true, Kerberos: noKerberos})
			conn.Close()
			close(clientDone)
			if tc.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
}

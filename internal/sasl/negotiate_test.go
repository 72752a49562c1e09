package sasl

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/amqgo/amq/server"
)

func TestNegotiateEachMechanism(t *testing.T) {
	for _, mech := range []string{Anonymous, Plain, SCRAMSHA1, SCRAMSHA256, SCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			srv := startServer(t, "amqp://127.0.0.1:0", server.Options{
				AllowAnonymous: true, RequireSASL: true, Mechanisms: []string{mech},
			})
			cfg := &Config{Kerberos: noKerberos, AllowInsecure: true}
			if mech != Anonymous {
				cfg.User, cfg.Password, cfg.HasUser = testUser, testPassword, true
			}
			ctx := testCtx(t)
			conn := dialTCP(t, srv.Addr().String())
			res, err := Negotiate(ctx, conn, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Mechanism != mech {
				t.Fatalf("mechanism %s, want %s", res.Mechanism, mech)
			}
			useConn(t, ctx, conn)
		})
	}
}

func TestNegotiateChoosesStrongestCommon(t *testing.T) {
	srv := startServer(t, "amqp://127.0.0.1:0", server.Options{AllowAnonymous: true})
	for _, tc := range []struct {
		name    string
		cfg     Config
		want    string
		wantErr bool
	}{
		{name: "password", cfg: Config{User: testUser, Password: testPassword, HasUser: true}, want: SCRAMSHA512},
		{name: "no credentials", cfg: Config{}, want: Anonymous},
		{name: "allowed list", cfg: Config{User: testUser, Password: testPassword, HasUser: true, Mechanisms: []string{"scram-sha-1 PLAIN"}}, want: SCRAMSHA1},
		{name: "explicit anonymous with a user", cfg: Config{User: testUser, HasUser: true, Mechanisms: []string{Anonymous, Plain}}, want: Anonymous},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Kerberos = noKerberos
			ctx := testCtx(t)
			conn := dialTCP(t, srv.Addr().String())
			res, err := Negotiate(ctx, conn, &tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Mechanism != tc.want {
				t.Fatalf("chose %s, want %s", res.Mechanism, tc.want)
			}
			useConn(t, ctx, conn)
		})
	}
}

func TestNegotiateExternal(t *testing.T) {
	pki := newPKI(t)
	srv := startServer(t, "amqps://127.0.0.1:0", server.Options{
		RequireSASL: true,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{pki.server},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    pki.pool,
		},
	})
	ctx := testCtx(t)
	conn, err := tls.Dial("tcp", srv.Addr().String(), &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A password too: EXTERNAL still wins, being the stronger.
	res, err := Negotiate(ctx, conn, &Config{TLS: true, ClientCert: true, User: testUser, Password: testPassword, HasUser: true, Kerberos: noKerberos})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mechanism != External {
		t.Fatalf("chose %s, want EXTERNAL", res.Mechanism)
	}
	useConn(t, ctx, conn)
}

func TestNegotiateWrongPassword(t *testing.T) {
	for _, mech := range []string{Plain, SCRAMSHA256} {
		t.Run(mech, func(t *testing.T) {
			srv := startServer(t, "amqp://127.0.0.1:0", server.Options{Mechanisms: []string{mech}})
			const wrong = "not-the-Password-42"
			conn := dialTCP(t, srv.Addr().String())
			_, err := Negotiate(testCtx(t), conn, &Config{User: testUser, Password: wrong, HasUser: true, AllowInsecure: true, Kerberos: noKerberos})
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want *AuthError", err)
			}
			if ae.Code != CodeAuth || ae.Mechanism != mech || ae.Temporary() {
				t.Fatalf("AuthError %+v", ae)
			}
			if strings.Contains(err.Error(), wrong) {
				t.Fatalf("error reveals the password: %v", err)
			}
		})
	}
}

func TestNegotiateNoCommonMechanism(t *testing.T) {
	srv := startServer(t, "amqp://127.0.0.1:0", server.Options{Mechanisms: []string{SCRAMSHA256}})
	conn := dialTCP(t, srv.Addr().String())
	_, err := Negotiate(testCtx(t), conn, &Config{Mechanisms: []string{"PLAIN", "ANONYMOUS"}, User: testUser, Password: testPassword, HasUser: true, Kerberos: noKerberos})
	var ne *NoMechanismError
	if !errors.As(err, &ne) {
		t.Fatalf("got %v, want *NoMechanismError", err)
	}
	msg := err.Error()
	for _, want := range []string{"SCRAM-SHA-256", "PLAIN ANONYMOUS", `user "alice" with a password`, "no TLS client certificate"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, testPassword) {
		t.Fatalf("error reveals the password: %v", err)
	}
}

func TestNegotiateRefusesPlainOnCleartext(t *testing.T) {
	srv := startServer(t, "amqp://127.0.0.1:0", server.Options{AllowAnonymous: true, Mechanisms: []string{Plain, Anonymous}})
	conn := dialTCP(t, srv.Addr().String())
	_, err := Negotiate(testCtx(t), conn, &Config{User: testUser, Password: testPassword, HasUser: true, Kerberos: noKerberos})
	var ie *InsecureError
	if !errors.As(err, &ie) || ie.Mechanism != Plain {
		t.Fatalf("got %v, want *InsecureError for PLAIN", err)
	}
	if !strings.Contains(err.Error(), "amqps") || !strings.Contains(err.Error(), "allow") {
		t.Fatalf("error does not say how to fix it: %v", err)
	}
}

func TestNegotiateServerWithoutSASL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var h [8]byte
		_, _ = c.Read(h[:])
		_, _ = c.Write([]byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0})
	}()
	conn := dialTCP(t, ln.Addr().String())
	_, err = Negotiate(testCtx(t), conn, &Config{})
	if !errors.Is(err, ErrNoSASL) {
		t.Fatalf("got %v, want ErrNoSASL", err)
	}
}

func TestNegotiateHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // never answers
		}
	}()
	conn := dialTCP(t, ln.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := Negotiate(ctx, conn, &Config{})
		errc <- err
	}()
	peer := <-accepted
	defer peer.Close()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestNegotiateUnknownMechanismName(t *testing.T) {
	_, err := Negotiate(context.Background(), nil, &Config{Mechanisms: []string{"CRAM-MD5"}})
	if err == nil || !strings.Contains(err.Error(), "CRAM-MD5") {
		t.Fatalf("got %v", err)
	}
}

package sasl

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

const (
	testUser     = "alice"
	testPassword = "s3cret-Pa55"
)

// noKerberos is a Kerberos set-up that finds nothing, so that a developer's
// own kinit cannot change which mechanism the tests choose.
var noKerberos = KerberosConfig{ConfigPath: "/nonexistent/krb5.conf", CCache: "/nonexistent/ccache"}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts amq's own server with alice's credentials.
func startServer(t *testing.T, url string, opts server.Options) *server.Server {
	t.Helper()
	if opts.Credentials == nil {
		creds, err := server.NewCredentials(map[string]string{testUser: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		opts.Credentials = creds
	}
	srv, err := server.Listen(url, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// useConn proves the connection is usable after Negotiate: go-amqp takes
// it over with no SASL of its own and attaches a sender.
func useConn(t *testing.T, ctx context.Context, conn net.Conn) {
	t.Helper()
	c, err := amqp.NewConn(ctx, conn, &amqp.ConnOptions{SASLType: nil})
	if err != nil {
		t.Fatalf("go-amqp on the negotiated connection: %v", err)
	}
	defer c.Close()
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	snd, err := s.NewSender(ctx, "q1", nil)
	if err != nil {
		t.Fatalf("sender: %v", err)
	}
	if err := snd.Send(ctx, amqp.NewMessage([]byte("hello")), nil); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// fakeServer accepts one connection on loopback, exchanges the SASL
// headers, offers mechs and hands the connection and the client's
// sasl-init to serve, which runs on its own goroutine; its error, if any,
// fails the test at cleanup.
func fakeServer(t *testing.T, mechs []string, serve func(conn net.Conn, init *codec.SASLInit) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			conn, err := ln.Accept()
			ln.Close()
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := codec.ReadProtoHeader(conn); err != nil {
				return err
			}
			if _, err := conn.Write(codec.ProtoSASL[:]); err != nil {
				return err
			}
			syms := make([]codec.Symbol, len(mechs))
			for i, m := range mechs {
				syms[i] = codec.Symbol(m)
			}
			if err := send(conn, &codec.SASLMechanisms{Mechanisms: syms}); err != nil {
				return err
			}
			f, err := codec.ReadFrame(conn, 0)
			if err != nil {
				return err
			}
			init, ok := f.Body.(*codec.SASLInit)
			if !ok {
				return fmt.Errorf("fake server: got %T, want sasl-init", f.Body)
			}
			return serve(conn, init)
		}()
	}()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("fake server: %v", err)
		}
	})
	return ln.Addr().String()
}

func send(conn net.Conn, body codec.Performative) error {
	return codec.WriteFrame(conn, codec.Frame{Type: codec.FrameSASL, Body: body})
}

// recvResponse reads the client's next sasl-response.
func recvResponse(conn net.Conn) ([]byte, error) {
	f, err := codec.ReadFrame(conn, 0)
	if err != nil {
		return nil, err
	}
	r, ok := f.Body.(*codec.SASLResponse)
	if !ok {
		return nil, fmt.Errorf("fake server: got %T, want sasl-response", f.Body)
	}
	return r.Response, nil
}

// testPKI is an in-process CA with a server (127.0.0.1) and a client
// ("alice") certificate.
type testPKI struct {
	pool           *x509.CertPool
	server, client tls.Certificate
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "amq test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.client = issue(3, testUser, x509.ExtKeyUsageClientAuth, nil)
	return p
}

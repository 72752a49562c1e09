package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// testPKI is a CA with a server and a client certificate, made in-process.
type testPKI struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "amq test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testPKI{
		pool:   pool,
		server: leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)}),
		client: leaf(3, "carol", x509.ExtKeyUsageClientAuth, nil),
	}
}

func startTLSServer(t *testing.T, pki *testPKI, opts Options) *Server {
	t.Helper()
	opts.TLSConfig = &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientCAs:    pki.pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
	s, err := Listen("amqps://127.0.0.1:0", &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestTLS(t *testing.T) {
	pki := newTestPKI(t)
	q := newQueues()
	srv := startTLSServer(t, pki, Options{Handler: q.handler(), Credentials: credentials(t)})
	if !strings.HasPrefix(srv.URL(), "amqps://127.0.0.1:") {
		t.Fatalf("URL = %s", srv.URL())
	}
	ctx := testCtx(t)
	c := dial(t, srv.URL(), &amqp.ConnOptions{
		SASLType:  amqp.SASLTypePlain("alice", "s3cret"),
		TLSConfig: &tls.Config{RootCAs: pki.pool},
	})
	s := newSession(t, c)
	snd, err := s.NewSender(ctx, "tls", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, amqp.NewMessage([]byte("secure")), nil); err != nil {
		t.Fatal(err)
	}
	// An untrusting client fails the handshake; the server keeps going.
	if _, err := amqp.Dial(ctx, srv.URL(), &amqp.ConnOptions{TLSConfig: &tls.Config{}}); err == nil {
		t.Fatal("client without the CA connected")
	}
	if err := snd.Send(ctx, amqp.NewMessage([]byte("still")), nil); err != nil {
		t.Fatal(err)
	}
}

func TestSASLExternal(t *testing.T) {
	pki := newTestPKI(t)
	users := make(chan string, 1)
	h := HandlerFuncs{AttachFunc: func(_ context.Context, l *Link) error {
		users <- l.Conn().User() + "/" + l.Conn().Mechanism()
		return nil
	}}
	srv := startTLSServer(t, pki, Options{Handler: h})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), &amqp.ConnOptions{
		SASLType:  amqp.SASLTypeExternal(""),
		TLSConfig: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}},
	})
	s := newSession(t, c)
	if _, err := s.NewSender(ctx, "x", nil); err != nil {
		t.Fatal(err)
	}
	if got := <-users; got != "carol/EXTERNAL" {
		t.Fatalf("identity = %q, want carol/EXTERNAL", got)
	}
	// Without a client certificate EXTERNAL fails.
	if _, err := amqp.Dial(ctx, srv.URL(), &amqp.ConnOptions{
		SASLType:  amqp.SASLTypeExternal(""),
		TLSConfig: &tls.Config{RootCAs: pki.pool},
	}); err == nil {
		t.Fatal("EXTERNAL without certificate accepted")
	}
}

func TestListenErrors(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:0", "amqp://127.0.0.1:99999", "amqp://u:p@127.0.0.1:0", "amqp://127.0.0.1:0/vhost", "::nonsense"} {
		if s, err := Listen(u, nil); err == nil {
			s.Close()
			t.Errorf("Listen(%q) succeeded", u)
		}
	}
	if _, err := Listen("amqps://127.0.0.1:0", nil); err == nil || !strings.Contains(err.Error(), "TLSConfig") {
		t.Errorf("amqps without TLS config: %v", err)
	}
	if _, err := Listen("amqp://127.0.0.1:0", &Options{Mechanisms: []string{"GSSAPI"}}); err == nil {
		t.Error("unsupported mechanism accepted")
	}
	opts := &Options{Mechanisms: []string{"plain"}}
	s, err := Listen("amqp://127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if opts.Mechanisms[0] != "plain" {
		t.Error("Listen modified the caller's Options")
	}
}

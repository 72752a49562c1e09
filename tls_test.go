package amq_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// testPKI is a throw-away CA with a server certificate for 127.0.0.1 and
// a client certificate for "carol", written as PEM files.
type testPKI struct {
	dir                   string
	caFile                string
	clientCert, clientKey string
	serverTLS             *tls.Config
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "amq test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		kb, err := x509.MarshalECPrivateKey(key)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	p := &testPKI{dir: dir}
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	p.caFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	serverCert, serverKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	cert, err := tls.X509KeyPair(serverCert, serverKey)
	require.NoError(t, err)
	cc, ck := issue(3, "carol", x509.ExtKeyUsageClientAuth, nil)
	p.clientCert, p.clientKey = write("client.pem", cc), write("client-key.pem", ck)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	p.serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	return p
}

func TestTLS(t *testing.T) {
	pki := newTestPKI(t)
	b := amqtest.NewBroker(t, amqtest.WithTLS(pki.serverTLS))
	require.Contains(t, b.URL(), "amqps://")
	ctx := testCtx(t)

	t.Run("verified with the CA file", func(t *testing.T) {
		c := dial(t, b.URL(), &amq.ConnectOptions{TLS: amq.TLSOptions{CA: pki.caFile}})
		require.NoError(t, c.Send(ctx, amq.NewMessage("secure").SetTo("q")))
	})
	t.Run("CA directory", func(t *testing.T) {
		dial(t, b.URL(), &amq.ConnectOptions{TLS: amq.TLSOptions{CA: pki.dir}})
	})
	t.Run("unknown CA is refused and not retried", func(t *testing.T) {
		_, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{RetryInitialConnect: true})
		require.Error(t, err)
		var uae x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &uae)
	})
	t.Run("verification off", func(t *testing.T) {
		dial(t, b.URL(), &amq.ConnectOptions{TLS: amq.TLSOptions{Verify: ptr(false)}})
	})
	t.Run("EXTERNAL with a client certificate", func(t *testing.T) {
		var logs syncBuffer
		c := dial(t, b.URL(), &amq.ConnectOptions{
			TLS:    amq.TLSOptions{CA: pki.caFile, Cert: pki.clientCert, Key: pki.clientKey},
			Logger: slogTo(&logs),
		})
		require.NoError(t, c.Send(ctx, amq.NewMessage("as carol").SetTo("q")))
		assert.Contains(t, logs.String(), "sasl=EXTERNAL")
	})
	t.Run("cert without key", func(t *testing.T) {
		_, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{TLS: amq.TLSOptions{Cert: pki.clientCert}})
		assert.ErrorContains(t, err, "Cert and Key")
	})
	t.Run("missing CA file", func(t *testing.T) {
		_, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{TLS: amq.TLSOptions{CA: filepath.Join(pki.dir, "nope.pem")}})
		assert.ErrorContains(t, err, "nope.pem")
	})
}

// TestTLSUnverifiedWarns: verification turned off either way, Verify false
// or InsecureSkipVerify in the caller's tls.Config, logs one warning per
// client, however often it dials.
func TestTLSUnverifiedWarns(t *testing.T) {
	pki := newTestPKI(t)
	b := amqtest.NewBroker(t, amqtest.WithTLS(pki.serverTLS))
	const warning = `level=WARN msg="amq: TLS server certificate verification is disabled"`
	ownCheck := func(tls.ConnectionState) error { return nil }
	for _, tc := range []struct {
		name string
		tls  amq.TLSOptions
		want int
	}{
		{"Verify false", amq.TLSOptions{Verify: ptr(false)}, 1},
		{"InsecureSkipVerify in Config", amq.TLSOptions{Config: &tls.Config{InsecureSkipVerify: true}}, 1},
		{"both", amq.TLSOptions{Verify: ptr(false), Config: &tls.Config{InsecureSkipVerify: true}}, 1},
		{"InsecureSkipVerify with the caller's own check", amq.TLSOptions{Config: &tls.Config{InsecureSkipVerify: true, VerifyConnection: ownCheck}}, 0},
		{"verified", amq.TLSOptions{CA: pki.caFile}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			rec := newStateRecorder()
			dial(t, b.URL(), &amq.ConnectOptions{TLS: tc.tls, Logger: slogTo(&logs), Reconnect: fastReconnect(), OnStateChange: rec.record})
			rec.wait(t, amq.StateConnected)
			b.DropConnections()
			rec.wait(t, amq.StateDisconnected)
			rec.wait(t, amq.StateConnected)
			assert.Equal(t, tc.want, strings.Count(logs.String(), warning), "warnings after a dial and a reconnect in:\n%s", logs.String())
		})
	}
}

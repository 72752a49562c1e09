package amq

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// dialEndpoint opens the TCP (and TLS) connection to ep, or its WebSocket,
// runs the SASL layer on it, then the engine's AMQP open. The frame tracer
// sits on the socket, under both.
func dialEndpoint(ctx context.Context, cfg *connectConfig, ep endpoint) (*engine.Conn, error) {
	var tlsCfg *tls.Config
	if ep.TLS() {
		var err error
		if tlsCfg, err = buildTLSConfig(cfg, cfg.virtualHost(ep)); err != nil {
			return nil, &Error{Scope: ScopeTransport, Op: "dial", Address: ep.String(), Err: err}
		}
	}

	var nc net.Conn
	var err error
	if ep.WebSocket() {
		// TLS, when there is some, is under HTTP: the WebSocket dial
		// does it, with the same configuration as amqps.
		nc, err = dialWebSocket(ctx, cfg, ep, tlsCfg)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", ep.Addr())
	}
	if err != nil {
		return nil, &Error{Scope: ScopeTransport, Op: "dial", Address: ep.String(), Err: err}
	}
	if tlsCfg != nil && !ep.WebSocket() {
		tc := tls.Client(nc, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, &Error{Scope: ScopeTransport, Op: "TLS handshake with", Address: ep.String(), Err: err}
		}
		st := tc.ConnectionState()
		cfg.logger.Debug("amq: TLS established", "url", ep.String(), "version", tls.VersionName(st.Version), "peer", peerSubject(st))
		nc = tc
	}
	nc = cfg.traceConn(nc)

	mech := ""
	if cfg.saslEnabled() {
		mech, err = negotiateSASL(ctx, nc, cfg, ep, tlsCfg)
		if err != nil {
			nc.Close()
			return nil, err
		}
		cfg.logger.Debug("amq: SASL authenticated", "url", ep.String(), "mechanism", mech)
	}

	conn, err := engine.Dial(ctx, nc, connIDs.Add(1), cfg.engine, engine.OpenOptions{
		Hostname:            cfg.virtualHost(ep),
		Properties:          cfg.openProperties,
		OfferedCapabilities: cfg.openOffered,
		DesiredCapabilities: cfg.openDesired,
	})
	if err != nil {
		if ctxErr := deadlineErr(ctx, err); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, wrapErr("dial", ep.String(), err)
	}
	cfg.logger.Info("amq: connected", "url", ep.String(), "sasl", mech, "container_id", cfg.ContainerID)
	return conn, nil
}

// virtualHost is the hostname of the open to ep, and the default TLS
// server name: ConnectOptions.VirtualHost, or else the URL's host.
func (c *connectConfig) virtualHost(ep endpoint) string {
	if c.VirtualHost != "" {
		return c.VirtualHost
	}
	return ep.Host
}

// connIDs numbers the client's connections in the engine's log lines.
var connIDs atomic.Uint64

// refuseLinks is the engine Handler of a client: a peer may attach links
// to a client (§2.6.3 allows either side to), but amq has nothing to serve
// on them.
type refuseLinks struct{}

func (refuseLinks) Attach(context.Context, *engine.Link) error {
	return &codec.Error{Condition: codec.ErrCondNotAllowed, Description: "amq: this client does not accept links the peer attaches"}
}
func (refuseLinks) ServeSender(context.Context, *engine.Sender)     {}
func (refuseLinks) ServeReceiver(context.Context, *engine.Receiver) {}

// deadlineErr reports the context's error for a failure that ctx caused:
// the deadline is a socket deadline, which can fire an instant before ctx
// itself reports it.
func deadlineErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var ne net.Error
	if dl, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && time.Until(dl) < 50*time.Millisecond {
		return context.DeadlineExceeded
	}
	return nil
}

// buildTLSConfig assembles the client TLS configuration from TLSOptions.
func buildTLSConfig(cfg *connectConfig, host string) (*tls.Config, error) {
	var tc *tls.Config
	if cfg.TLS.Config != nil {
		tc = cfg.TLS.Config.Clone()
	} else {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if cfg.TLS.CA != "" {
		pool, err := loadCAs(cfg.TLS.CA)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if cfg.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("loading client certificate %s / key %s: %w", cfg.TLS.Cert, cfg.TLS.Key, err)
		}
		tc.Certificates = append(tc.Certificates, cert)
	}
	// InsecureSkipVerify in the caller's tls.Config turns verification off
	// as surely as Verify false, and draws the same warning, unless the
	// caller verifies in a callback of its own (the use crypto/tls
	// documents for it).
	insecure := !cfg.tlsVerify() ||
		tc.InsecureSkipVerify && tc.VerifyPeerCertificate == nil && tc.VerifyConnection == nil
	if !cfg.tlsVerify() {
		tc.InsecureSkipVerify = true
	}
	if insecure && cfg.insecureTLSWarned.CompareAndSwap(false, true) {
		cfg.logger.Warn("amq: TLS server certificate verification is disabled", "host", host)
	}
	return tc, nil
}

// loadCAs reads a PEM file, or every file of a directory, into a pool.
func loadCAs(path string) (*x509.CertPool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	files := []string{path}
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("TLS CA directory: %w", err)
		}
		files = files[:0]
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	pool := x509.NewCertPool()
	n := 0
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		if pool.AppendCertsFromPEM(pem) {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("TLS CA %s: no PEM certificates found", path)
	}
	return pool, nil
}

func peerSubject(st tls.ConnectionState) string {
	if len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].Subject.String()
}

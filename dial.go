package amq

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/typefix"
)

// dialEndpoint opens the TCP (and TLS) connection to ep, runs the SASL
// layer on it and hands it to go-amqp for the AMQP open. amq owns the
// net.Conn under go-amqp: the SASL layer (every mechanism of the reference,
// not only go-amqp's), the frame tracer and write coalescing sit there.
func dialEndpoint(ctx context.Context, cfg *connectConfig, ep endpoint) (*amqp.Conn, *frameWatch, error) {
	var tlsCfg *tls.Config
	if ep.TLS() {
		var err error
		if tlsCfg, err = buildTLSConfig(cfg, ep.Host); err != nil {
			return nil, nil, &Error{Scope: ScopeTransport, Op: "dial", Address: ep.String(), Err: err}
		}
	}

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, nil, &Error{Scope: ScopeTransport, Op: "dial", Address: ep.String(), Err: err}
	}
	if tlsCfg != nil {
		tc := tls.Client(nc, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, nil, &Error{Scope: ScopeTransport, Op: "TLS handshake with", Address: ep.String(), Err: err}
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
			return nil, nil, err
		}
		cfg.logger.Debug("amq: SASL authenticated", "url", ep.String(), "mechanism", mech)
	}

	nc = newCoalescingConn(nc)
	// typefix rewrites char and decimal values, which go-amqp cannot
	// decode or encode, to and from placeholders it can (see typemap.go).
	// It tells the peer 1/HeadroomFactor of go-amqp's max-frame-size, so
	// go-amqp is given HeadroomFactor times the configured one and the peer
	// sees exactly ConnectOptions.MaxFrameSize.
	nc = typefix.Wrap(nc)
	watch := newFrameWatch(nc)
	nc = watch

	idle := cfg.IdleTimeout
	if idle < 0 {
		idle = 0
	}
	opts := &amqp.ConnOptions{
		ContainerID:  cfg.ContainerID,
		HostName:     ep.Host,
		IdleTimeout:  idle,
		MaxFrameSize: engineFrameSize(cfg.MaxFrameSize),
		Properties:   cfg.Properties,
	}
	// go-amqp's NewConn only watches ctx for the open exchange; if the peer
	// never answers (a TLS port spoken to in plain AMQP, a silent server) it
	// must still not hang past the caller's deadline, so the socket is closed
	// when ctx ends first.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	conn, err := amqp.NewConn(ctx, nc, opts)
	if !stop() && err == nil {
		conn.Close()
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		if ctxErr := deadlineErr(ctx, err); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, nil, wrapErr("dial", ep.String(), err)
	}
	cfg.logger.Info("amq: connected", "url", ep.String(), "sasl", mech, "container_id", cfg.ContainerID)
	return conn, watch, nil
}

// engineFrameSize is the max-frame-size go-amqp is configured with for a
// peer-visible size of max (see typefix.HeadroomFactor).
func engineFrameSize(max uint32) uint32 {
	if max > math.MaxUint32/typefix.HeadroomFactor {
		return math.MaxUint32
	}
	return max * typefix.HeadroomFactor
}

// deadlineErr reports the context's error for a failure that ctx caused:
// go-amqp turns the deadline into a socket deadline, which can fire an
// instant before ctx itself reports it.
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
	if !cfg.tlsVerify() {
		cfg.logger.Warn("amq: TLS server certificate verification is disabled", "host", host)
		tc.InsecureSkipVerify = true
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

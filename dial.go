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
	"slices"
	"strings"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// supportedMechanisms are the SASL mechanisms this client can run today,
// strongest first.
var supportedMechanisms = []string{"EXTERNAL", "XOAUTH2", "PLAIN", "ANONYMOUS"}

func supportedMechanism(m string) bool { return slices.Contains(supportedMechanisms, m) }

// dialEndpoint opens the TCP (and TLS) connection to ep and runs the AMQP
// connection set-up on it. amq owns the net.Conn and hands it to go-amqp, so
// that the SASL layer, the frame tracer and write coalescing can sit
// underneath the engine.
func dialEndpoint(ctx context.Context, cfg *connectConfig, ep endpoint) (*amqp.Conn, error) {
	user, password, hasUser := ep.User, ep.Password, ep.HasUser
	if cfg.User != "" {
		user, password, hasUser = cfg.User, cfg.Password, true
	}
	saslType, mech, err := chooseSASL(cfg, ep, user, password, hasUser)
	if err != nil {
		return nil, &Error{Scope: ScopeSASL, Op: "dial", Address: ep.String(), Err: err}
	}

	var tlsCfg *tls.Config
	if ep.TLS() {
		if tlsCfg, err = buildTLSConfig(cfg, ep.Host); err != nil {
			return nil, &Error{Scope: ScopeTransport, Op: "dial", Address: ep.String(), Err: err}
		}
	}

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, &Error{Scope: ScopeTransport, Op: "dial", Address: ep.String(), Err: err}
	}
	if tlsCfg != nil {
		tc := tls.Client(nc, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, &Error{Scope: ScopeTransport, Op: "TLS handshake with", Address: ep.String(), Err: err}
		}
		st := tc.ConnectionState()
		cfg.logger.Debug("amq: TLS established", "url", ep.String(), "version", tls.VersionName(st.Version), "peer", peerSubject(st))
		nc = tc
	}

	nc = newCoalescingConn(nc)

	idle := cfg.IdleTimeout
	if idle < 0 {
		idle = 0
	}
	opts := &amqp.ConnOptions{
		ContainerID:  cfg.ContainerID,
		HostName:     ep.Host,
		IdleTimeout:  idle,
		MaxFrameSize: cfg.MaxFrameSize,
		Properties:   cfg.Properties,
		SASLType:     saslType,
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
		e := wrapErr("dial", ep.String(), err)
		var ae *Error
		if errors.As(e, &ae) && mech != "" && isAuthFailure(err) {
			ae.Scope = ScopeSASL
			ae.Op = "authenticate (SASL " + mech + ") with"
			if strings.Contains(err.Error(), "no supported auth mechanism") {
				ae.Op = "authenticate with"
				ae.Err = fmt.Errorf("the server does not offer %s, the mechanism chosen for the credentials given: %w", mech, err)
			}
		}
		return nil, e
	}
	cfg.logger.Info("amq: connected", "url", ep.String(), "sasl", mech, "container_id", cfg.ContainerID)
	return conn, nil
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

// isAuthFailure recognises go-amqp's report of a SASL outcome other than
// ok ("SASL PLAIN auth failed with code 0x1"): go-amqp gives it no type.
func isAuthFailure(err error) bool {
	msg := err.Error()
	return (strings.Contains(msg, "SASL") && strings.Contains(msg, "auth failed")) ||
		strings.Contains(msg, "no supported auth mechanism")
}

// chooseSASL picks the mechanism: the strongest one the options allow for
// the credentials at hand. The server's offer is checked by go-amqp, which
// fails the connection if the chosen mechanism is not offered.
func chooseSASL(cfg *connectConfig, ep endpoint, user, password string, hasUser bool) (amqp.SASLType, string, error) {
	if !cfg.saslEnabled() {
		return nil, "", nil
	}
	allowed := func(m string) bool {
		return len(cfg.SASL.Mechanisms) == 0 || slices.Contains(cfg.SASL.Mechanisms, m)
	}
	haveCert := cfg.TLS.Cert != "" || (cfg.TLS.Config != nil && (len(cfg.TLS.Config.Certificates) > 0 || cfg.TLS.Config.GetClientCertificate != nil))
	switch {
	case ep.TLS() && haveCert && allowed("EXTERNAL") && (len(cfg.SASL.Mechanisms) > 0 || !hasUser):
		return amqp.SASLTypeExternal(""), "EXTERNAL", nil
	case cfg.SASL.XOAUTH2Token != "" && allowed("XOAUTH2"):
		return amqp.SASLTypeXOAUTH2(user, cfg.SASL.XOAUTH2Token, 0), "XOAUTH2", nil
	case hasUser && allowed("PLAIN"):
		if !ep.TLS() && !cfg.allowInsecure() {
			return nil, "", fmt.Errorf("PLAIN would send the password in cleartext on a connection without TLS, and SASL.AllowInsecure is false: use an amqps URL or allow insecure mechanisms")
		}
		return amqp.SASLTypePlain(user, password), "PLAIN", nil
	case allowed("ANONYMOUS"):
		return amqp.SASLTypeAnonymous(), "ANONYMOUS", nil
	}
	return nil, "", fmt.Errorf("no usable SASL mechanism: allowed %v, credentials given: user=%t, client certificate=%t", cfg.SASL.Mechanisms, hasUser, haveCert)
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

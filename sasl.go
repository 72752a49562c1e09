package amq

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"

	"github.com/amqgo/amq/internal/sasl"
	"github.com/amqgo/amq/internal/saslmech"
)

// supportedMechanisms are the SASL mechanisms the client can run,
// strongest first (the order in which they are preferred, reference 7.3).
var supportedMechanisms = saslmech.ClientNames()

func supportedMechanism(m string) bool { return slices.Contains(supportedMechanisms, m) }

// KerberosOptions locate the Kerberos set-up used by SASL GSSAPI
// (reference 7.4). The zero value uses the environment as kinit leaves it.
type KerberosOptions struct {
	// Config is the krb5.conf path. Default: $KRB5_CONFIG, else /etc/krb5.conf.
	Config string
	// CCache is the credential cache, found as MIT Kerberos finds it:
	// this field, else $KRB5CCNAME, else default_ccache_name in the
	// [libdefaults] of krb5.conf (its %{uid}, %{euid}, %{USERID},
	// %{username}, %{TEMP} and %{null} expanded), else
	// FILE:/tmp/krb5cc_UID. amq reads FILE caches ("FILE:path" or a bare
	// path) and DIR caches ("DIR:dir", its primary cache, or
	// "DIR::dir/tktNAME"). KEYRING, KCM, MEMORY and API caches are an
	// error: for those, export KRB5CCNAME=FILE:/tmp/krb5cc_$(id -u)
	// before kinit.
	CCache string
	// Keytab and Principal log in from a keytab instead of a cache.
	Keytab    string
	Principal string
	// Service is the service name of the broker's principal
	// (SERVICE/host). Default "amqp".
	Service string
}

// negotiateSASL runs the SASL exchange on nc and returns the mechanism used.
func negotiateSASL(ctx context.Context, nc net.Conn, cfg *connectConfig, ep endpoint, tlsCfg *tls.Config) (string, error) {
	sc := &sasl.Config{
		Mechanisms:    cfg.SASL.Mechanisms,
		User:          ep.User,
		Password:      ep.Password,
		HasUser:       ep.HasUser,
		XOAUTH2Token:  cfg.SASL.XOAUTH2Token,
		TLS:           tlsCfg != nil,
		ClientCert:    tlsCfg != nil && (len(tlsCfg.Certificates) > 0 || tlsCfg.GetClientCertificate != nil),
		AllowInsecure: cfg.allowInsecure(),
		Hostname:      ep.Host,
		VirtualHost:   cfg.VirtualHost,
		Kerberos: sasl.KerberosConfig{
			ConfigPath:  cfg.SASL.Kerberos.Config,
			CCache:      cfg.SASL.Kerberos.CCache,
			Keytab:      cfg.SASL.Kerberos.Keytab,
			Principal:   cfg.SASL.Kerberos.Principal,
			ServiceName: cfg.SASL.Kerberos.Service,
		},
	}
	if cfg.User != "" {
		// Credentials in options win over credentials in the URL.
		sc.User, sc.Password, sc.HasUser = cfg.User, cfg.Password, true
	}
	res, err := sasl.Negotiate(ctx, nc, sc)
	if err == nil {
		return res.Mechanism, nil
	}
	if ctxErr := deadlineErr(ctx, err); ctxErr != nil {
		return "", &Error{Scope: ScopeTransport, Op: "authenticate with", Address: ep.String(), Err: errors.Join(ctxErr, err)}
	}
	op := "authenticate with"
	var ae *sasl.AuthError
	if errors.As(err, &ae) {
		op = "authenticate (SASL " + ae.Mechanism + ") with"
		if ae.Temporary() {
			// sys-temp: the server asks to be tried again later.
			return "", &Error{Scope: ScopeConnection, Op: op, Address: ep.String(), Err: err}
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(err.Error(), "EOF") {
		// The connection broke during the exchange: a transport failure,
		// worth retrying, not an authentication verdict.
		return "", &Error{Scope: ScopeTransport, Op: op, Address: ep.String(), Err: err}
	}
	return "", &Error{Scope: ScopeSASL, Op: op, Address: ep.String(), Err: err}
}

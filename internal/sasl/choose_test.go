package sasl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	all := []string{Anonymous, Plain, SCRAMSHA1, SCRAMSHA256, SCRAMSHA512, External, GSSAPI, XOAUTH2}
	pw := Config{User: testUser, Password: testPassword, HasUser: true}
	with := func(c Config, f func(*Config)) Config { f(&c); return c }
	for _, tc := range []struct {
		name    string
		offered []string
		cfg     Config
		want    string
		wantErr any
	}{
		{"password picks SCRAM-SHA-512, not GSSAPI without Kerberos", all, pw, SCRAMSHA512, nil},
		{"client cert picks EXTERNAL", all, with(pw, func(c *Config) { c.ClientCert, c.TLS = true, true }), External, nil},
		{"nothing given picks ANONYMOUS", all, Config{}, Anonymous, nil},
		{"token beats PLAIN", []string{Plain, XOAUTH2}, with(pw, func(c *Config) { c.XOAUTH2Token, c.TLS = "t", true }), XOAUTH2, nil},
		{"SCRAM beats token", []string{SCRAMSHA1, XOAUTH2}, with(pw, func(c *Config) { c.XOAUTH2Token, c.TLS = "t", true }), SCRAMSHA1, nil},
		{"PLAIN on TLS", []string{Plain, Anonymous}, with(pw, func(c *Config) { c.TLS = true }), Plain, nil},
		{"PLAIN on cleartext allowed", []string{Plain}, with(pw, func(c *Config) { c.AllowInsecure = true }), Plain, nil},
		{"PLAIN on cleartext refused, no fallback to ANONYMOUS", []string{Plain, Anonymous}, pw, "", &InsecureError{}},
		{"XOAUTH2 on cleartext refused", []string{XOAUTH2}, Config{XOAUTH2Token: "t"}, "", &InsecureError{}},
		{"explicit GSSAPI without Kerberos is still chosen", all, with(pw, func(c *Config) { c.Mechanisms = []string{GSSAPI} }), GSSAPI, nil},
		{"EXTERNAL without a certificate", []string{External}, pw, "", &NoMechanismError{}},
		{"user without SCRAM or PLAIN offered", []string{Anonymous}, pw, "", &NoMechanismError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Kerberos = noKerberos
			allowed, err := normalizeMechanisms(tc.cfg.Mechanisms)
			if err != nil {
				t.Fatal(err)
			}
			m, err := choose(tc.offered, allowed, &tc.cfg)
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatal(err)
				}
				if m.name() != tc.want {
					t.Fatalf("chose %s, want %s", m.name(), tc.want)
				}
			case *InsecureError:
				if !errors.As(err, &want) {
					t.Fatalf("got %v, want *InsecureError", err)
				}
			case *NoMechanismError:
				if !errors.As(err, &want) {
					t.Fatalf("got %v, want *NoMechanismError", err)
				}
			}
		})
	}
}

func TestKerberosCredentialsFound(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n  default_realm = AMQ.TEST\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{User: testUser, Password: testPassword, HasUser: true, Kerberos: KerberosConfig{ConfigPath: conf, CCache: "FILE:" + filepath.Join(dir, "none")}}
	krb := lazyKerberos{cfg: &cfg.Kerberos}
	if err := krb.usable(); err == nil || !errContains(err, "run kinit") {
		t.Fatalf("missing ccache: %v", err)
	}
	cfg.Kerberos.CCache = "KEYRING:persistent:0"
	krb = lazyKerberos{cfg: &cfg.Kerberos}
	if err := krb.usable(); !errContains(err, "of type KEYRING") {
		t.Fatalf("keyring ccache: %v", err)
	}
	// A keytab makes GSSAPI a candidate without any KDC traffic.
	kt := filepath.Join(dir, "alice.keytab")
	if err := os.WriteFile(kt, newKeytab(t, "alice", "pw").bytes(t), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Kerberos = KerberosConfig{ConfigPath: conf, Keytab: kt, Principal: "alice"}
	m, err := choose([]string{GSSAPI, SCRAMSHA512}, nil, &cfg)
	if err != nil || m.name() != GSSAPI {
		t.Fatalf("with a keytab: %v, %v", m, err)
	}
}

func errContains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

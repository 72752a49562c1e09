package amq

import (
	"github.com/amqgo/amq/internal/connectfile"
)

// ConnectConfig is a connect.json file (reference chapter 13), read and
// turned into what Dial takes.
type ConnectConfig struct {
	// Path is the file it was read from; empty for the defaults used when
	// no file exists.
	Path string
	// URL is scheme://host:port from the file (scheme://host:port/path for
	// amqpws and amqpwss), without credentials.
	URL string
	// Options holds the file's user, password, sasl and tls settings.
	Options ConnectOptions
}

// defaultConnectURL is what an empty connect.json means: the reference
// implementation's defaults (scheme amqps, host localhost, port 5671).
const defaultConnectURL = "amqps://localhost:5671"

// ConnectConfigPaths returns the places searched for connect.json, in
// order: $MESSAGING_CONNECT_FILE alone when it is set; otherwise
// ./connect.json, $HOME/.config/messaging/connect.json and
// /etc/messaging/connect.json.
func ConnectConfigPaths() []string { return connectfile.SearchPaths() }

// LoadConnectConfig reads a connect.json file: JSON with // and /* */
// comments and trailing commas; keys scheme, host, port, user, password,
// sasl.mechanisms, sasl.enabled, sasl.allow_insecure, tls.cert, tls.key,
// tls.ca, tls.verify. As an extension of the reference, scheme may be
// amqpws or amqpwss (AMQP over WebSockets, default ports 80 and 443),
// and the key path gives their HTTP path. Errors name the file, line and
// column; unknown keys are errors, so that a typo is not silently
// ignored. The password never appears in an error.
func LoadConnectConfig(path string) (*ConnectConfig, error) {
	f, err := connectfile.Load(path)
	if err != nil {
		return nil, err
	}
	return configFromFile(f), nil
}

// FindConnectConfig loads the first connect.json of ConnectConfigPaths.
// With no file it returns nil and no error; with MESSAGING_CONNECT_FILE
// set to a file that does not exist it returns an error (where Proton
// silently uses an empty configuration).
func FindConnectConfig() (*ConnectConfig, error) {
	path, found, err := connectfile.Find()
	if err != nil || !found {
		return nil, err
	}
	return LoadConnectConfig(path)
}

func configFromFile(f *connectfile.File) *ConnectConfig {
	cc := &ConnectConfig{Path: f.Path, URL: f.URL()}
	o := &cc.Options
	if f.HasUser {
		o.User, o.Password = f.User, f.Password
	}
	o.SASL.Mechanisms = f.SASL.Mechanisms
	enabled := f.SASL.Enabled
	o.SASL.Enabled = &enabled
	o.SASL.AllowInsecure = f.SASL.AllowInsecure
	o.TLS.Cert, o.TLS.Key, o.TLS.CA = f.TLS.Cert, f.TLS.Key, f.TLS.CA
	verify := f.TLS.Verify
	o.TLS.Verify = &verify
	return cc
}

// applyConnectFile merges a connect.json into the options given in code:
// what the file sets overrides them (reference 13). Keys whose value is the
// file's default (sasl.enabled true, tls.verify true) leave the code's
// setting alone.
func applyConnectFile(cfg *connectConfig, cc *ConnectConfig) {
	fo := cc.Options
	if fo.User != "" {
		cfg.User, cfg.Password = fo.User, fo.Password
	}
	if len(fo.SASL.Mechanisms) > 0 {
		cfg.SASL.Mechanisms = fo.SASL.Mechanisms
	}
	if fo.SASL.Enabled != nil && !*fo.SASL.Enabled {
		cfg.SASL.Enabled = fo.SASL.Enabled
	}
	if fo.SASL.AllowInsecure != nil {
		cfg.SASL.AllowInsecure = fo.SASL.AllowInsecure
	}
	if fo.TLS.Cert != "" {
		cfg.TLS.Cert, cfg.TLS.Key = fo.TLS.Cert, fo.TLS.Key
	}
	if fo.TLS.CA != "" {
		cfg.TLS.CA = fo.TLS.CA
	}
	if fo.TLS.Verify != nil && !*fo.TLS.Verify {
		cfg.TLS.Verify = fo.TLS.Verify
	}
}

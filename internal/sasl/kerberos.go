package sasl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"
)

// lazyKerberos loads the Kerberos client credentials on first use, from
// files only (no KDC traffic), so that choose can tell whether GSSAPI is
// possible without the cost or the failure of contacting a KDC.
type lazyKerberos struct {
	cfg    *KerberosConfig
	loaded bool
	cl     *client.Client
	err    error
}

// usable is nil when Kerberos credentials were found, else why not.
func (k *lazyKerberos) usable() error {
	_, err := k.client()
	return err
}

func (k *lazyKerberos) client() (*client.Client, error) {
	if !k.loaded {
		k.loaded = true
		k.cl, k.err = loadKerberos(k.cfg)
	}
	return k.cl, k.err
}

// loadKerberos builds a gokrb5 client from krb5.conf and either a keytab
// (KerberosConfig.Keytab + Principal) or the credential cache kinit left.
func loadKerberos(kc *KerberosConfig) (*client.Client, error) {
	confFiles := krb5ConfFiles(kc.ConfigPath)
	confPath := confFiles[0] // gokrb5 reads one file: the main one
	conf, err := config.Load(confPath)
	if err != nil {
		return nil, fmt.Errorf("cannot load Kerberos configuration %s: %v", confPath, err)
	}
	// FAST armouring needs a host key the client rarely has; MIT's kinit
	// uses it only when told to.
	disableFAST := client.DisablePAFXFAST(true)

	if kc.Keytab != "" || kc.Principal != "" {
		if kc.Keytab == "" || kc.Principal == "" {
			return nil, fmt.Errorf("gssapi: Kerberos keytab login needs both Keytab and Principal")
		}
		kt, err := keytab.Load(kc.Keytab)
		if err != nil {
			return nil, fmt.Errorf("cannot load Kerberos keytab %s: %v", kc.Keytab, err)
		}
		user, realm, ok := strings.Cut(kc.Principal, "@")
		if !ok {
			realm = conf.LibDefaults.DefaultRealm
		}
		if realm == "" {
			return nil, fmt.Errorf("gssapi: Kerberos principal %q has no realm and krb5.conf sets no default_realm", kc.Principal)
		}
		return client.NewWithKeytab(user, realm, kt, conf, disableFAST), nil
	}

	path, err := ccacheFile(kc.CCache, confFiles)
	if err != nil {
		return nil, err
	}
	cc, err := loadCCache(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no Kerberos ticket cache at %s (run kinit)", path)
		}
		return nil, fmt.Errorf("cannot read Kerberos ticket cache %s: %v", path, err)
	}
	tgt, ok := cc.GetEntry(types.PrincipalName{
		NameType:   nametype.KRB_NT_SRV_INST,
		NameString: []string{"krbtgt", cc.GetClientRealm()},
	})
	if !ok {
		return nil, fmt.Errorf("gssapi: Kerberos ticket cache %s holds no ticket-granting ticket (run kinit)", path)
	}
	if time.Now().After(tgt.EndTime) {
		return nil, fmt.Errorf("the Kerberos ticket in %s expired at %s (run kinit)", path, tgt.EndTime.Format(time.RFC3339))
	}
	cl, err := client.NewFromCCache(cc, conf, disableFAST)
	if err != nil {
		return nil, fmt.Errorf("cannot use Kerberos ticket cache %s: %v", path, err)
	}
	return cl, nil
}

// krb5ConfFiles lists the krb5.conf files: the configured one, else those
// $KRB5_CONFIG lists (colon-separated, the first the main one), else
// /etc/krb5.conf.
func krb5ConfFiles(configured string) []string {
	if configured != "" {
		return []string{configured}
	}
	var files []string
	for _, f := range strings.Split(os.Getenv("KRB5_CONFIG"), ":") {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		files = []string{"/etc/krb5.conf"}
	}
	return files
}

// maxCCacheBytes bounds a credential cache read: kinit's caches hold a
// few tickets of a few kilobytes each.
const maxCCacheBytes = 4 << 20

// loadCCache reads a FILE credential cache. gokrb5's parser indexes past
// the end of a truncated cache and panics; an empty or half-written file
// in /tmp must fail the GSSAPI candidate, not crash the program.
func loadCCache(path string) (cc *credentials.CCache, err error) {
	b, err := readFileMax(path, maxCCacheBytes)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			cc, err = nil, fmt.Errorf("truncated or corrupt cache (%v)", r)
		}
	}()
	cc = new(credentials.CCache)
	if err := cc.Unmarshal(b); err != nil {
		return nil, err
	}
	return cc, nil
}

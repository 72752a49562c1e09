package sasl

import (
	"fmt"
	"os"
	"strconv"
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
	confPath := kc.ConfigPath
	if confPath == "" {
		// KRB5_CONFIG may list several files; the first is the main one.
		confPath, _, _ = strings.Cut(os.Getenv("KRB5_CONFIG"), ":")
	}
	if confPath == "" {
		confPath = "/etc/krb5.conf"
	}
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

	path, err := ccachePath(kc.CCache)
	if err != nil {
		return nil, err
	}
	cc, err := credentials.LoadCCache(path)
	if err != nil {
		if os.IsNotExist(err) {
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

// ccachePath resolves the credential cache as MIT Kerberos does: the
// configured name, else $KRB5CCNAME, else /tmp/krb5cc_UID.
func ccachePath(name string) (string, error) {
	if name == "" {
		name = os.Getenv("KRB5CCNAME")
	}
	if name == "" {
		return "/tmp/krb5cc_" + strconv.Itoa(os.Getuid()), nil
	}
	if p, ok := strings.CutPrefix(name, "FILE:"); ok {
		return p, nil
	}
	if typ, _, ok := strings.Cut(name, ":"); ok && !strings.Contains(typ, "/") {
		return "", fmt.Errorf("gssapi: Kerberos credential cache %q: only FILE: caches are supported (set KRB5CCNAME=FILE:/path and run kinit)", name)
	}
	return name, nil
}

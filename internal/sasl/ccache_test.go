package sasl

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeFiles writes files (name → content, "/" separated) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCCacheFile(t *testing.T) {
	uid := strconv.Itoa(os.Getuid())
	euid := strconv.Itoa(os.Geteuid())
	const fileCC = "FILE:/tmp/krb5cc_" // how the unreadable types' error says to fix it
	for _, tc := range []struct {
		name       string
		configured string
		env        string            // $KRB5CCNAME
		conf       string            // default_ccache_name in krb5.conf; "" for none
		files      map[string]string // under the test's directory, "D/" in the strings
		want       string            // the path; "D/" is the test's directory
		wantErr    []string          // substrings of the error
	}{
		{name: "built-in default", want: "/tmp/krb5cc_" + uid},
		{name: "configured FILE: beats the environment and krb5.conf", configured: "FILE:D/mine", env: "FILE:D/env", conf: "FILE:D/conf", want: "D/mine"},
		{name: "configured bare path", configured: "D/mine", want: "D/mine"},
		{name: "KRB5CCNAME beats krb5.conf", env: "FILE:D/env", conf: "FILE:D/conf", want: "D/env"},
		{name: "KRB5CCNAME bare path", env: "D/env", want: "D/env"},
		{name: "KRB5CCNAME is not expanded", env: "FILE:D/cc_%{uid}", want: "D/cc_%{uid}"},
		{name: "krb5.conf FILE: with the uid", conf: "FILE:D/krb5cc_%{uid}", want: "D/krb5cc_" + uid},
		{name: "krb5.conf TEMP is TMPDIR", conf: "FILE:%{TEMP}/krb5cc_%{euid}", want: "D/tmp/krb5cc_" + euid},
		{name: "krb5.conf USERID and null", conf: "D/cc_%{USERID}%{null}", want: "D/cc_" + uid},
		{name: "krb5.conf literal percent", conf: "FILE:D/100%_%{uid}", want: "D/100%_" + uid},
		{name: "DIR: with a primary file", conf: "DIR:D/cc", files: map[string]string{"cc/primary": "tkt7Xq\n"}, want: "D/cc/tkt7Xq"},
		{name: "DIR: without a primary file", conf: "DIR:D/cc", want: "D/cc/tkt"},
		{name: "DIR: primary without its newline", env: "DIR:D/cc", files: map[string]string{"cc/primary": "tkt7"}, want: "D/cc/tkt"},
		{name: "DIR: primary outside the collection", env: "DIR:D/cc", files: map[string]string{"cc/primary": "tkt/../../x\n"}, want: "D/cc/tkt"},
		{name: "DIR: primary not a tkt file", env: "DIR:D/cc", files: map[string]string{"cc/primary": "primary\n"}, want: "D/cc/tkt"},
		{name: "DIR::path is that cache", env: "DIR::D/cc/tktABC", want: "D/cc/tktABC"},
		{name: "KEYRING: from krb5.conf", conf: "KEYRING:persistent:%{uid}", wantErr: []string{`"KEYRING:persistent:` + uid + `"`, "default_ccache_name in D/krb5.conf", "of type KEYRING", "FILE: and DIR: caches only", "KRB5CCNAME=" + fileCC + uid, "kinit -c " + fileCC + uid}},
		{name: "KCM: from the environment", env: "KCM:", wantErr: []string{"$KRB5CCNAME", "of type KCM", "KRB5CCNAME=" + fileCC + uid}},
		{name: "MEMORY: configured", configured: "MEMORY:x", wantErr: []string{"the configured CCache", "of type MEMORY"}},
		{name: "API:", env: "API:x", wantErr: []string{"of type API"}},
		{name: "unknown type", env: "NOPE:x", wantErr: []string{`unknown type "NOPE"`}},
		{name: "FILE: with no path", env: "FILE:", wantErr: []string{"names no file"}},
		{name: "unsupported parameter", conf: "FILE:%{LIBDIR}/cc", wantErr: []string{"%{LIBDIR}", "default_ccache_name in D/krb5.conf", "amq expands %{TEMP}"}},
		{name: "unclosed parameter", conf: "FILE:/tmp/cc_%{uid", wantErr: []string{"no closing brace"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := func(s string) string { return strings.ReplaceAll(s, "D/", dir+"/") }
			t.Setenv("KRB5CCNAME", d(tc.env))
			t.Setenv("TMPDIR", filepath.Join(dir, "tmp"))
			writeFiles(t, dir, tc.files)
			conf := filepath.Join(dir, "krb5.conf")
			body := "[libdefaults]\n  default_realm = AMQ.TEST\n"
			if tc.conf != "" {
				body += "  default_ccache_name = " + d(tc.conf) + "\n"
			}
			writeFiles(t, dir, map[string]string{"krb5.conf": body})

			got, err := ccacheFile(d(tc.configured), []string{conf})
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), d(s)) {
						t.Errorf("error %q lacks %q", err, d(s))
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.FromSlash(d(tc.want)); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestExpandParamsUsername(t *testing.T) {
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		t.Skipf("no user name for this euid: %v", err)
	}
	got, err := expandParams("FILE:/tmp/krb5cc_%{username}")
	if err != nil || got != "FILE:/tmp/krb5cc_"+u.Username {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestConfDefaultCCacheName(t *testing.T) {
	for _, tc := range []struct {
		name      string
		files     map[string]string // relative to the test's directory
		list      []string          // the krb5.conf files, in order
		want      string
		wantFile  string
		wantErr   string
		wantEmpty bool
	}{
		{
			name:     "plain",
			files:    map[string]string{"krb5.conf": "[libdefaults]\n default_ccache_name = FILE:/a\n"},
			want:     "FILE:/a",
			wantFile: "krb5.conf",
		},
		{
			name:      "none",
			files:     map[string]string{"krb5.conf": "[libdefaults]\n default_realm = X\n"},
			wantEmpty: true,
		},
		{
			name: "comments, other sections, realm subsections and CRLF",
			files: map[string]string{"krb5.conf": "# default_ccache_name = FILE:/hash\r\n" +
				"[libdefaults]\r\n" +
				";default_ccache_name = FILE:/semicolon\r\n" +
				"  #default_ccache_name = FILE:/indented\r\n" +
				"  AMQ.TEST = {\r\n" +
				"    default_ccache_name = FILE:/realm\r\n" +
				"  }\r\n" +
				"  OTHER.TEST =\r\n" +
				"  {\r\n" +
				"    default_ccache_name = FILE:/brace-on-next-line\r\n" +
				"  }\r\n" +
				"[realms]\r\n" +
				"  default_ccache_name = FILE:/realms\r\n" +
				"[libdefaults]\r\n" +
				"\tdefault_ccache_name = FILE:/b  \r\n"},
			want:     "FILE:/b",
			wantFile: "krb5.conf",
		},
		{
			name:     "first value wins",
			files:    map[string]string{"krb5.conf": "[libdefaults]\ndefault_ccache_name = FILE:/first\ndefault_ccache_name = FILE:/second\n"},
			want:     "FILE:/first",
			wantFile: "krb5.conf",
		},
		{
			name:     "quoted, final",
			files:    map[string]string{"krb5.conf": "[libdefaults]*\ndefault_ccache_name* = \"FILE:/with space/\\\"q\\\"\" \n"},
			want:     `FILE:/with space/"q"`,
			wantFile: "krb5.conf",
		},
		{
			name:      "names are case-sensitive",
			files:     map[string]string{"krb5.conf": "[LibDefaults]\ndefault_ccache_name = FILE:/a\n[libdefaults]\nDefault_CCache_Name = FILE:/b\n"},
			wantEmpty: true,
		},
		{
			// RHEL 9: the includedir at the top of /etc/krb5.conf comes
			// first, so sssd-kcm's drop-in wins over the main file.
			name: "includedir before the main file's value",
			files: map[string]string{
				"krb5.conf":                   "includedir D/krb5.conf.d/\n\n[libdefaults]\n default_ccache_name = KEYRING:persistent:%{uid}\n",
				"krb5.conf.d/kcm_default":     "[libdefaults]\n default_ccache_name = KCM:\n",
				"krb5.conf.d/crypto-policies": "[libdefaults]\n permitted_enctypes = aes256-cts\n",
			},
			want:     "KCM:",
			wantFile: "krb5.conf.d/kcm_default",
		},
		{
			name: "includedir skips dot files, editor backups and directories, reads in name order",
			files: map[string]string{
				"krb5.conf":           "[libdefaults]\n default_realm = X\nincludedir D/d\n",
				"d/.hidden":           "[libdefaults]\n default_ccache_name = FILE:/hidden\n",
				"d/a.rpmsave":         "[libdefaults]\n default_ccache_name = FILE:/rpmsave\n",
				"d/a~":                "[libdefaults]\n default_ccache_name = FILE:/backup\n",
				"d/a_dir/x":           "[libdefaults]\n default_ccache_name = FILE:/subdir\n",
				"d/b.conf":            "[libdefaults]\n default_ccache_name = FILE:/b.conf\n",
				"d/c-1":               "[libdefaults]\n default_ccache_name = FILE:/c-1\n",
				"d/a-plain_name-with": "[realms]\n default_ccache_name = FILE:/not-libdefaults\n",
			},
			want:     "FILE:/b.conf",
			wantFile: "d/b.conf",
		},
		{
			name: "an included file starts outside any section",
			files: map[string]string{
				"krb5.conf": "[libdefaults]\ninclude D/inc\n",
				"inc":       "default_ccache_name = FILE:/no-section\n",
			},
			wantEmpty: true,
		},
		{
			name: "the includer's section continues after the include",
			files: map[string]string{
				"krb5.conf": "[libdefaults]\ninclude D/inc\ndefault_ccache_name = FILE:/after\n",
				"inc":       "[realms]\n",
			},
			want:     "FILE:/after",
			wantFile: "krb5.conf",
		},
		{
			name: "include, and an indented include is not a directive",
			files: map[string]string{
				"krb5.conf": "  include D/not\ninclude\tD/inc\n",
				"inc":       "[libdefaults]\ndefault_ccache_name = DIR:/x\n",
			},
			want:     "DIR:/x",
			wantFile: "inc",
		},
		{
			name:  "missing files in the list are skipped",
			files: map[string]string{"second.conf": "[libdefaults]\ndefault_ccache_name = FILE:/second\n"},
			list:  []string{"missing.conf", "second.conf"},
			want:  "FILE:/second", wantFile: "second.conf",
		},
		{
			name:    "a missing include is an error",
			files:   map[string]string{"krb5.conf": "include D/missing\n"},
			wantErr: "krb5.conf line 1",
		},
		{
			name:    "an include loop ends",
			files:   map[string]string{"krb5.conf": "include D/krb5.conf\n"},
			wantErr: "nested deeper than",
		},
		{
			name:    "a huge file is refused",
			files:   map[string]string{"krb5.conf": "[libdefaults]\n#" + strings.Repeat("x", maxConfBytes) + "\n"},
			wantErr: "larger than",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := func(s string) string { return strings.ReplaceAll(s, "D/", dir+"/") }
			files := make(map[string]string, len(tc.files))
			for name, content := range tc.files {
				files[name] = d(content)
			}
			writeFiles(t, dir, files)
			names := tc.list
			if names == nil {
				names = []string{"krb5.conf"}
			}
			var list []string
			for _, name := range names {
				list = append(list, filepath.Join(dir, name))
			}
			got, file, err := confDefaultCCacheName(list)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tc.wantEmpty:
				if got != "" || file != "" {
					t.Fatalf("got %q from %s, want nothing", got, file)
				}
			default:
				if want := filepath.Join(dir, tc.wantFile); got != tc.want || file != want {
					t.Fatalf("got %q from %s, want %q from %s", got, file, tc.want, want)
				}
			}
		})
	}
}

func TestIncludeLimitCountsFiles(t *testing.T) {
	// A wide tree of includes, each shallow, still hits the file bound.
	dir := t.TempDir()
	files := map[string]string{}
	for i := range maxConfFiles + 1 {
		files["d/f"+strconv.Itoa(i)] = "[libdefaults]\n"
	}
	files["krb5.conf"] = "includedir " + filepath.Join(dir, "d") + "\n"
	writeFiles(t, dir, files)
	if _, _, err := confDefaultCCacheName([]string{filepath.Join(dir, "krb5.conf")}); !errContains(err, "files included") {
		t.Fatalf("got %v", err)
	}
}

// TestLoadKerberosFollowsKrb5Conf runs the whole lookup as a stock RHEL
// machine has it: no KRB5CCNAME, the cache named by krb5.conf.
func TestLoadKerberosFollowsKrb5Conf(t *testing.T) {
	uid := strconv.Itoa(os.Getuid())
	dir := t.TempDir()
	t.Setenv("KRB5CCNAME", "")
	t.Setenv("KRB5_CONFIG", "")
	conf := filepath.Join(dir, "krb5.conf")
	writeConf := func(ccache string) {
		writeFiles(t, dir, map[string]string{"krb5.conf": "[libdefaults]\n  default_realm = AMQ.TEST\n  default_ccache_name = " + ccache + "\n"})
	}
	kc := &KerberosConfig{ConfigPath: conf}

	writeConf("FILE:" + dir + "/krb5cc_%{uid}")
	want := filepath.Join(dir, "krb5cc_"+uid)
	if _, err := loadKerberos(kc); !errContains(err, "no Kerberos ticket cache at "+want+" (run kinit)") {
		t.Fatalf("FILE: %v", err)
	}
	// An empty or cut-short cache is an error, not a crash in gokrb5.
	for _, b := range []string{"", "\x05", "\x05\x04\x00\x0c\x00"} {
		writeFiles(t, dir, map[string]string{"krb5cc_" + uid: b})
		if _, err := loadKerberos(kc); !errContains(err, "cannot read Kerberos ticket cache "+want) {
			t.Fatalf("cache % x: %v", b, err)
		}
	}

	writeConf("DIR:" + dir + "/cc")
	writeFiles(t, dir, map[string]string{"cc/primary": "tktAbC\n"})
	if _, err := loadKerberos(kc); !errContains(err, "no Kerberos ticket cache at "+filepath.Join(dir, "cc", "tktAbC")) {
		t.Fatalf("DIR: %v", err)
	}

	writeConf("KEYRING:persistent:%{uid}")
	if _, err := loadKerberos(kc); !errContains(err, "of type KEYRING") || !errContains(err, "KRB5CCNAME=FILE:/tmp/krb5cc_"+uid) {
		t.Fatalf("KEYRING: %v", err)
	}

	// KRB5_CONFIG lists several files; the cache name may be in any.
	t.Setenv("KRB5_CONFIG", conf+":"+filepath.Join(dir, "extra.conf"))
	writeFiles(t, dir, map[string]string{
		"krb5.conf":  "[libdefaults]\n  default_realm = AMQ.TEST\n",
		"extra.conf": "[libdefaults]\n  default_ccache_name = FILE:" + dir + "/extra_cc\n",
	})
	if _, err := loadKerberos(&KerberosConfig{}); !errContains(err, "no Kerberos ticket cache at "+filepath.Join(dir, "extra_cc")) {
		t.Fatalf("KRB5_CONFIG list: %v", err)
	}
}

package connectfile

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzParse checks that Parse never panics, and that what it returns is
// either a usable File or a positioned *Error.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tt := range errorCases {
		if len(tt.in) < 200 {
			f.Add([]byte(tt.in))
		}
	}
	for _, s := range []string{
		`{"host": "::1", "port": "amqp", "sasl": {"mechanisms": "A B"}, "tls": {"cert": "c", "key": "k"}}`,
		"\uFEFF{/**/\"user\"//\n:\"u\",}",
		`{"host": "fe80::1%eth0"}`,
		`{"sasl": {"mechanisms": ["", " "]}}`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("connect.json", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			if file != nil {
				t.Fatalf("a File with an error")
			}
			if e.Path != "connect.json" || e.Line < 0 || e.Column < 0 || (e.Line == 0) != (e.Column == 0) {
				t.Fatalf("bad error position: %q", err)
			}
			return
		}
		if file.Scheme != "amqp" && file.Scheme != "amqps" {
			t.Fatalf("scheme %q", file.Scheme)
		}
		if file.Port < 1 || file.Port > 65535 || file.Host == "" {
			t.Fatalf("address %q:%d", file.Host, file.Port)
		}
		if !file.HasUser && (file.User != "" || file.Password != "") {
			t.Fatalf("credentials without HasUser")
		}
		if (file.TLS.Cert == "") != (file.TLS.Key == "") {
			t.Fatalf("cert %q without key %q", file.TLS.Cert, file.TLS.Key)
		}
		for _, m := range file.SASL.Mechanisms {
			if _, bad := badMechanismChar(m); bad || m == "" {
				t.Fatalf("mechanism %q", m)
			}
		}
		u, err := url.Parse(file.URL())
		if err != nil {
			t.Fatalf("URL() = %q does not parse: %v", file.URL(), err)
		}
		if u.Hostname() != file.Host || u.Port() != strconv.Itoa(file.Port) {
			t.Fatalf("URL() = %q reads back as %q %q, want %q %d", file.URL(), u.Hostname(), u.Port(), file.Host, file.Port)
		}
	})
}

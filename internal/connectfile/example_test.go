package connectfile_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/amqgo/amq/internal/connectfile"
)

func ExampleParse() {
	f, err := connectfile.Parse("connect.json", []byte(`{
		// reference 13.2
		"host": "example.com",
		"user": "ortega",
		"password": "secret",
		"sasl": {"mechanisms": ["SCRAM-SHA-1", "SCRAM-SHA-256"]},
		"tls": {"cert": "/home/ortega/cert.pem", "key": "/home/ortega/key.pem"},
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.URL())
	fmt.Println(f.User, f.SASL.Mechanisms, f.TLS.Verify)
	// Output:
	// amqps://example.com:5671
	// ortega [SCRAM-SHA-1 SCRAM-SHA-256] true
}

func ExampleParse_error() {
	_, err := connectfile.Parse("connect.json", []byte(`{
		"host": "example.com",
		"tls": {"verfy": false}
	}`))
	fmt.Println(err)
	// Output:
	// connect.json:3:11: unknown key "tls.verfy" (did you mean "tls.verify"?)
}

func ExampleLoad() {
	_, err := connectfile.Load(filepath.Join(os.TempDir(), "no-such-dir", "connect.json"))
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output:
	// true
}

func ExampleFind() {
	path, found, err := connectfile.Find()
	switch {
	case err != nil:
		fmt.Println("connect.json:", err)
	case !found:
		fmt.Println("no connect.json; using the defaults")
	default:
		f, err := connectfile.Load(path)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("connecting to", f.URL())
	}
}

func ExampleSearchPaths() {
	for _, p := range connectfile.SearchPaths() {
		fmt.Println(p)
	}
}

func ExampleFile_URL() {
	f, _ := connectfile.Parse("connect.json", []byte(`{"scheme": "amqp", "host": "::1", "port": "amqps"}`))
	fmt.Println(f.URL())
	// Output:
	// amqp://[::1]:5671
}

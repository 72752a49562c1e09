package connectfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/tailscale/hujson"
)

// maxSize bounds what Load reads and Parse accepts. A real connect.json is
// a few hundred bytes; the bound keeps a variable pointing at /dev/zero or a
// log file from eating memory, and keeps the parser's recursion shallow.
const maxSize = 1 << 20

// maxBrackets bounds the number of '{' and '[' in a file. hujson parses
// by recursion without a depth limit, and a million nested brackets
// overflow the goroutine stack, which no recover can catch. Counting them
// all (in strings and comments too) bounds the depth without a second
// parser; a real connect.json has three or four.
const maxBrackets = 1000

// Default ports of the schemes (reference 6.1; 80 and 443 for AMQP over
// WebSockets, amq's extension).
const (
	portAMQP    = 5672
	portAMQPS   = 5671
	portAMQPWS  = 80
	portAMQPWSS = 443
)

// File is a connect.json with every default applied: what a client needs to
// dial without a URL.
type File struct {
	// Path is where the file was read from.
	Path string
	// Scheme is "amqp", "amqps", or (amq's extension) "amqpws" or
	// "amqpwss" for AMQP over WebSockets. Default "amqps", the
	// reference's default when a configuration file is in use.
	Scheme string
	// Host is the host name or IP address, IPv6 without brackets.
	// Default "localhost".
	Host string
	// Port is 1-65535. Default 5671 for amqps, 5672 for amqp, 80 for
	// amqpws, 443 for amqpwss.
	Port int
	// HTTPPath is the key "path" (amq's extension): the HTTP path of the
	// WebSocket upgrade, for amqpws and amqpwss only; it starts with "/".
	// Empty for none.
	HTTPPath string
	// User is the user name; HasUser reports that one was given (an empty
	// string counts as none, as in the reference).
	User string
	// Password is the password. It is set only when HasUser is: the
	// reference ignores a password without a user.
	Password string
	// HasUser reports that the file names a user.
	HasUser bool
	// SASL holds the "sasl" section.
	SASL SASLConfig
	// TLS holds the "tls" section.
	TLS TLSConfig
}

// SASLConfig is the "sasl" section of connect.json.
type SASLConfig struct {
	// Mechanisms are the allowed SASL mechanisms, in the file's order; nil
	// means the client's defaults. The file may give a list of names or one
	// string of names separated by spaces.
	Mechanisms []string
	// Enabled is false when the file turns SASL off. Default true.
	Enabled bool
	// AllowInsecure allows mechanisms that send a cleartext password on a
	// connection without TLS; nil when the file does not say. Qpid Proton
	// 0.37 ignores this key; amq honours it.
	AllowInsecure *bool
}

// TLSConfig is the "tls" section of connect.json. File names are as
// written in the file.
type TLSConfig struct {
	// Cert is the client certificate file; Key is its private key. Either
	// both are set or neither is.
	Cert, Key string
	// CA is the file or directory of trusted CA certificates; empty means
	// the system's roots.
	CA string
	// Verify requires a valid server certificate whose name matches the
	// host. Default true.
	Verify bool
}

// URL returns the connection URL the file describes,
// scheme://host:port[/path], with an IPv6 host in brackets. It holds no
// credentials, so it is safe to log.
func (f *File) URL() string {
	u := url.URL{Scheme: f.Scheme, Host: net.JoinHostPort(f.Host, strconv.Itoa(f.Port)), Path: f.HTTPPath}
	return u.String()
}

// String describes the file for logs, with the password hidden.
func (f *File) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s", f.Path, f.URL())
	if f.HasUser {
		fmt.Fprintf(&b, " user=%q", f.User)
		if f.Password != "" {
			b.WriteString(" password=xxxxx")
		}
	}
	b.WriteString(")")
	return b.String()
}

// Load reads and parses the connect.json at path. A missing, unreadable or
// oversized file is an [*Error] that wraps the cause, so
// errors.Is(err, fs.ErrNotExist) tells a missing file apart.
func Load(path string) (*File, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, readError(path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, &Error{Path: path, Msg: "is a directory, not a file"}
	}
	// Not only regular files: a pipe such as MESSAGING_CONNECT_FILE=<(...)
	// is a fair way to hand a configuration over.
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, readError(path, err)
	}
	if len(data) > maxSize {
		return nil, tooLarge(path)
	}
	return data, nil
}

func readError(path string, err error) *Error {
	msg := err.Error()
	// An *fs.PathError repeats the path, which Error already starts with.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	return &Error{Path: path, Msg: "cannot read the file: " + msg, Err: err}
}

func checkBrackets(path string, data []byte) error {
	n := 0
	for i, c := range data {
		if c == '{' || c == '[' {
			if n++; n > maxBrackets {
				line, col := position(data, i)
				return &Error{Path: path, Line: line, Column: col, Msg: fmt.Sprintf("more than %d '{' and '[' in the file; a connect.json needs a handful", maxBrackets)}
			}
		}
	}
	return nil
}

func tooLarge(path string) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf("file is larger than %d bytes; is this really a connect.json?", maxSize)}
}

// Parse parses the content of a connect.json; path only names the file in
// File.Path and in errors.
func Parse(path string, data []byte) (*File, error) {
	if len(data) > maxSize {
		return nil, tooLarge(path)
	}
	// Editors on Windows like to start UTF-8 files with a byte order mark;
	// they do not show it, so columns on line 1 are counted without it.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if err := checkBrackets(path, data); err != nil {
		return nil, err
	}
	// hujson ends a // comment at a newline only, so a file whose last line
	// is a comment would not parse without one.
	size := len(data)
	if size > 0 && data[size-1] != '\n' {
		data = append(data[:len(data):len(data)], '\n')
	}
	root, err := hujson.Parse(data)
	if err != nil {
		return nil, syntaxError(path, data, size, err)
	}
	d := decoder{path: path, src: data}
	return d.file(&root)
}

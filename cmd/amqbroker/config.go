package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

var errHelp = errors.New("help requested")

// config is the parsed command line.
type config struct {
	listen           listenURLs
	tlsCert, tlsKey  string
	usersFile        string
	user, password   string
	passwordFile     string
	allowAnonymous   bool
	maxQueueMessages int
	maxQueueBytes    int64
	maxTotalBytes    int64
	maxConnections   int
	maxHandshakes    int
	maxLinks         int
	maxSessions      int
	maxMessageSize   uint64
	handshakeTimeout time.Duration
	verbose          bool
	pprof            string
}

// defaultListen is where amqbroker listens without -listen.
const defaultListen = "amqp://127.0.0.1:5672"

// listenURLs is the -listen flag: given several times, or with URLs
// separated by commas, amqbroker listens on each (amqp:// and amqpws://
// at once, say).
type listenURLs []string

func (l *listenURLs) String() string { return strings.Join(*l, ",") }

func (l *listenURLs) Set(v string) error {
	for u := range strings.SplitSeq(v, ",") {
		if u = strings.TrimSpace(u); u == "" {
			return errors.New("empty URL")
		}
		*l = append(*l, u)
	}
	return nil
}

// passwordEnv names the environment variable that may hold -user's
// password: unlike a flag, it is not shown in the process list.
const passwordEnv = "AMQBROKER_PASSWORD"

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	var c config
	fs := flag.NewFlagSet("amqbroker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&c.listen, "listen", "`URL` to listen on: amqp://, amqps://, amqpws:// or amqpwss:// (AMQP over WebSockets, with an optional /path); port 0 picks a free port; repeat the flag or separate URLs with commas to listen on several (default "+defaultListen+")")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate `FILE` for amqps://")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `FILE` for amqps://")
	fs.StringVar(&c.usersFile, "users", "", "`FILE` of users, one user:password per line")
	fs.StringVar(&c.user, "user", "", "user `NAME` (with -password)")
	fs.StringVar(&c.password, "password", "", "password of -user (visible in the process list: prefer $"+passwordEnv+" or -password-file)")
	fs.StringVar(&c.passwordFile, "password-file", "", "`FILE` whose first line is the password of -user")
	fs.BoolVar(&c.allowAnonymous, "allow-anonymous", false, "accept anonymous clients (required when no user is configured)")
	fs.IntVar(&c.maxQueueMessages, "max-queue-messages", 0, "bound on the messages a node holds (0: default 100000; -1: none)")
	fs.Int64Var(&c.maxQueueBytes, "max-queue-bytes", 0, "bound on the bytes a node holds (0: default 256 MiB; -1: none)")
	fs.Int64Var(&c.maxTotalBytes, "max-total-bytes", 0, "bound on the bytes of the messages all nodes hold together (0: default 1 GiB; -1: none)")
	fs.IntVar(&c.maxConnections, "max-connections", 0, fmt.Sprintf("bound on the live connections, handshakes included (0: default %d; -1: none)", server.DefaultMaxConnections))
	fs.IntVar(&c.maxHandshakes, "max-handshakes", 0, fmt.Sprintf("bound on the connections still in their handshake; a new one beyond it closes the oldest (0: default %d; -1: none)", server.DefaultMaxHandshakes))
	fs.IntVar(&c.maxSessions, "max-sessions", 0, fmt.Sprintf("bound on the sessions one connection may begin, 1 to 65536 (0: default %d)", int(server.DefaultChannelMax)+1))
	fs.IntVar(&c.maxLinks, "max-links", 0, fmt.Sprintf("bound on the links one connection has attached (0: default %d; -1: none)", server.DefaultMaxLinks))
	fs.Uint64Var(&c.maxMessageSize, "max-message-size", 0, fmt.Sprintf("largest message taken, in bytes (0: default %d)", server.DefaultMaxMessageSize))
	fs.DurationVar(&c.handshakeTimeout, "handshake-timeout", 0, fmt.Sprintf("time a connection has from accept to open (0: default %v; -1s: none)", server.DefaultHandshakeTimeout))
	fs.BoolVar(&c.verbose, "v", false, "debug logging")
	fs.StringVar(&c.pprof, "pprof", "", "serve net/http/pprof on `HOST:PORT` (e.g. 127.0.0.1:6060) for profiling")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: amqbroker [flags]\n\nAn in-memory AMQP 1.0 broker. With no user configured, -allow-anonymous is required.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	envPassword, inEnv := os.LookupEnv(passwordEnv)
	sources := 0
	for _, given := range []bool{c.password != "", c.passwordFile != "", inEnv && c.user != ""} {
		if given {
			sources++
		}
	}
	switch {
	case c.user == "" && (c.password != "" || c.passwordFile != ""):
		return nil, errors.New("-password and -password-file need -user")
	case c.user != "" && sources == 0:
		return nil, fmt.Errorf("-user needs a password: $%s, -password-file or -password", passwordEnv)
	case sources > 1:
		return nil, fmt.Errorf("-user's password is given more than once: use one of $%s, -password-file and -password", passwordEnv)
	}
	switch {
	case c.password != "":
		fmt.Fprintf(stderr, "amqbroker: warning: -password is visible to every user of this machine in the process list; use $%s or -password-file\n", passwordEnv)
	case c.passwordFile != "":
		pw, err := readPasswordFile(c.passwordFile)
		if err != nil {
			return nil, err
		}
		c.password = pw
	case c.user != "":
		c.password = envPassword
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	if len(c.listen) == 0 {
		c.listen = listenURLs{defaultListen}
	}
	for _, u := range c.listen {
		if (strings.HasPrefix(u, "amqps://") || strings.HasPrefix(u, "amqpwss://")) && c.tlsCert == "" {
			return nil, fmt.Errorf("an %s -listen URL needs -tls-cert and -tls-key", u[:strings.Index(u, ":")+3])
		}
	}
	if c.user == "" && c.usersFile == "" && !c.allowAnonymous {
		return nil, errors.New("no users configured: give -users FILE or -user/-password, or -allow-anonymous to accept anonymous clients")
	}
	return &c, nil
}

// brokerOptions loads the users and TLS material the flags name.
func (c *config) brokerOptions(log *slog.Logger) (*broker.Options, error) {
	so := &server.Options{AllowAnonymous: c.allowAnonymous, Logger: log}
	users := map[string]string{}
	if c.usersFile != "" {
		if err := readUsers(c.usersFile, users); err != nil {
			return nil, err
		}
	}
	if c.user != "" {
		users[c.user] = c.password
	}
	if len(users) > 0 {
		creds, err := server.NewCredentials(users)
		if err != nil {
			return nil, err
		}
		so.Credentials = creds
	}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("loading TLS key pair: %w", err)
		}
		so.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	so.MaxConnections, so.MaxHandshakes = c.maxConnections, c.maxHandshakes
	so.MaxLinks, so.MaxMessageSize = c.maxLinks, c.maxMessageSize
	switch {
	case c.maxSessions < 0 || c.maxSessions > 1<<16:
		return nil, fmt.Errorf("-max-sessions %d: must be between 1 and 65536 (0: the default)", c.maxSessions)
	case c.maxSessions > 0:
		so.ChannelMax = uint16(c.maxSessions - 1) // channels 0 to ChannelMax
	}
	so.HandshakeTimeout = c.handshakeTimeout
	return &broker.Options{
		MaxQueueMessages: c.maxQueueMessages,
		MaxQueueBytes:    c.maxQueueBytes,
		MaxTotalBytes:    c.maxTotalBytes,
		Logger:           log,
		Server:           so,
	}, nil
}

// readPasswordFile returns the first line of path, without its line end.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("-password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("-password-file %s: the first line is empty", path)
	}
	return line, nil
}

// readUsers reads "user:password" lines into users. The password is
// everything after the first colon, so it may contain colons.
func readUsers(path string, users map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			// The line is not echoed: it may hold a password.
			return fmt.Errorf("users file %s line %d: want user:password", path, n)
		}
		users[user] = pass
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	return nil
}

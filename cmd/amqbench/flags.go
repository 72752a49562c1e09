package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// selfURL is the -url value that starts the embedded broker in-process.
const selfURL = "self"

// headerSize is the part of every message body the tool itself uses: the
// send timestamp, the sender and sequence number, and the run's nonce.
const headerSize = 24

// config is the parsed command line.
type config struct {
	url        string // "self" or the peer's URL, without credentials
	address    string
	duration   time.Duration
	size       int
	credit     int
	window     int
	senders    int
	presettled bool
	tx         int    // messages per local transaction; 0: no transactions
	engine     string // "amq" or "raw"
	rate       float64
	json       bool
	user       string
	password   string
	chaos      bool
	grace      time.Duration
	label      string
	cpuProfile string // file for a CPU profile of the run, when set
	memProfile string // file for the allocation profile after the run, when set

	// chart, when set, is the SVG file to draw from the JSON reports in
	// chartInputs instead of running.
	chart       string
	chartInputs []string

	// chaosEvery is the interval between connection cuts with chaos (1s;
	// the tests shorten it).
	chaosEvery time.Duration
}

func defaultConfig() config {
	return config{
		url:        selfURL,
		address:    "amqbench",
		duration:   10 * time.Second,
		size:       100,
		credit:     1000,
		window:     1000,
		senders:    1,
		engine:     "amq",
		grace:      10 * time.Second,
		chaosEvery: time.Second,
	}
}

const usageText = `usage: amqbench [flags]
       amqbench -chart out.svg report.json...

amqbench measures AMQP 1.0 messaging: one receiver and -senders senders move
messages through the peer at -url for -duration, then it reports throughput,
end-to-end latency percentiles and the CPU time the process spent per message.

-url self means the embedded broker (package broker), started in this process
on a loopback port: a peer-to-peer run with no external service. Any other
value is a peer's amqp://, amqps://, amqpws:// or amqpwss:// URL (the last two:
AMQP over WebSockets; engine goamqp, which has no WebSocket transport, runs
over the same one as amq); RabbitMQ wants -address /queue/NAME
and -user guest -password guest.

-engine amq runs the workload on this module's client (its own engine);
-engine goamqp (or raw) runs the same workload on github.com/Azure/go-amqp,
the baseline, so that the two can be compared on the same peer.

-chart FILE draws the reports of earlier -json runs (files named as arguments,
one or more reports each) as an SVG chart of throughput and latency
percentiles, and exits.

Flags:
`

// parseFlags parses the command line. It returns flag.ErrHelp for -h.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := defaultConfig()
	fs := flag.NewFlagSet("amqbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", c.url, "peer `URL`, or \"self\" for the embedded broker started in-process")
	fs.StringVar(&c.address, "address", c.address, "node `address` to send to and receive from (RabbitMQ: /queue/NAME)")
	fs.DurationVar(&c.duration, "duration", c.duration, "how long the senders send")
	fs.IntVar(&c.size, "size", c.size, "message body size in `bytes` (at least 24)")
	fs.IntVar(&c.credit, "credit", c.credit, "receiver credit (prefetch window), in messages")
	fs.IntVar(&c.window, "window", c.window, "unsettled messages each sender keeps in flight; 1 means a blocking send loop")
	fs.IntVar(&c.senders, "senders", c.senders, "number of senders, each on its own link")
	fs.BoolVar(&c.presettled, "presettled", c.presettled, "send pre-settled (at-most-once); -window is then moot")
	fs.IntVar(&c.tx, "tx", c.tx, "send in local transactions of `N` messages each, all in flight at once (Tx.SendAsync), committed one after the other (engine amq; -window 1 is the same workload outside transactions)")
	fs.StringVar(&c.engine, "engine", c.engine, "client engine: amq (this module) or goamqp, alias raw (github.com/Azure/go-amqp, the baseline)")
	fs.Float64Var(&c.rate, "rate", c.rate, "total send rate in messages/s, paced by a ticker; 0 means as fast as possible")
	fs.BoolVar(&c.json, "json", c.json, "print the results as one JSON object")
	fs.StringVar(&c.user, "user", c.user, "SASL user (PLAIN); none means ANONYMOUS")
	fs.StringVar(&c.password, "password", c.password, "SASL password of -user")
	fs.BoolVar(&c.chaos, "chaos", c.chaos, "cut the connections every second through an in-process proxy and report reconnect times (engine amq)")
	fs.DurationVar(&c.grace, "grace", c.grace, "after the senders stop, how long to wait for outstanding outcomes and deliveries")
	fs.StringVar(&c.label, "label", c.label, "`text` naming the run in the report (and on a -chart)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", c.cpuProfile, "write a CPU profile of the run (`FILE`, for go tool pprof)")
	fs.StringVar(&c.memProfile, "memprofile", c.memProfile, "write the process's allocation profile after the run (`FILE`, for go tool pprof -sample_index=alloc_objects)")
	fs.StringVar(&c.chart, "chart", c.chart, "instead of running, draw the JSON reports named as arguments as an SVG chart into `FILE`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if c.chart != "" {
		if fs.NArg() == 0 {
			return config{}, errors.New("-chart needs the JSON report files to draw as arguments")
		}
		c.chartInputs = fs.Args()
	} else if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := c.validate(); err != nil {
		return config{}, err
	}
	return c, nil
}

// validate checks the configuration and moves credentials out of the URL.
func (c *config) validate() error {
	if c.url != selfURL {
		u, err := url.Parse(c.url)
		if err != nil {
			return fmt.Errorf("-url: %v", err)
		}
		webSocket := u.Scheme == "amqpws" || u.Scheme == "amqpwss"
		if u.Scheme != "amqp" && u.Scheme != "amqps" && !webSocket {
			return fmt.Errorf("-url %q: the scheme must be amqp, amqps, amqpws or amqpwss (or give -url self for the embedded broker)", redact(c.url))
		}
		if u.Hostname() == "" {
			return fmt.Errorf("-url %q: no host", c.url)
		}
		if (u.Path != "" && u.Path != "/" && !webSocket) || u.RawQuery != "" {
			return fmt.Errorf("-url %q: a path or query is not allowed (the node goes in -address; only amqpws and amqpwss URLs have a path, their HTTP path)", redact(c.url))
		}
		if u.User != nil {
			if c.user == "" {
				c.user = u.User.Username()
				c.password, _ = u.User.Password()
			}
			u.User = nil
		}
		if !webSocket {
			u.Path = ""
		}
		c.url = u.String()
	}
	if c.address == "" {
		return errors.New("-address must not be empty")
	}
	if c.duration <= 0 {
		return fmt.Errorf("-duration %v: must be positive", c.duration)
	}
	if c.size < headerSize {
		return fmt.Errorf("-size %d: must be at least %d (the timestamp, sequence number and run id travel in the body)", c.size, headerSize)
	}
	if c.credit < 1 || c.credit > 1<<30 {
		return fmt.Errorf("-credit %d: must be between 1 and %d", c.credit, 1<<30)
	}
	if c.window < 1 {
		return fmt.Errorf("-window %d: must be at least 1", c.window)
	}
	if c.senders < 1 || c.senders > 1<<15 {
		return fmt.Errorf("-senders %d: must be between 1 and %d", c.senders, 1<<15)
	}
	if c.engine == "goamqp" {
		c.engine = "raw" // the name reports and charts have always used
	}
	if c.engine != "amq" && c.engine != "raw" {
		return fmt.Errorf("-engine %q: must be amq, or goamqp (raw)", c.engine)
	}
	if c.rate < 0 {
		return fmt.Errorf("-rate %v: must not be negative", c.rate)
	}
	if c.password != "" && c.user == "" {
		return errors.New("-password needs -user")
	}
	if c.tx < 0 {
		return fmt.Errorf("-tx %d: must not be negative", c.tx)
	}
	if c.tx > 0 && (c.engine != "amq" || c.presettled || c.chaos) {
		return errors.New("-tx needs -engine amq, without -presettled or -chaos: go-amqp has no transactions, and pre-settled sends have no outcome")
	}
	if c.chaos && c.engine != "amq" {
		return errors.New("-chaos needs -engine amq: raw go-amqp does not reconnect")
	}
	if c.grace <= 0 {
		return fmt.Errorf("-grace %v: must be positive", c.grace)
	}
	return nil
}

// redact removes the password from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// hostPort returns the host:port of an amqp or amqps URL, with the
// scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "5672"
	if strings.EqualFold(u.Scheme, "amqps") {
		port = "5671"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Command hostile measures what a hostile AMQP peer can make amqbroker
// hold: the figures of issue #17's closing note, before and after its
// bounds. It starts the given amqbroker binary on 127.0.0.1 (a fresh
// process for each attack), speaks raw AMQP frames to it over TCP, and
// reads the process's memory from /proc/PID/status (VmRSS; VmHWM for the
// peak) and its sockets from /proc/PID/fd. Linux only.
//
// The attacks, as the issue describes them:
//
//   - endless: one connection sends 320 MiB of transfer frames with
//     more=true (one delivery that never ends) to a broker started with
//     -max-queue-bytes 1048576. Reported: the peak RSS, the RSS when the
//     sending stopped, the RSS 5 s after the connection closed, and the
//     server's answer (a detach with amqp:link:message-size-exceeded where
//     the server bounds messages).
//   - selectors: 16 connections × 3 attaches of a receiving link whose
//     source carries a JMS selector 32,600 parentheses deep. Reported: the
//     peak RSS and each answer (a refused attach, a closed connection, or
//     the broker's death: a Go stack overflow kills the process).
//   - presockets: 1,100 TCP connections that never send a byte, with the
//     broker's open-file limit at 1024 as on the machine (-nofile);
//     then a legitimate amq client tries to connect and send, every 2 s
//     until it gets through. Reported: the sockets the broker holds and
//     when (if) the client got through.
//   - links: one anonymous connection attaches receiving links, 1024 per
//     session, until one is refused or 51,200 are attached. Reported: how
//     many, the RSS, and the refusal.
//
// Every attack has a deadline (-timeout), stops when the broker's RSS
// passes -rss-limit or the broker dies, and closes everything it opened;
// the broker is stopped after each attack (SIGTERM, then SIGKILL) and dies
// with this program.
//
// To compare two builds (issue #17's before and after):
//
//	git worktree add /tmp/hostile-before f044780
//	(cd /tmp/hostile-before && go build -o /tmp/amqbroker-before ./cmd/amqbroker)
//	git worktree remove --force /tmp/hostile-before
//	go build -o /tmp/amqbroker-after ./cmd/amqbroker
//	go run ./bench/hostile -amqbroker /tmp/amqbroker-before
//	go run ./bench/hostile -amqbroker /tmp/amqbroker-after
//
// -attacks picks some (e.g. -attacks endless,links); -json prints the
// results as JSON instead of a table.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// config is the command line.
type config struct {
	amqbroker string
	label     string
	attacks   string
	timeout   time.Duration
	settle    time.Duration
	rssLimit  int64 // bytes
	nofile    int
	jsonOut   bool
	extra     []string // more amqbroker flags, for every attack

	endlessBytes     int64
	selectorConns    int
	selectorAttaches int
	selectorDepth    int
	presockets       int
	links            int
}

// result is one attack's line of the table.
type result struct {
	Binary string `json:"binary"`
	Attack string `json:"attack"`
	// Memory in KiB; -1 when not measured (the process had died).
	RSSBefore int64   `json:"rss_before_kib"`
	Peak      int64   `json:"peak_kib"`
	End       int64   `json:"end_kib"`
	After     int64   `json:"after_kib"`
	Answer    string  `json:"answer"`
	Detail    string  `json:"detail"`
	Broker    string  `json:"broker"` // "alive", or how it died
	Seconds   float64 `json:"seconds"`
}

func main() {
	var c config
	fs := flag.NewFlagSet("hostile", flag.ExitOnError)
	fs.StringVar(&c.amqbroker, "amqbroker", "", "`PATH` of the amqbroker binary to attack (required)")
	fs.StringVar(&c.label, "label", "", "name of the binary in the output (default: its file name)")
	fs.StringVar(&c.attacks, "attacks", "endless,selectors,presockets,links", "comma-separated `LIST` of attacks to run")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "deadline of each attack")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "wait after the attack's connections closed before reading the RSS after")
	limit := fs.Int64("rss-limit", 3<<30, "stop an attack when the broker's RSS passes this many `BYTES`")
	fs.IntVar(&c.nofile, "nofile", 1024, "open-file limit of the broker (0: inherit this program's)")
	fs.BoolVar(&c.jsonOut, "json", false, "print JSON instead of a table")
	brokerFlags := fs.String("broker-flags", "", "more `FLAGS` for every amqbroker started, space-separated (e.g. \"-max-message-size 1048576\")")
	fs.Int64Var(&c.endlessBytes, "endless-bytes", 320<<20, "bytes of the endless delivery")
	fs.IntVar(&c.selectorConns, "selector-conns", 16, "connections of the selectors attack")
	fs.IntVar(&c.selectorAttaches, "selector-attaches", 3, "attaches per connection of the selectors attack")
	fs.IntVar(&c.selectorDepth, "selector-depth", 32600, "parentheses around the selector")
	fs.IntVar(&c.presockets, "presockets", 1100, "idle sockets of the presockets attack")
	fs.IntVar(&c.links, "links", 51200, "links the links attack tries to attach")
	_ = fs.Parse(os.Args[1:])
	c.rssLimit = *limit
	c.extra = strings.Fields(*brokerFlags)
	if c.amqbroker == "" || fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}
	if c.label == "" {
		c.label = c.amqbroker[strings.LastIndex(c.amqbroker, "/")+1:]
	}
	byName := map[string]attack{}
	for _, a := range attacks {
		byName[a.name] = a
	}
	var run []attack
	for name := range strings.SplitSeq(c.attacks, ",") {
		a, ok := byName[strings.TrimSpace(name)]
		if !ok {
			fmt.Fprintf(os.Stderr, "hostile: no attack %q\n", name)
			os.Exit(2)
		}
		run = append(run, a)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []result
	for _, a := range run {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "hostile: %s: %s …\n", c.label, a.name)
		r, err := runAttack(ctx, &c, a)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hostile: %s: %v\n", a.name, err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	if c.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(results)
		return
	}
	printTable(results)
}

// runAttack starts a broker, measures its RSS before, runs the attack
// under its deadline while sampling the RSS, then measures the RSS
// c.settle after the attack's connections closed, and stops the broker.
func runAttack(ctx context.Context, c *config, a attack) (result, error) {
	extra := c.extra
	if a.flags != nil {
		extra = append(a.flags(c), extra...)
	}
	t, err := startTarget(ctx, c.amqbroker, c.nofile, extra)
	if err != nil {
		return result{}, err
	}
	defer t.stop()
	r := result{Binary: c.label, Attack: a.name, RSSBefore: -1, Peak: -1, End: -1, After: -1, Broker: "alive"}
	wait(ctx, 300*time.Millisecond) // let it settle after start
	if rss, _, err := t.memory(); err == nil {
		r.RSSBefore = rss
	}

	actx, cancel := context.WithTimeout(ctx, c.timeout)
	w := t.watch(c.rssLimit>>10, cancel)
	start := time.Now()
	o := a.run(actx, c, t)
	r.Seconds = time.Since(start).Seconds()
	cancel()
	// The attack has closed its connections: the peak is what the
	// process ever held, the after is what it still holds c.settle later.
	if _, hwm, err := t.memory(); err == nil {
		w.raise(hwm)
	}
	w.stop()
	r.Peak = w.peak.Load()
	r.Answer, r.Detail = o.answer, o.detail
	if o.endKiB > 0 {
		r.End = o.endKiB
	}
	if w.over.Load() {
		r.Answer = fmt.Sprintf("stopped: RSS passed %s; %s", mib(c.rssLimit), r.Answer)
	}
	if dead, how := t.dead(); dead {
		r.Broker = "died: " + how
		return r, nil
	}
	wait(ctx, c.settle)
	if rss, _, err := t.memory(); err == nil {
		r.After = rss
	}
	if dead, how := t.dead(); dead {
		r.Broker = "died: " + how
	}
	return r, nil
}

func printTable(results []result) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "binary\tattack\tRSS before\tpeak\tat end\tafter\tbroker\tserver answer")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Binary, r.Attack,
			kibString(r.RSSBefore), kibString(r.Peak), kibString(r.End), kibString(r.After), r.Broker, r.Answer)
	}
	tw.Flush()
	fmt.Println()
	for _, r := range results {
		fmt.Printf("%s %s (%.1f s): %s\n", r.Binary, r.Attack, r.Seconds, r.Detail)
	}
}

func kibString(k int64) string {
	if k < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(k)/1024)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func kib(b int64) string { return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10)) }

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with -pprof
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"time"

	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

// The garbage collector's target when GOGC is not set. A broker's heap is
// mostly messages waiting in queues, long-lived: with Go's default of 100
// a process holding many could grow to twice their size before
// collecting. Below largeHeap, collections are cheap and frequent and the
// default is kept; above it amqbroker collects at 50, keeping the process
// to about one and a half times what it holds.
const (
	largeHeap      = 64 << 20
	gcPercentSmall = 100
	gcPercentLarge = 50
)

// releaseSlack is how much memory the process may hold beyond its live
// heap (garbage not collected yet, and free heap not returned to the
// system), and beyond as much again as the live heap (what the collector's
// own target lets a busy broker hold), before amqbroker collects and
// returns it at once. A broker that
// has just refused a large message (a delivery that never ends is cut at
// the maximum message size, after growing to several times it) would
// otherwise keep that memory until Go's next forced collection, two
// minutes later, and its scavenger's slow return: hundreds of MiB held by
// an idle process.
const (
	releaseSlack    = 128 << 20
	releaseInterval = 2 * time.Second
)

// tuneGC sets the GC target from the live heap, once a second, and
// returns memory to the system when much more is held than is live (at
// most every releaseInterval), until ctx ends. What is live is known as
// of the last collection only: a large message refused after that
// collection still counts as live until the next, which an idle broker
// does not start. So when a collection has not run for releaseInterval
// while the heap holds more than releaseSlack, one is forced, once per
// collection the runtime ran itself: then the live figure is true again.
func tuneGC(ctx context.Context) {
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	current := gcPercentSmall
	var (
		released   time.Time
		cycles     uint64    // collections seen so far
		lastCycle  time.Time // when the count last moved
		forcedAt   uint64    // the count right after our last forced one
		haveForced bool
	)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			metrics.Read(samples)
			for _, s := range samples {
				if s.Value.Kind() != metrics.KindUint64 {
					return
				}
			}
			live := samples[0].Value.Uint64()
			want := gcPercentSmall
			if live > largeHeap {
				want = gcPercentLarge
			}
			if want != current {
				debug.SetGCPercent(want)
				current = want
			}
			objects, free := samples[1].Value.Uint64(), samples[2].Value.Uint64()
			if n := samples[3].Value.Uint64(); n != cycles {
				cycles, lastCycle = n, now
			}
			x := excess(live, objects, free)
			stale := now.Sub(lastCycle) >= releaseInterval && objects+free > releaseSlack &&
				!(haveForced && forcedAt == cycles)
			if (x > releaseSlack && x > live || stale) && now.Sub(released) >= releaseInterval {
				debug.FreeOSMemory()
				released = now
				metrics.Read(samples[3:])
				cycles, lastCycle = samples[3].Value.Uint64(), now
				forcedAt, haveForced = cycles, true
			}
		}
	}
}

// excess is the heap memory held beyond the live heap: objects not live
// at the last collection (garbage since) and free heap not returned.
func excess(live, objects, free uint64) uint64 {
	var garbage uint64
	if objects > live {
		garbage = objects - live
	}
	return garbage + free
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("GOGC") == "" {
		go tuneGC(ctx)
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the program: it serves until ctx ends and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err != errHelp {
			fmt.Fprintf(stderr, "amqbroker: %v\n", err)
		}
		return 2
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts, err := cfg.brokerOptions(log)
	if err != nil {
		fmt.Fprintf(stderr, "amqbroker: %v\n", err)
		return 1
	}
	if cfg.pprof != "" {
		ln, err := net.Listen("tcp", cfg.pprof)
		if err != nil {
			fmt.Fprintf(stderr, "amqbroker: -pprof: %v\n", err)
			return 1
		}
		defer ln.Close()
		log.Info("pprof listening", "addr", ln.Addr().String())
		go func() { _ = http.Serve(ln, nil) }()
	}
	b, err := broker.Listen(cfg.listen[0], opts)
	if err != nil {
		fmt.Fprintf(stderr, "amqbroker: %v\n", err)
		return 1
	}
	// The other listeners serve the same broker, with the same options.
	var more []*server.Server
	closeMore := func() {
		for _, srv := range more {
			if err := srv.Close(); err != nil {
				log.Error("shutdown", "url", srv.URL(), "error", err)
			}
		}
	}
	for _, u := range cfg.listen[1:] {
		srv, err := server.Listen(u, b.ServerOptions(opts.Server))
		if err != nil {
			fmt.Fprintf(stderr, "amqbroker: %v\n", err)
			closeMore()
			_ = b.Close()
			return 1
		}
		more = append(more, srv)
	}
	fmt.Fprintf(stdout, "listening on %s\n", b.URL())
	for _, srv := range more {
		fmt.Fprintf(stdout, "listening on %s\n", srv.URL())
	}
	<-ctx.Done()
	log.Info("shutting down")
	closeMore()
	if err := b.Close(); err != nil {
		log.Error("shutdown", "error", err)
		return 1
	}
	return 0
}

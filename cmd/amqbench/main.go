package main

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/internal/faultproxy"
	"github.com/amqgo/amq/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once
	}()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "amqbench: %v\n", err)
		os.Exit(2)
	}
	if cfg.chart != "" {
		if err := chartFiles(cfg); err != nil {
			fmt.Fprintf(os.Stderr, "amqbench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "amqbench: -cpuprofile: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	var memProfile *os.File
	if cfg.memProfile != "" {
		f, err := os.Create(cfg.memProfile) // before the run, so that a bad path fails at once
		if err != nil {
			fmt.Fprintf(os.Stderr, "amqbench: -memprofile: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
		memProfile = f
	}
	if err := run(ctx, cfg, os.Stdout); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintf(os.Stderr, "amqbench: %v\n", err)
		os.Exit(1)
	}
	if memProfile != nil {
		if err := pprof.Lookup("allocs").WriteTo(memProfile, 0); err != nil {
			fmt.Fprintf(os.Stderr, "amqbench: -memprofile: %v\n", err)
			os.Exit(1)
		}
	}
}

// chartFiles draws the reports in cfg.chartInputs into cfg.chart.
func chartFiles(cfg config) error {
	runs, err := loadRuns(cfg.chartInputs)
	if err != nil {
		return err
	}
	f, err := os.Create(cfg.chart)
	if err != nil {
		return err
	}
	if err := writeChart(f, runs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// setupTimeout bounds connecting and attaching, and closing at the end.
const setupTimeout = 30 * time.Second

// run is the program: it runs the workload described by cfg, writes the
// report to stdout, and returns an error if the run failed (the report,
// as far as it got, is written first). When ctx ends the senders stop
// early and the run drains and reports as at the deadline.
func run(ctx context.Context, cfg config, stdout io.Writer) error {
	peerURL := cfg.url
	if cfg.url == selfURL {
		b, err := startBroker(cfg)
		if err != nil {
			return fmt.Errorf("starting the embedded broker: %w", err)
		}
		defer b.Close()
		peerURL = b.URL()
	}

	var nonce [8]byte
	if _, err := crand.Read(nonce[:]); err != nil {
		return err
	}
	b := newBench(cfg, binary.BigEndian.Uint64(nonce[:]))

	dialURL := peerURL
	if cfg.chaos {
		u, err := url.Parse(peerURL)
		if err != nil {
			return err
		}
		proxy, err := faultproxy.New(hostPort(u))
		if err != nil {
			return fmt.Errorf("starting the fault proxy: %w", err)
		}
		defer proxy.Close()
		u.Host = proxy.Addr()
		dialURL = u.String()
		b.chaos = &chaosLog{base: b.base, proxy: proxy}
	}

	setupCtx, cancelSetup := context.WithTimeout(ctx, setupTimeout)
	defer cancelSetup()
	var eng engine
	var err error
	if cfg.engine == "amq" {
		var onState func(amq.StateEvent)
		if b.chaos != nil {
			onState = b.chaos.onState
		}
		eng, err = newAMQEngine(setupCtx, cfg, dialURL, onState, nil)
	} else {
		eng, err = newRawEngine(setupCtx, cfg, dialURL)
	}
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", redact(peerURL), err)
	}
	closed := false
	closeEngine := func() error {
		if closed {
			return nil
		}
		closed = true
		cctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		return eng.close(cctx)
	}
	defer closeEngine()

	rcv, err := eng.newReceiver(setupCtx, b)
	if err != nil {
		return fmt.Errorf("attaching the receiver to %q: %w", cfg.address, err)
	}
	loops := make([]func(context.Context, *bench, int), cfg.senders)
	for i := range loops {
		if loops[i], err = eng.newSender(setupCtx, b); err != nil {
			return fmt.Errorf("attaching sender %d to %q: %w", i, cfg.address, err)
		}
	}
	cancelSetup()

	res := b.execute(ctx, rcv, loops)
	closeErr := closeEngine()

	rep := b.report(res, peerURL)
	if err := rep.write(stdout, cfg.json); err != nil {
		return err
	}
	switch {
	case b.firstErr != nil:
		return b.firstErr
	case rep.Lost > 0 && !cfg.presettled:
		return fmt.Errorf("%d settled messages were lost", rep.Lost)
	case closeErr != nil:
		return fmt.Errorf("closing: %w", closeErr)
	}
	return nil
}

func startBroker(cfg config) (*broker.Broker, error) {
	sopts := &server.Options{AllowAnonymous: true}
	if cfg.user != "" {
		creds, err := server.NewCredentials(map[string]string{cfg.user: cfg.password})
		if err != nil {
			return nil, err
		}
		sopts.Credentials = creds
	}
	return broker.Listen("amqp://127.0.0.1:0", &broker.Options{
		Server:           sopts,
		MaxQueueMessages: -1,
		MaxQueueBytes:    -1,
	})
}

// result is what execute measured.
type result struct {
	recv       receiveStats
	sendStart  time.Duration
	cpu        time.Duration
	cpuUser    time.Duration
	cpuSys     time.Duration
	allocs     uint64 // heap objects the process allocated during the run
	sendEnd    time.Duration
	drainEnd   time.Duration
	drainedAll bool
}

// execute runs the senders for cfg.duration (or until ctx ends or a send
// fails), then drains: it waits for the outstanding outcomes and for the
// receiver to get every settled message, both within cfg.grace.
func (b *bench) execute(ctx context.Context, rcv receiver, loops []func(context.Context, *bench, int)) result {
	var res result

	rctx, stopReceiver := context.WithCancel(context.Background())
	defer stopReceiver()
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		receiveLoop(rctx, b, rcv, &res.recv)
	}()

	// sendCtx ends when the grace period after the stop is over: it
	// unblocks sends and waits that would otherwise hang on a dead peer.
	sendCtx, cancelSends := context.WithCancel(context.Background())
	defer cancelSends()

	userStart, sysStart := cpuTimes()
	allocStart := heapAllocs()
	res.sendStart = b.now()
	var wg sync.WaitGroup
	for i, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(sendCtx, b, i)
		}()
	}

	if b.chaos != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.chaos.run(b)
		}()
	}

	deadline := time.NewTimer(b.cfg.duration)
	select {
	case <-deadline.C:
	case <-ctx.Done():
	case <-b.stopped:
	}
	deadline.Stop()
	b.stop()
	graceEnd := time.Now().Add(b.cfg.grace)
	graceTimer := time.AfterFunc(b.cfg.grace, cancelSends)
	defer graceTimer.Stop()

	wg.Wait()
	res.sendEnd = b.now()

	var confirmed int64
	for i := range b.senders {
		confirmed += int64(b.senders[i].confirmed.Load())
	}
	for {
		if b.unique.Load() >= confirmed {
			res.drainedAll = true
			break
		}
		if time.Now().After(graceEnd) || b.receiverFailed(recvDone) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	stopReceiver()
	<-recvDone
	res.drainEnd = b.now()
	userEnd, sysEnd := cpuTimes()
	res.cpuUser, res.cpuSys = userEnd-userStart, sysEnd-sysStart
	res.cpu = res.cpuUser + res.cpuSys
	res.allocs = heapAllocs() - allocStart
	return res
}

func (b *bench) receiverFailed(recvDone <-chan struct{}) bool {
	select {
	case <-recvDone:
		return true
	default:
		return false
	}
}

// heapAllocs is the number of heap objects the process has allocated so
// far: read from runtime/metrics, which does not stop the world as
// runtime.ReadMemStats does.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/amqgo/amq/broker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
	b, err := broker.Listen(cfg.listen, opts)
	if err != nil {
		fmt.Fprintf(stderr, "amqbroker: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "listening on %s\n", b.URL())
	<-ctx.Done()
	log.Info("shutting down")
	if err := b.Close(); err != nil {
		log.Error("shutdown", "error", err)
		return 1
	}
	return 0
}

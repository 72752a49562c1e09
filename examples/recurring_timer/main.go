// Command recurring_timer does something every -interval, like Proton's
// recurring_timer.py. Proton schedules timer events on its reactor; in Go
// a time.Ticker in a select with the context is all it takes: here each
// tick sends a message, -m times (0: until interrupted).
//
// With no -url it starts an in-process broker, so it runs with nothing
// installed.
//
// Usage: recurring_timer [-url URL] [-address examples] [-interval 1s] [-m 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

func main() {
	url := flag.String("url", "", "connection URL of the broker (default: an in-process broker)")
	address := flag.String("address", "examples", "address to send to")
	interval := flag.Duration("interval", time.Second, "time between ticks")
	count := flag.Int("m", 5, "number of ticks; 0 ticks until interrupted")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: recurring_timer [-url URL] [-address ADDRESS] [-interval DURATION] [-m COUNT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 || *interval <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *interval, *count); err != nil {
		fmt.Fprintln(os.Stderr, "recurring_timer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address string, interval time.Duration, count int) error {
	if url == "" {
		b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{
			Server: &server.Options{AllowAnonymous: true},
		})
		if err != nil {
			return err
		}
		defer b.Close()
		url = b.URL()
	}
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSender(ctx, address, nil)
	if err != nil {
		return err
	}

	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for tick := 1; count == 0 || tick <= count; tick++ {
		select {
		case <-ctx.Done():
			fmt.Println("Stopped")
			return nil
		case <-ticker.C:
		}
		body := fmt.Sprintf("tick %d", tick)
		if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
			if ctx.Err() != nil {
				fmt.Println("Stopped")
				return nil
			}
			return err
		}
		fmt.Printf("Tick... sent '%s'\n", body)
	}
	// As Proton's example closes the connection: Client.Close closes the
	// sender and waits for the peer to confirm it has everything.
	return c.Close()
}

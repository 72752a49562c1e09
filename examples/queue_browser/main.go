// Command queue_browser prints the messages on a queue without consuming
// them, like Proton's queue_browser.py: the receiver asks for the source's
// "copy" distribution mode (ReceiverOptions.Browse), so the broker sends
// copies and the queue keeps every message. Running it twice shows the
// same messages twice.
//
// Proton's browser stops when the broker reports the link drained; amq
// has no drain call, so this one stops after -m messages, or when no
// message has arrived for -wait (the end of the queue, in practice).
//
// Usage: queue_browser [-url amqp://localhost:5672] [-address examples] [-m 0] [-wait 1s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/amqgo/amq"
)

func main() {
	url := flag.String("url", "amqp://localhost:5672", "connection URL of the broker")
	address := flag.String("address", "examples", "queue to browse")
	count := flag.Int("m", 0, "stop after this many messages; 0: stop at the end of the queue")
	wait := flag.Duration("wait", time.Second, "the end of the queue is when no message arrives for this long")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: queue_browser [-url URL] [-address ADDRESS] [-m COUNT] [-wait DURATION]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 || *wait <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *count, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "queue_browser:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address string, limit int, wait time.Duration) error {
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{Browse: true})
	if err != nil {
		return err
	}
	browsed := 0
	for limit == 0 || browsed < limit {
		rctx, cancel := context.WithTimeout(ctx, wait)
		d, err := r.Receive(rctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			break // nothing more for a while: the end of the queue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		fmt.Println(d.Message.Body)
		browsed++
	}
	fmt.Printf("browsed %d message(s); they are still on '%s'\n", browsed, address)
	return c.Close()
}

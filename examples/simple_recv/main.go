// Command simple_recv receives -m messages from an address and prints
// their bodies, like Proton's simple_recv.py. Each message is accepted
// when the next one is asked for (auto-accept).
//
// A sender that reconnects sends again what was not confirmed, so a
// message can arrive twice; messages with numeric ids (simple_send's) are
// expected in increasing order and one whose id is not above the last one
// seen is taken as a duplicate: it is accepted and not printed.
//
// Usage: simple_recv [-url amqp://localhost:5672] [-address examples] [-m 100]
//
// -m 0 receives until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/amqgo/amq"
)

func main() {
	url := flag.String("url", "amqp://localhost:5672", "connection URL of the broker")
	address := flag.String("address", "examples", "address to receive from")
	count := flag.Int("m", 100, "number of messages to receive; 0 receives until interrupted")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: simple_recv [-url URL] [-address ADDRESS] [-m COUNT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *count); err != nil {
		fmt.Fprintln(os.Stderr, "simple_recv:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address string, expected int) error {
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	r, err := c.NewReceiver(ctx, address, nil)
	if err != nil {
		return err
	}
	// Interrupting the program closes the client, which ends the loop.
	context.AfterFunc(ctx, func() { c.Close() })

	var lastID uint64
	received := 0
	for d := range r.Deliveries() {
		if id, ok := d.Message.ID.(uint64); ok {
			if id <= lastID {
				continue // a duplicate: accepted, not printed
			}
			lastID = id
		}
		fmt.Println(d.Message.Body)
		received++
		if received == expected {
			// Closing the connection accepts this last delivery; what was
			// prefetched but not handed to us goes back to the queue.
			return c.Close()
		}
	}
	if ctx.Err() != nil {
		return nil // interrupted
	}
	return r.Err()
}

// Command selected_recv receives only the messages whose application
// property "colour" is "green", like Proton's selected_recv.py: the
// receiver carries the JMS selector colour = 'green' and the broker
// filters; the other messages stay on the queue for other receivers.
//
// Usage: selected_recv [-url amqp://localhost:5672] [-address examples] [-selector "colour = 'green'"] [-m 0]
//
// -m 0 (the default) receives until interrupted.
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
	selector := flag.String("selector", "colour = 'green'", "JMS message selector")
	count := flag.Int("m", 0, "number of messages to receive; 0 receives until interrupted")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: selected_recv [-url URL] [-address ADDRESS] [-selector SELECTOR] [-m COUNT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *selector, *count); err != nil {
		fmt.Fprintln(os.Stderr, "selected_recv:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address, selector string, expected int) error {
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{Selector: selector})
	if err != nil {
		return err // a selector the broker cannot parse is refused here
	}
	// Interrupting the program closes the client, which ends the loop.
	context.AfterFunc(ctx, func() { c.Close() })

	received := 0
	for d := range r.Deliveries() {
		fmt.Println(d.Message.Body)
		received++
		if received == expected {
			return c.Close()
		}
	}
	if ctx.Err() != nil {
		return nil // interrupted
	}
	return r.Err()
}

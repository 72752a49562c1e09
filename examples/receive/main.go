// Command receive receives messages, like the reference's receive.py
// (chapter 4.2): it prints each message body and stops after
// <message-count> messages, or runs until interrupted when the count is
// omitted or 0.
//
// Usage: receive <connection-url> <address> [<message-count>]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"

	"github.com/amqgo/amq"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "Usage: receive <connection-url> <address> [<message-count>]")
		os.Exit(1)
	}
	connURL, address := os.Args[1], os.Args[2]
	desired := 0
	if len(os.Args) == 4 {
		n, err := strconv.Atoi(os.Args[3])
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "receive: invalid message count %q\n", os.Args[3])
			os.Exit(1)
		}
		desired = n
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if err := run(ctx, connURL, address, desired); err != nil {
		fmt.Fprintln(os.Stderr, "RECEIVE: error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, connURL, address string, desired int) error {
	c, err := amq.Dial(ctx, connURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	r, err := c.NewReceiver(ctx, address, nil)
	if err != nil {
		return err
	}
	fmt.Printf("RECEIVE: Created receiver for source address '%s'\n", address)
	// Interrupting the program closes the receiver, which ends the loop.
	context.AfterFunc(ctx, func() { r.Close(context.Background()) })

	received := 0
	for d := range r.Deliveries() {
		fmt.Printf("RECEIVE: Received message '%v'\n", d.Message.Body)
		received++
		if received == desired {
			return r.Close(ctx)
		}
	}
	if ctx.Err() != nil {
		return nil // interrupted
	}
	return r.Err()
}

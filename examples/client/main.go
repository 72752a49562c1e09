// Command client sends requests and waits for the replies, like the
// reference's client.py: the replies come back on a temporary queue the
// broker creates for it (a dynamic address). Pair it with the server
// example.
//
// Usage: client <connection-url> <address> <request>...
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
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "Usage: client <connection-url> <address> <request>...")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2], os.Args[3:]); err != nil {
		fmt.Fprintln(os.Stderr, "CLIENT: error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, connURL, address string, requests []string) error {
	c, err := amq.Dial(ctx, connURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	replies, err := c.NewReceiver(ctx, "", &amq.ReceiverOptions{DynamicAddress: true})
	if err != nil {
		return err
	}
	fmt.Printf("CLIENT: Created receiver for reply address '%s'\n", replies.Address())

	s, err := c.NewSender(ctx, address, nil)
	if err != nil {
		return err
	}
	for i, body := range requests {
		req := amq.NewMessage(body)
		req.ID = strconv.Itoa(i)
		req.ReplyTo = replies.Address()
		if err := s.Send(ctx, req); err != nil {
			return err
		}
		fmt.Printf("CLIENT: Sent request '%s'\n", body)

		d, err := replies.Receive(ctx)
		if err != nil {
			return err
		}
		if d.Message.CorrelationID != req.ID {
			return fmt.Errorf("reply correlation id %v does not match request %v", d.Message.CorrelationID, req.ID)
		}
		fmt.Printf("CLIENT: Received response '%v'\n", d.Message.Body)
	}
	return replies.Close(ctx)
}

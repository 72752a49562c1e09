// Command server answers requests, like the reference's server.py: it
// receives each request on <address> and sends the body upper-cased to the
// request's reply-to address, with the request's message id as
// correlation id. Pair it with the client example.
//
// Usage: server <connection-url> <address> [<request-count>]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/amqgo/amq"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "Usage: server <connection-url> <address> [<request-count>]")
		os.Exit(1)
	}
	count := 0
	if len(os.Args) == 4 {
		n, err := strconv.Atoi(os.Args[3])
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "server: invalid request count %q\n", os.Args[3])
			os.Exit(1)
		}
		count = n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2], count); err != nil {
		fmt.Fprintln(os.Stderr, "SERVER: error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, connURL, address string, count int) error {
	c, err := amq.Dial(ctx, connURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	r, err := c.NewReceiver(ctx, address, nil)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { r.Close(context.Background()) })
	fmt.Printf("SERVER: Listening on '%s'\n", address)

	served := 0
	for d := range r.Deliveries() {
		req := d.Message
		body := fmt.Sprint(req.Body)
		fmt.Printf("SERVER: Received request '%s'\n", body)
		if req.ReplyTo == "" {
			// Nowhere to answer: the request is invalid, say so to the broker.
			_ = d.Reject(ctx, "amqp:invalid-field", "request has no reply-to address")
			continue
		}
		reply := amq.NewMessage(strings.ToUpper(body)).SetTo(req.ReplyTo)
		reply.CorrelationID = req.ID
		if err := c.Send(ctx, reply); err != nil {
			return err
		}
		fmt.Printf("SERVER: Sent reply '%s'\n", reply.Body)
		served++
		if served == count {
			return r.Close(ctx)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return r.Err()
}

// Command send sends one message, like the reference's send.py (chapter 4.1).
//
// Usage: send <connection-url> <address> <message-body>
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/amqgo/amq"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "Usage: send <connection-url> <address> <message-body>")
		os.Exit(1)
	}
	connURL, address, body := os.Args[1], os.Args[2], os.Args[3]

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if err := run(ctx, connURL, address, body); err != nil {
		fmt.Fprintln(os.Stderr, "SEND: error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, connURL, address, body string) error {
	// To connect with a user and password:
	// amq.Dial(ctx, connURL, &amq.ConnectOptions{User: "<user>", Password: "<password>"})
	c, err := amq.Dial(ctx, connURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	s, err := c.NewSender(ctx, address, nil)
	if err != nil {
		return err
	}
	fmt.Printf("SEND: Opened sender for target address '%s'\n", s.Address())

	if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
		return err
	}
	fmt.Printf("SEND: Sent message '%s'\n", body)
	return s.Close(ctx)
}

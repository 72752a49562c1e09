// Command colour_send sends -m messages, each with an application property
// "colour" alternating "green" and "red" and a body saying the same
// ("green 1", "red 2", ...), like Proton's colour_send.py. Pair it with
// selected_recv, which receives only the green ones.
//
// Usage: colour_send [-url amqp://localhost:5672] [-address examples] [-m 100]
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
	address := flag.String("address", "examples", "address to send to")
	count := flag.Int("m", 100, "number of messages to send")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: colour_send [-url URL] [-address ADDRESS] [-m COUNT]")
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
		fmt.Fprintln(os.Stderr, "colour_send:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address string, total int) error {
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	s, err := c.NewSender(ctx, address, nil)
	if err != nil {
		return err
	}
	receipts := make([]*amq.Receipt, 0, total)
	for seq := 1; seq <= total; seq++ {
		colour := "green"
		if seq%2 == 0 {
			colour = "red"
		}
		msg := amq.NewMessage(fmt.Sprintf("%s %d", colour, seq))
		msg.ID = uint64(seq)
		// Application properties are what selectors filter on.
		msg.Properties = map[string]any{"colour": colour}
		r, err := s.SendAsync(ctx, msg)
		if err != nil {
			return fmt.Errorf("sending message %d: %w", seq, err)
		}
		receipts = append(receipts, r)
	}
	for i, r := range receipts {
		if err := r.Wait(ctx); err != nil {
			return fmt.Errorf("message %d: %w", i+1, err)
		}
	}
	fmt.Println("all messages confirmed")
	// As Proton's example closes the connection: Client.Close closes the
	// sender and waits for the peer to confirm it has everything.
	return c.Close()
}

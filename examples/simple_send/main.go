// Command simple_send sends -m messages to an address and reports when
// the peer has accepted every one, like Proton's simple_send.py.
//
// Each message has a numeric message id and the body {"sequence": N}.
// They are sent with SendAsync, so many are in flight at once, and the
// program waits for every Receipt. If the connection drops midway, the
// client reconnects and sends again every message that was not yet
// confirmed (at-least-once: a receiver may see a message twice, and
// simple_recv drops such duplicates by message id), so no message is lost
// and the program still ends with "all messages confirmed".
//
// Usage: simple_send [-url amqp://localhost:5672] [-address examples] [-m 100]
//
// Pair it with simple_recv, selected_recv, queue_browser or direct_recv.
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
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: simple_send [-url URL] [-address ADDRESS] [-m COUNT]")
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
		fmt.Fprintln(os.Stderr, "simple_send:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address string, total int) error {
	c, err := amq.Dial(ctx, url, &amq.ConnectOptions{
		// Reconnecting is automatic; this only tells the user about it.
		OnStateChange: func(e amq.StateEvent) {
			switch e.State {
			case amq.StateDisconnected:
				fmt.Fprintf(os.Stderr, "simple_send: connection lost (%v); unconfirmed messages will be sent again\n", e.Err)
			case amq.StateConnected:
				fmt.Fprintf(os.Stderr, "simple_send: connected to %s\n", e.URL)
			}
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()

	s, err := c.NewSender(ctx, address, nil)
	if err != nil {
		return err
	}
	// SendAsync blocks only while the peer grants no credit, so this loop
	// keeps a window of messages in flight (Proton's on_sendable loop).
	receipts := make([]*amq.Receipt, 0, total)
	for seq := 1; seq <= total; seq++ {
		msg := amq.NewMessage(map[string]any{"sequence": int64(seq)})
		msg.ID = uint64(seq)
		r, err := s.SendAsync(ctx, msg)
		if err != nil {
			return fmt.Errorf("sending message %d: %w", seq, err)
		}
		receipts = append(receipts, r)
	}
	// Proton's on_accepted: count confirmations until all are in.
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

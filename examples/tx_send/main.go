// Command tx_send sends -m messages in transactions of -b messages each,
// like Proton's tx_send.py: each batch reaches consumers at its commit,
// all of it or none of it. It prints "all messages committed" at the end.
//
// A batch whose transaction is lost with the connection (the client
// reconnects) or refused by the broker applied nothing and is sent again
// in a new transaction: no message of it was delivered, so none is
// duplicated. Only a commit whose answer never came leaves a batch
// unknown; tx_send then stops with an error rather than guess.
//
// Usage: tx_send [-url amqp://localhost:5672] [-address examples] [-m 100] [-b 10]
package main

import (
	"context"
	"errors"
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
	batch := flag.Int("b", 10, "messages per transaction")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: tx_send [-url URL] [-address ADDRESS] [-m COUNT] [-b BATCH]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 || *batch < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *count, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "tx_send:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address string, count, batch int) error {
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSender(ctx, address, nil)
	if err != nil {
		return err
	}
	for first := 1; first <= count; first += batch {
		last := min(first+batch-1, count)
		for {
			err := c.BeginFunc(ctx, func(tx *amq.Tx) error {
				for i := first; i <= last; i++ {
					msg := amq.NewMessage(map[string]any{"sequence": int64(i)})
					msg.ID = uint64(i)
					if err := tx.Send(ctx, s, msg); err != nil {
						return err
					}
				}
				return nil
			})
			if err == nil {
				break
			}
			if errors.Is(err, amq.ErrTransactionOutcomeUnknown) || !amq.Retryable(err) {
				return fmt.Errorf("messages %d-%d: %w", first, last, err)
			}
			// Nothing of the batch was applied: send it again.
		}
	}
	fmt.Println("all messages committed")
	return nil
}

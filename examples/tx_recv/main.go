// Command tx_recv receives -m messages and accepts them in transactions of
// -b messages each, like Proton's tx_recv.py: the broker removes a batch
// from its queue at the commit, all of it or none of it. It prints each
// message's body.
//
// Usage: tx_recv [-url amqp://localhost:5672] [-address examples] [-m 100] [-b 10]
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
	count := flag.Int("m", 100, "number of messages to receive")
	batch := flag.Int("b", 10, "messages per transaction")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: tx_recv [-url URL] [-address ADDRESS] [-m COUNT] [-b BATCH]")
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
		fmt.Fprintln(os.Stderr, "tx_recv:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address string, count, batch int) error {
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	// Credit of one batch: what is prefetched beyond it would wait,
	// acquired, for the next transaction.
	r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{ManualAccept: true, Credit: batch})
	if err != nil {
		return err
	}
	defer r.Close(ctx)
	for received := 0; received < count; {
		n := min(batch, count-received)
		var bodies []any
		err := c.BeginFunc(ctx, func(tx *amq.Tx) error {
			bodies = bodies[:0]
			for range n {
				d, err := r.Receive(ctx)
				if err != nil {
					return err
				}
				if err := tx.Accept(ctx, d); err != nil {
					return err
				}
				bodies = append(bodies, d.Message.Body)
			}
			return nil
		})
		if err != nil {
			return err // rolled back: the broker delivers the batch again
		}
		for _, b := range bodies {
			fmt.Println(b)
		}
		received += n
	}
	return nil
}

// Command queue_topic shows the difference between a queue and a topic
// (reference 8.1): it attaches two receivers and a sender to <address>
// with the "queue" or "topic" capability, sends two messages, and prints
// what each receiver got. On a queue the receivers compete (each message
// goes to one of them); on a topic each receiver gets every message.
//
// Usage: queue_topic <connection-url> queue|topic <address>
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"

	"github.com/amqgo/amq"
)

func main() {
	if len(os.Args) != 4 || (os.Args[2] != "queue" && os.Args[2] != "topic") {
		fmt.Fprintln(os.Stderr, "Usage: queue_topic <connection-url> queue|topic <address>")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, connURL, kind, address string) error {
	c, err := amq.Dial(ctx, connURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	caps := []string{kind}
	var receivers []*amq.Receiver
	for range 2 {
		// Credit 1 so that on a queue neither receiver takes both messages.
		r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{Capabilities: caps, Credit: 1})
		if err != nil {
			return err
		}
		receivers = append(receivers, r)
	}
	s, err := c.NewSender(ctx, address, &amq.SenderOptions{Capabilities: caps})
	if err != nil {
		return err
	}
	for _, body := range []string{"one", "two"} {
		if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
			return err
		}
	}
	fmt.Printf("Sent 'one' and 'two' to %s '%s'\n", kind, address)

	// A queue hands out 2 messages in all, a topic 2 to each receiver.
	want := 2
	if kind == "topic" {
		want = 4
	}
	got := make([][]string, len(receivers))
	for n := 0; n < want; n++ {
		select {
		case d := <-receivers[0].Deliveries():
			got[0] = append(got[0], fmt.Sprint(d.Message.Body))
		case d := <-receivers[1].Deliveries():
			got[1] = append(got[1], fmt.Sprint(d.Message.Body))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i := range got {
		sort.Strings(got[i])
		fmt.Printf("Receiver %d got %d message(s): %v\n", i+1, len(got[i]), got[i])
	}
	return nil
}

// Command durable_subscribe receives from a durable subscription
// (reference 8.2). The subscription is identified by the container id and
// the link name, both fixed here, so it outlives the program: messages
// published while it is not running are kept for its next run. Run it with
// -unsubscribe to end the subscription.
//
// Usage: durable_subscribe [-unsubscribe] <connection-url> <topic> [<message-count>]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"

	"github.com/amqgo/amq"
)

func main() {
	unsubscribe := flag.Bool("unsubscribe", false, "end the subscription after receiving")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: durable_subscribe [-unsubscribe] <connection-url> <topic> [<message-count>]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 || flag.NArg() > 3 {
		flag.Usage()
		os.Exit(1)
	}
	count := 0
	if flag.NArg() == 3 {
		n, err := strconv.Atoi(flag.Arg(2))
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "durable_subscribe: invalid message count %q\n", flag.Arg(2))
			os.Exit(1)
		}
		count = n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, flag.Arg(0), flag.Arg(1), count, *unsubscribe); err != nil {
		fmt.Fprintln(os.Stderr, "SUBSCRIBE: error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, connURL, topic string, count int, unsubscribe bool) error {
	// A stable container id and link name identify the subscription.
	c, err := amq.Dial(ctx, connURL, &amq.ConnectOptions{ContainerID: "durable-subscribe-example"})
	if err != nil {
		return err
	}
	defer c.Close()

	r, err := c.NewReceiver(ctx, topic, &amq.ReceiverOptions{
		Name:         "sub-1",
		Durable:      true,
		Capabilities: []string{"topic"},
	})
	if err != nil {
		return err
	}
	fmt.Printf("SUBSCRIBE: Subscribed to '%s'\n", topic)
	context.AfterFunc(ctx, func() { r.Detach(context.Background()) })

	received := 0
	for received < count {
		d, err := r.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fmt.Printf("SUBSCRIBE: Received message '%v'\n", d.Message.Body)
		received++
	}
	if unsubscribe {
		fmt.Println("SUBSCRIBE: Ended the subscription")
		return r.Close(ctx)
	}
	fmt.Println("SUBSCRIBE: Detached; the subscription keeps messages until the next run")
	return r.Detach(ctx)
}

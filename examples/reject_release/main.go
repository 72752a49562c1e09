// Command reject_release settles deliveries explicitly (reference 9.4):
// it sends "ok", "bad" and "later", then with auto-accept off accepts
// "ok", rejects "bad" (the broker drops or dead-letters it) and releases
// "later" once, which makes the broker deliver it again.
//
// Usage: reject_release <connection-url> <address>
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/amqgo/amq"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "Usage: reject_release <connection-url> <address>")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, connURL, address string) error {
	c, err := amq.Dial(ctx, connURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		return err
	}
	for _, body := range []string{"ok", "bad", "later"} {
		if err := c.Send(ctx, amq.NewMessage(body).SetTo(address)); err != nil {
			return err
		}
	}

	released := false
	for settled := 0; settled < 3; {
		d, err := r.Receive(ctx)
		if err != nil {
			return err
		}
		switch body := d.Message.Body; {
		case body == "bad":
			err = d.Reject(ctx, "amqp:precondition-failed", "cannot process 'bad'")
			fmt.Println("Rejected 'bad'")
			settled++
		case body == "later" && !released:
			err = d.Release(ctx)
			released = true
			fmt.Println("Released 'later'")
		default:
			err = d.Accept(ctx)
			fmt.Printf("Accepted '%v' (delivery count %d)\n", body, d.Message.DeliveryCount)
			settled++
		}
		if err != nil {
			return err
		}
	}
	return r.Close(ctx)
}

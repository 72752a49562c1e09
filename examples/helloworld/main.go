// Command helloworld sends "Hello World!" to an address and receives it
// back, like the reference's helloworld.py (chapter 3).
//
// With no -url it starts an in-process broker (package broker) on a
// loopback port, so it runs on a fresh machine with nothing installed.
// With -url it talks to that broker instead:
//
//	go run ./examples/helloworld
//	go run ./examples/helloworld -url amqp://guest:guest@localhost -address examples
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

func main() {
	url := flag.String("url", "", "connection URL of the broker (default: an in-process broker)")
	address := flag.String("address", "examples", "address to send to and receive from")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *url, *address); err != nil {
		fmt.Fprintln(os.Stderr, "helloworld:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address string) error {
	if url == "" {
		b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{
			Server: &server.Options{AllowAnonymous: true},
		})
		if err != nil {
			return err
		}
		defer b.Close()
		url = b.URL()
	}

	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	r, err := c.NewReceiver(ctx, address, nil)
	if err != nil {
		return err
	}
	if err := c.Send(ctx, amq.NewMessage("Hello World!").SetTo(address)); err != nil {
		return err
	}
	d, err := r.Receive(ctx)
	if err != nil {
		return err
	}
	fmt.Println(d.Message.Body)
	return r.Close(ctx)
}

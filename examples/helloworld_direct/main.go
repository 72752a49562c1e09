// Command helloworld_direct sends "Hello World!" to itself without a
// broker, like Proton's helloworld_direct.py: it listens for AMQP
// connections with package server, connects to its own listener with an
// amq client and sends one message, which the listening side prints and
// accepts. Send returns once the message is accepted, so the program ends
// after the greeting has been printed.
//
// Usage: helloworld_direct [-url amqp://127.0.0.1:0] [-address examples]
//
// Port 0 (the default) listens on a free port.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

func main() {
	listenURL := flag.String("url", "amqp://127.0.0.1:0", "URL to listen on and connect to")
	address := flag.String("address", "examples", "address to send to")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: helloworld_direct [-url URL] [-address ADDRESS]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *listenURL, *address); err != nil {
		fmt.Fprintln(os.Stderr, "helloworld_direct:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listenURL, address string) error {
	srv, err := server.Listen(listenURL, &server.Options{
		AllowAnonymous: true,
		Handler: server.HandlerFuncs{
			// The listening side: print every message that arrives, then
			// accept it, which completes the client's Send.
			ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
				for {
					d, err := r.Receive(ctx)
					if err != nil {
						return // link detached
					}
					msg, err := d.Message()
					if err != nil {
						_ = d.Reject(&server.Error{Condition: "amqp:decode-error", Description: err.Error()})
						continue
					}
					fmt.Println(msg.Value)
					_ = d.Accept()
				}
			},
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	// The sending side: an ordinary client connected to our own listener.
	c, err := amq.Dial(ctx, srv.URL(), nil)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Send(ctx, amq.NewMessage("Hello World!").SetTo(address))
}

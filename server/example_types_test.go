package server_test

import (
	"context"
	"fmt"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// ExampleHandlerFuncs builds a small custom server with only this package's
// names: it refuses one address and answers every message on the others
// with the outcome its body asks for.
func ExampleHandlerFuncs() {
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			if l.Address() == "forbidden" {
				return &server.Error{Condition: server.CondUnauthorizedAccess, Description: "not here"}
			}
			return nil
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				m, err := d.Message()
				if err == nil && m.Value == "reject me" {
					_ = d.Reject(&server.Error{Condition: server.CondNotAllowed, Description: "as asked"})
					continue
				}
				_ = d.Accept()
			}
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, srv.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.Send(ctx, amq.NewMessage("hello").SetTo("inbox")))
	fmt.Println(c.Send(ctx, amq.NewMessage("reject me").SetTo("inbox")))
	_, err = c.NewSender(ctx, "forbidden", nil)
	fmt.Println(err != nil)
	// Output:
	// <nil>
	// amq: message rejected: amqp:not-allowed: as asked
	// true
}

package server_test

import (
	"context"
	"fmt"
	"log"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// oneQueue is a Handler that holds one in-memory queue: what peers send to
// any address, peers receiving from any address get, in order.
type oneQueue struct {
	messages chan []byte
}

func (q *oneQueue) Attach(ctx context.Context, l *server.Link) error {
	if l.Address() == "" {
		return &server.Error{Condition: server.CondInvalidField, Description: "an address is required"}
	}
	return nil
}

func (q *oneQueue) ServeReceiver(ctx context.Context, r *server.Receiver) {
	for {
		d, err := r.Receive(ctx)
		if err != nil {
			return
		}
		select {
		case q.messages <- d.Payload():
			_ = d.Accept()
		default:
			_ = d.Reject(&server.Error{Condition: server.CondResourceLimitExceeded, Description: "queue full"})
		}
	}
}

func (q *oneQueue) ServeSender(ctx context.Context, s *server.Sender) {
	for {
		select {
		case payload := <-q.messages:
			if _, err := s.SendRaw(ctx, payload, false); err != nil {
				return // a real broker would put it back
			}
		case <-ctx.Done():
			return
		}
	}
}

func ExampleHandler() {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		Handler:        &oneQueue{messages: make(chan []byte, 1)},
		AllowAnonymous: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	ctx := context.Background()
	c, err := amq.Dial(ctx, srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Send(ctx, amq.NewMessage("first").SetTo("q")))
	fmt.Println(c.Send(ctx, amq.NewMessage("second").SetTo("q")))

	r, err := c.NewReceiver(ctx, "q", nil)
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body)
	// Output:
	// <nil>
	// amq: message rejected: amqp:resource-limit-exceeded: queue full
	// first
}

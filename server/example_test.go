package server_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	amqp "github.com/Azure/go-amqp"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// A server whose receivers print what arrives and whose senders answer
// every link with one greeting.
func ExampleListen() {
	got := make(chan string, 1)
	outcome := make(chan string, 1)
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		AllowAnonymous: true,
		Handler: server.HandlerFuncs{
			ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
				for {
					d, err := r.Receive(ctx)
					if err != nil {
						return
					}
					msg, _ := d.Message()
					got <- fmt.Sprintf("%s: %s", r.Link().Address(), msg.Data[0])
					_ = d.Accept()
				}
			},
			ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
				d, err := s.Send(ctx, &codec.Message{Value: "hello " + s.Link().Address(), HasValue: true}, false)
				if err != nil {
					return
				}
				state, _ := d.Wait(ctx)
				outcome <- fmt.Sprintf("outcome %T", state)
				<-ctx.Done()
			},
		},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	ctx := context.Background()
	c, err := amqp.Dial(ctx, srv.URL(), nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	s, _ := c.NewSession(ctx, nil)
	snd, _ := s.NewSender(ctx, "orders", nil)
	_ = snd.Send(ctx, amqp.NewMessage([]byte("order 1")), nil)
	fmt.Println(<-got)

	rcv, _ := s.NewReceiver(ctx, "greetings", nil)
	m, _ := rcv.Receive(ctx, nil)
	fmt.Println(m.Value)
	_ = rcv.AcceptMessage(ctx, m)
	// The link stays until the server has the outcome: a detach sent at
	// once could overtake go-amqp's disposition, and the delivery would
	// end without one.
	fmt.Println(<-outcome)
	_ = rcv.Close(ctx)
	// Output:
	// orders: order 1
	// hello greetings
	// outcome *codec.Accepted
}

// The reference's bare forms work too: "0.0.0.0" (every IPv4 address),
// "[::]" (IPv4 and IPv6), "host:port".
func ExampleListen_bareForm() {
	srv, err := server.Listen("127.0.0.1:0", &server.Options{AllowAnonymous: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	fmt.Println(strings.HasPrefix(srv.URL(), "amqp://127.0.0.1:"))
	// Output: true
}

package amq_test

import (
	"context"
	"fmt"
	"log"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// At-most-once: the broker settles each message as it sends it, so a
// message lost on the way (a dropped connection, a crash before it is
// processed) is not redelivered. Nothing is sent back for a delivery.
func ExampleReceiverOptions_presettled() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	_ = c.Send(ctx, amq.NewMessage("temperature 21.5").SetTo("readings"))

	r, err := c.NewReceiver(ctx, "readings", &amq.ReceiverOptions{Presettled: true, ManualAccept: true})
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body)
	fmt.Println(d.Accept(ctx)) // already settled by the broker: does nothing
	// Output:
	// temperature 21.5
	// <nil>
}

// exampleSourceClient connects to a new server that prints the source of
// every receiving link attached to it; done closes both.
func exampleSourceClient() (c *amq.Client, done func()) {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		AllowAnonymous: true,
		Handler: server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
			if s := l.Source(); l.Role() == server.RoleSender && s != nil {
				fmt.Printf("source %q: distribution-mode=%q\n", s.Address, s.DistributionMode)
				for _, f := range s.Filter {
					fmt.Printf("  filter %v: %v\n", f.Key, f.Value)
				}
				for _, p := range s.DynamicNodeProperties {
					fmt.Printf("  node property %v: %v\n", p.Key, p.Value)
				}
			}
			return nil
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err = amq.Dial(context.Background(), srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	return c, func() { c.Close(); srv.Close() }
}

// Filters adds filters other than the selector to the source: here a
// RabbitMQ stream offset and a filter of a broker's own, described by its
// registered descriptor. They go in name order, after Selector's filter
// and before NoLocal's when those are set.
func ExampleReceiverOptions_filters() {
	c, done := exampleSourceClient()
	defer done()
	ctx := context.Background()
	_, err := c.NewReceiver(ctx, "events", &amq.ReceiverOptions{
		Filters: map[string]any{
			"rabbitmq:stream-offset-spec": "first",
			"my-filter":                   amq.Described{Descriptor: amq.Symbol("example.com:my-filter"), Value: "x > 1"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// source "events": distribution-mode=""
	//   filter my-filter: {example.com:my-filter x > 1}
	//   filter rabbitmq:stream-offset-spec: first
}

// A no-local subscriber on a topic does not get back what its own
// connection publishes: a chat client that shows only the others' lines.
func ExampleReceiverOptions_noLocal() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	alice, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	bob, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()

	topic := []string{"topic"}
	r, err := alice.NewReceiver(ctx, "chat", &amq.ReceiverOptions{Capabilities: topic, NoLocal: true})
	if err != nil {
		log.Fatal(err)
	}
	say, err := alice.NewSender(ctx, "chat", &amq.SenderOptions{Capabilities: topic})
	if err != nil {
		log.Fatal(err)
	}
	_ = say.Send(ctx, amq.NewMessage("alice: hi"))
	_ = bob.Send(ctx, amq.NewMessage("bob: hello").SetTo("chat"))

	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body)
	// Output: bob: hello
}

// Move asks for distribution mode move explicitly, for a peer whose
// default for the node would be copy; Browse asks for copy.
func ExampleReceiverOptions_move() {
	c, done := exampleSourceClient()
	defer done()
	ctx := context.Background()
	if _, err := c.NewReceiver(ctx, "jobs", &amq.ReceiverOptions{Move: true}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.NewReceiver(ctx, "jobs", &amq.ReceiverOptions{Browse: true}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// source "jobs": distribution-mode="move"
	// source "jobs": distribution-mode="copy"
}

// DynamicNodeProperties describe the node a dynamic receiver asks the peer
// to create: here its lifetime policy (delete-on-close, AMQP 1.0 section
// 3.5.10) and the distribution modes it supports.
func ExampleReceiverOptions_dynamicNodeProperties() {
	c, done := exampleSourceClient()
	defer done()
	ctx := context.Background()
	_, err := c.NewReceiver(ctx, "", &amq.ReceiverOptions{
		DynamicAddress: true,
		DynamicNodeProperties: map[string]any{
			"lifetime-policy":      amq.Described{Descriptor: amq.Symbol("amqp:delete-on-close:list"), Value: []any{}},
			"supported-dist-modes": amq.Symbol("move"),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// source "": distribution-mode=""
	//   node property lifetime-policy: {amqp:delete-on-close:list []}
	//   node property supported-dist-modes: move
}

package amq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

// exampleBroker starts an in-process broker for the examples; in your code,
// dial your broker's URL instead.
func exampleBroker() (url string, stop func()) {
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{Server: &server.Options{AllowAnonymous: true}})
	if err != nil {
		log.Fatal(err)
	}
	return b.URL(), func() { b.Close() }
}

// exampleClient connects to a new in-process broker, for the examples
// whose subject is not Dial; done closes both.
func exampleClient() (c *amq.Client, done func()) {
	url, stop := exampleBroker()
	c, err := amq.Dial(context.Background(), url, nil)
	if err != nil {
		log.Fatal(err)
	}
	return c, func() { c.Close(); stop() }
}

// exampleDelivery sends body to queue and receives it back unsettled on a
// new ManualAccept receiver, for the examples whose subject is settling a
// delivery.
func exampleDelivery(c *amq.Client, queue string, body any) (*amq.Receiver, *amq.Delivery) {
	ctx := context.Background()
	if err := c.Send(ctx, amq.NewMessage(body).SetTo(queue)); err != nil {
		log.Fatal(err)
	}
	r, err := c.NewReceiver(ctx, queue, &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	return r, d
}

func ExampleDial() {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := amq.Dial(ctx, url, &amq.ConnectOptions{ContainerID: "example-app"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("connected as", c.ContainerID())
	// Output: connected as example-app
}

func ExampleClient_Send() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	// Send blocks until the broker settles the message: nil means accepted.
	if err := c.Send(ctx, amq.NewMessage("hello").SetTo("queue1")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted")
	// Output: accepted
}

func ExampleClient_NewReceiver() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	r, err := c.NewReceiver(ctx, "jobs", &amq.ReceiverOptions{Credit: 10})
	if err != nil {
		log.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := c.Send(ctx, amq.NewMessage(fmt.Sprintf("job %d", i)).SetTo("jobs")); err != nil {
			log.Fatal(err)
		}
	}
	n := 0
	for d := range r.Deliveries() { // each is accepted when the next is taken
		fmt.Println(d.Message.Body)
		if n++; n == 3 {
			break
		}
	}
	if err := r.Close(ctx); err != nil { // accepts the last one
		log.Fatal(err)
	}
	// Output:
	// job 1
	// job 2
	// job 3
}

func ExampleSender_SendAsync() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "events", nil)
	if err != nil {
		log.Fatal(err)
	}

	// Keep many messages in flight from one goroutine, then collect outcomes.
	var receipts []*amq.Receipt
	for i := range 100 {
		r, err := s.SendAsync(ctx, amq.NewMessage(i))
		if err != nil {
			log.Fatal(err)
		}
		receipts = append(receipts, r)
	}
	accepted := 0
	for _, r := range receipts {
		if r.Wait(ctx) == nil {
			accepted++
		}
	}
	fmt.Println(accepted, "accepted")
	// Output: 100 accepted
}

func ExampleDelivery_Reject() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	_, d := exampleDelivery(c, "orders", "not an order")
	if err := d.Reject(ctx, "amqp:decode-error", "not an order"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("rejected:", d.Message.Body)
	// Output: rejected: not an order
}

func ExampleRejectedError() {
	// A broker whose queues hold one message at most.
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{
		MaxQueueMessages: 1,
		Server:           &server.Options{AllowAnonymous: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	c, err := amq.Dial(ctx, b.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for i := 1; i <= 2; i++ {
		err := c.Send(ctx, amq.NewMessage(i).SetTo("small"))
		var rej *amq.RejectedError
		switch {
		case err == nil:
			fmt.Println(i, "accepted")
		case errors.As(err, &rej):
			fmt.Println(i, "rejected:", rej.Condition)
		default:
			log.Fatal(err)
		}
	}
	// Output:
	// 1 accepted
	// 2 rejected: amqp:resource-limit-exceeded
}

func ExampleReceiverOptions_durable() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	// A durable subscription is identified by the container id and the link name.
	c, err := amq.Dial(ctx, url, &amq.ConnectOptions{ContainerID: "billing"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sub := &amq.ReceiverOptions{Name: "invoices", Durable: true, Capabilities: []string{"topic"}}

	r, err := c.NewReceiver(ctx, "invoices", sub)
	if err != nil {
		log.Fatal(err)
	}
	_ = r.Detach(ctx) // keeps the subscription
	_ = c.Send(ctx, amq.NewMessage("invoice 42").SetTo("invoices"))

	r, err = c.NewReceiver(ctx, "invoices", sub) // resumes it
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body)
	_ = r.Close(ctx) // ends the subscription
	// Output: invoice 42
}

func ExampleConnectOptions_failover() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	c, err := amq.Dial(ctx, "", &amq.ConnectOptions{
		URLs:      []string{url, "amqp://backup.invalid:5672"}, // tried in order, cycled on reconnect
		Reconnect: amq.NewExponentialReconnect(100*time.Millisecond, 10*time.Second, 0),
		OnStateChange: func(ev amq.StateEvent) {
			log.Printf("amq: %s %s %v", ev.State, ev.URL, ev.Err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.URL() == url)
	// Output: true
}

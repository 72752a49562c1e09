package amq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

func ExampleClient_Close() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Send(ctx, amq.NewMessage("last words").SetTo("log")); err != nil {
		log.Fatal(err)
	}

	// Close ends every sender and receiver, then the connection; anything
	// used afterwards reports ErrClosed.
	if err := c.Close(); err != nil {
		log.Fatal(err)
	}
	err = c.Send(ctx, amq.NewMessage("too late").SetTo("log"))
	fmt.Println(errors.Is(err, amq.ErrClosed))
	// Output: true
}

func ExampleClient_ContainerID() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()

	// Without ConnectOptions.ContainerID a random one is chosen.
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(len(c.ContainerID()) > 0)

	named, err := amq.Dial(ctx, url, &amq.ConnectOptions{ContainerID: "inventory-service"})
	if err != nil {
		log.Fatal(err)
	}
	defer named.Close()
	fmt.Println(named.ContainerID())
	// Output:
	// true
	// inventory-service
}

func ExampleClient_Done() {
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{Server: &server.Options{AllowAnonymous: true}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{Reconnect: amq.NoReconnect})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	b.Close() // the broker goes away; without reconnect the client gives up

	<-c.Done()
	fmt.Println("client ended:", c.Err() != nil)
	// Output: client ended: true
}

func ExampleClient_Err() {
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{Server: &server.Options{AllowAnonymous: true}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{
		Reconnect: amq.NewExponentialReconnect(10*time.Millisecond, 10*time.Millisecond, 3),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Err()) // nil while the client runs

	b.Close()
	<-c.Done() // three reconnect attempts failed
	var amqErr *amq.Error
	fmt.Println(errors.As(c.Err(), &amqErr))
	// Output:
	// <nil>
	// true
}

func ExampleClient_NewSender() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	s, err := c.NewSender(ctx, "jobs", &amq.SenderOptions{Capabilities: []string{"queue"}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	for i := 1; i <= 3; i++ {
		if err := s.Send(ctx, amq.NewMessage(fmt.Sprintf("job %d", i))); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("sent 3 to", s.Address())
	// Output: sent 3 to jobs
}

func ExampleClient_URL() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	c, err := amq.Dial(ctx, "", &amq.ConnectOptions{
		URLs: []string{"amqp://127.0.0.1:1", url}, // nothing listens on port 1
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.URL() == url) // the URL that answered
	// Output: true
}

func ExampleSender_Address() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "audit", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Address())
	// Output: audit
}

func ExampleSender_Close() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "audit", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		log.Fatal(err)
	}
	err = s.Send(ctx, amq.NewMessage("after close"))
	fmt.Println(errors.Is(err, amq.ErrClosed))
	// Output: true
}

func ExampleSender_Send() {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSender(ctx, "orders", nil)
	if err != nil {
		log.Fatal(err)
	}

	msg := amq.NewMessage(map[string]any{"item": "book", "qty": int64(2)})
	msg.Subject = "new-order"
	err = s.Send(ctx, msg) // returns when the broker has taken the message
	switch {
	case err == nil:
		fmt.Println("accepted")
	case errors.Is(err, amq.ErrNotAccepted):
		fmt.Println("refused:", err) // rejected, released or modified
	default:
		log.Fatal(err) // the link or connection failed for good
	}
	// Output: accepted
}

func ExampleReceipt_Wait() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "events", nil)
	if err != nil {
		log.Fatal(err)
	}
	receipt, err := s.SendAsync(ctx, amq.NewMessage("event"))
	if err != nil {
		log.Fatal(err)
	}
	// ... do other work while the message travels ...
	fmt.Println("outcome:", receipt.Wait(ctx))
	// Output: outcome: <nil>
}

func ExampleReceiver_Address() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	// A dynamic receiver's address is chosen by the broker: it is where
	// replies should be sent.
	replies, err := c.NewReceiver(ctx, "", &amq.ReceiverOptions{DynamicAddress: true})
	if err != nil {
		log.Fatal(err)
	}
	request := amq.NewMessage("what time is it?").SetTo("clock")
	request.ReplyTo = replies.Address()
	if err := c.Send(ctx, request); err != nil {
		log.Fatal(err)
	}
	fmt.Println(request.ReplyTo != "")
	// Output: true
}

func ExampleReceiver_Close() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "jobs", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = r.Receive(ctx)
	fmt.Println(errors.Is(err, amq.ErrClosed))
	// Output: true
}

func ExampleReceiver_Deliveries() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, body := range []string{"a", "b", "stop"} {
		if err := c.Send(ctx, amq.NewMessage(body).SetTo("letters")); err != nil {
			log.Fatal(err)
		}
	}

	r, err := c.NewReceiver(ctx, "letters", nil)
	if err != nil {
		log.Fatal(err)
	}
	for d := range r.Deliveries() {
		if d.Message.Body == "stop" {
			break
		}
		fmt.Println(d.Message.Body)
	}
	if err := r.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// a
	// b
}

func ExampleReceiver_Detach() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	c, err := amq.Dial(ctx, url, &amq.ConnectOptions{ContainerID: "reporting"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sub := &amq.ReceiverOptions{Name: "daily", Durable: true, Capabilities: []string{"topic"}}
	r, err := c.NewReceiver(ctx, "sales", sub)
	if err != nil {
		log.Fatal(err)
	}

	// Detach keeps the durable subscription: the broker collects what is
	// published meanwhile.
	if err := r.Detach(ctx); err != nil {
		log.Fatal(err)
	}
	if err := c.Send(ctx, amq.NewMessage("sale 1").SetTo("sales")); err != nil {
		log.Fatal(err)
	}

	r, err = c.NewReceiver(ctx, "sales", sub)
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body)
	if err := r.Close(ctx); err != nil { // Close ends the subscription
		log.Fatal(err)
	}
	// Output: sale 1
}

func ExampleReceiver_Err() {
	url, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	r, err := c.NewReceiver(ctx, "jobs", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Err()) // nil while the receiver runs

	go c.Close() // e.g. on shutdown
	for d := range r.Deliveries() {
		fmt.Println(d.Message.Body)
	}
	fmt.Println(errors.Is(r.Err(), amq.ErrClosed)) // why the loop ended
	// Output:
	// <nil>
	// true
}

func ExampleDelivery_Accept() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	_, d := exampleDelivery(c, "invoices", "invoice 7")
	fmt.Println("processing", d.Message.Body)
	// Accept once the work is done: the broker then forgets the message.
	if err := d.Accept(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(d.Accept(ctx), amq.ErrAlreadySettled))
	// Output:
	// processing invoice 7
	// true
}

func ExampleDelivery_Context() {
	url, stop := exampleBroker()
	defer stop()
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	c, err := amq.Dial(context.Background(), url, &amq.ConnectOptions{TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, span := tp.Tracer("shop").Start(context.Background(), "checkout")
	if err := c.Send(ctx, amq.NewMessage("order 1").SetTo("orders")); err != nil {
		log.Fatal(err)
	}
	span.End()

	r, err := c.NewReceiver(context.Background(), "orders", nil)
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	// Work done with d.Context() joins the sender's trace.
	got := trace.SpanContextFromContext(d.Context()).TraceID()
	fmt.Println(got == span.SpanContext().TraceID())
	// Output: true
}

func ExampleDelivery_Modify() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, d := exampleDelivery(c, "jobs", "flaky job")
	fmt.Println(d.Message.Body, "attempt", d.Message.DeliveryCount+1)

	// Processing failed: give it back, counting a failed attempt.
	if err := d.Modify(ctx, &amq.ModifyOptions{DeliveryFailed: true}); err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body, "attempt", d.Message.DeliveryCount+1)
	_ = d.Accept(ctx)
	// Output:
	// flaky job attempt 1
	// flaky job attempt 2
}

func ExampleDelivery_Release() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, d := exampleDelivery(c, "jobs", "job")
	// Shutting down before starting the work: hand the message back untouched.
	if err := d.Release(ctx); err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx) // redelivered, its delivery count unchanged
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body, d.Message.DeliveryCount)
	_ = d.Accept(ctx)
	// Output: job 0
}

func ExampleMessage_SetPriority() {
	low := amq.NewMessage("background job").SetPriority(0) // 0 itself: a Priority left at 0 sends none (4)
	fmt.Println(low.Priority)
	// Output: 0
}

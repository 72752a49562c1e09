package server_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// exampleReceiving starts a server that hands every delivery it receives to
// handle, and settles it with what handle returns.
func exampleReceiving(handle func(*server.IncomingDelivery) error) *server.Server {
	return exampleServer(server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		for {
			d, err := r.Receive(ctx)
			if err != nil {
				return
			}
			if err := handle(d); err != nil {
				log.Print(err)
			}
		}
	}})
}

func ExampleIncomingDelivery_Accept() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		return d.Accept()
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	fmt.Println(c.Send(context.Background(), amq.NewMessage("hi").SetTo("q")))
	// Output: <nil>
}

func ExampleIncomingDelivery_ID() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		fmt.Println("delivery", d.ID())
		return d.Accept()
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	for range 2 {
		if err := c.Send(context.Background(), amq.NewMessage("x").SetTo("q")); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// delivery 0
	// delivery 1
}

func ExampleIncomingDelivery_Message() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		msg, err := d.Message()
		if err != nil {
			return d.Reject(&server.Error{Condition: "amqp:decode-error", Description: err.Error()})
		}
		region, _ := msg.ApplicationProperties.Get("region")
		fmt.Println(msg.Value, *msg.Properties.Subject, region)
		return d.Accept()
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	m := amq.NewMessage("order 1").SetTo("orders")
	m.Subject = "new"
	m.Properties = map[string]any{"region": "eu"}
	if err := c.Send(context.Background(), m); err != nil {
		log.Fatal(err)
	}
	// Output: order 1 new eu
}

func ExampleIncomingDelivery_MessageFormat() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		if d.MessageFormat() != 0 { // not a standard AMQP message
			return d.Reject(&server.Error{Condition: server.CondNotAllowed, Description: "unknown message format"})
		}
		return d.Accept()
	})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	snd, err := session.NewSender(context.Background(), "q", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(snd.Send(context.Background(), &amqp.Message{Format: 0x80013700, Data: [][]byte{{1}}}, nil))
	// Output: *Error{Condition: amqp:not-allowed, Description: unknown message format, Info: map[]}
}

func ExampleIncomingDelivery_Modify() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		// Not for this node: the peer should try it elsewhere.
		return d.Modify(false, true, nil)
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	err := c.Send(context.Background(), amq.NewMessage("x").SetTo("q"))
	var modified *amq.ModifiedError
	fmt.Println(errors.As(err, &modified) && modified.UndeliverableHere)
	// Output: true
}

func ExampleIncomingDelivery_Payload() {
	stored := make(chan []byte, 1)
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		// Keep the encoded message as it came, to forward it unchanged
		// (Sender.SendRaw); Payload must not be modified.
		stored <- d.Payload()
		return d.Accept()
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if err := c.Send(context.Background(), amq.NewMessage("x").SetTo("q")); err != nil {
		log.Fatal(err)
	}
	payload := <-stored
	fmt.Println(len(payload) > 0)
	// Output: true
}

func ExampleIncomingDelivery_Reject() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		return d.Reject(&server.Error{Condition: "amqp:precondition-failed", Description: "missing customer id"})
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	err := c.Send(context.Background(), amq.NewMessage("order").SetTo("orders"))
	var rejected *amq.RejectedError
	if errors.As(err, &rejected) {
		fmt.Println(rejected.Condition, rejected.Description)
	}
	// Output: amqp:precondition-failed missing customer id
}

func ExampleIncomingDelivery_Release() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		return d.Release() // too busy now; the sender may try again
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	err := c.Send(context.Background(), amq.NewMessage("x").SetTo("q"))
	fmt.Println(errors.Is(err, amq.ErrNotAccepted), amq.Retryable(err))
	// Output: true true
}

func ExampleIncomingDelivery_Settle() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		var outcome server.DeliveryState = &server.Accepted{}
		if msg, err := d.Message(); err != nil || msg.Value == nil {
			outcome = &server.Rejected{Error: &server.Error{Condition: "amqp:decode-error", Description: "empty body"}}
		}
		return d.Settle(outcome)
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	fmt.Println(c.Send(ctx, amq.NewMessage("x").SetTo("q")))
	fmt.Println(c.Send(ctx, amq.NewMessage(nil).SetTo("q")))
	// Output:
	// <nil>
	// amq: message rejected: amqp:decode-error: empty body
}

func ExampleIncomingDelivery_Settled() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		fmt.Println("pre-settled:", d.Settled()) // then settling is a no-op
		return d.Accept()
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "telemetry", &amq.SenderOptions{Presettled: true})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Send(ctx, amq.NewMessage("cpu 0.3")); err != nil {
		log.Fatal(err)
	}
	if err := s.Close(ctx); err != nil { // waits until the server has it
		log.Fatal(err)
	}
	// Output: pre-settled: true
}

func ExampleIncomingDelivery_Tag() {
	srv := exampleReceiving(func(d *server.IncomingDelivery) error {
		fmt.Printf("%s\n", d.Tag())
		return d.Accept()
	})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	snd, err := session.NewSender(context.Background(), "q", nil)
	if err != nil {
		log.Fatal(err)
	}
	err = snd.Send(context.Background(), &amqp.Message{DeliveryTag: []byte("order-17"), Value: "x"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	// Output: order-17
}

// exampleSending starts a server whose senders send one message, body, and
// report its delivery to inspect.
func exampleSending(body string, settled bool, inspect func(context.Context, *server.OutgoingDelivery)) *server.Server {
	return exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		d, err := s.Send(ctx, &server.Message{Value: body, HasValue: true}, settled)
		if err != nil {
			return
		}
		inspect(ctx, d)
		<-ctx.Done()
	}})
}

// exampleReceive receives one message from address on url with an amq
// client (dialled with opts), and settles it with settle.
func exampleReceive(url, address string, opts *amq.ConnectOptions, settle func(*amq.Delivery, context.Context) error) {
	c := exampleClient(url, opts)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := settle(d, ctx); err != nil {
		log.Fatal(err)
	}
}

func ExampleOutgoingDelivery_Wait() {
	done := make(chan struct{})
	srv := exampleSending("job 1", false, func(ctx context.Context, d *server.OutgoingDelivery) {
		defer close(done)
		state, err := d.Wait(ctx)
		switch state.(type) {
		case *server.Accepted:
			fmt.Println("done: forget it")
		case *server.Released, *server.Modified:
			fmt.Println("requeue it")
		default:
			fmt.Println("dead-letter it:", state, err)
		}
	})
	defer srv.Close()
	exampleReceive(srv.URL(), "jobs", nil, (*amq.Delivery).Accept)
	<-done
	// Output: done: forget it
}

func ExampleOutgoingDelivery_Outcome() {
	done := make(chan struct{})
	srv := exampleSending("job 1", false, func(ctx context.Context, d *server.OutgoingDelivery) {
		defer close(done)
		select {
		case state := <-d.Outcome():
			fmt.Printf("%T\n", state)
		case <-ctx.Done():
		}
	})
	defer srv.Close()
	exampleReceive(srv.URL(), "jobs", nil, (*amq.Delivery).Release)
	<-done
	// Output: *codec.Released
}

func ExampleOutgoingDelivery_ID() {
	done := make(chan struct{})
	srv := exampleSending("x", false, func(ctx context.Context, d *server.OutgoingDelivery) {
		fmt.Println("delivery", d.ID())
		close(done)
	})
	defer srv.Close()
	exampleReceive(srv.URL(), "q", nil, (*amq.Delivery).Accept)
	<-done
	// Output: delivery 0
}

func ExampleOutgoingDelivery_Message() {
	done := make(chan struct{})
	srv := exampleSending("hello", false, func(ctx context.Context, d *server.OutgoingDelivery) {
		defer close(done)
		if _, err := d.Wait(ctx); err != nil {
			msg, _ := d.Message() // e.g. to log what was lost
			fmt.Println("lost:", msg.Value)
		}
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "q", &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := r.Receive(ctx); err != nil {
		log.Fatal(err)
	}
	c.Close() // gone without settling
	<-done
	// Output: lost: hello
}

func ExampleOutgoingDelivery_Payload() {
	done := make(chan struct{})
	srv := exampleSending("x", false, func(ctx context.Context, d *server.OutgoingDelivery) {
		defer close(done)
		if state, _ := d.Wait(ctx); state != nil {
			if _, ok := state.(*server.Released); ok {
				// Keep the encoded message to send it again with SendRaw.
				fmt.Println("requeue", len(d.Payload()) > 0)
			}
		}
	})
	defer srv.Close()
	exampleReceive(srv.URL(), "q", nil, (*amq.Delivery).Release)
	<-done
	// Output: requeue true
}

func ExampleOutgoingDelivery_Settled() {
	done := make(chan struct{})
	srv := exampleSending("tick", true, func(ctx context.Context, d *server.OutgoingDelivery) {
		fmt.Println("pre-settled:", d.Settled()) // no outcome will come
		close(done)
	})
	defer srv.Close()
	exampleReceive(srv.URL(), "clock", nil, func(*amq.Delivery, context.Context) error { return nil })
	<-done
	// Output: pre-settled: true
}

func ExampleOutgoingDelivery_Tag() {
	done := make(chan struct{})
	srv := exampleSending("x", false, func(ctx context.Context, d *server.OutgoingDelivery) {
		fmt.Println(len(d.Tag()) > 0) // chosen by the server, unique on the link
		close(done)
	})
	defer srv.Close()
	exampleReceive(srv.URL(), "q", nil, (*amq.Delivery).Accept)
	<-done
	// Output: true
}

func ExampleReceiver_Receive() {
	srv := exampleServer(server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		for {
			d, err := r.Receive(ctx)
			if err != nil {
				return // the link ended
			}
			msg, _ := d.Message()
			fmt.Println(r.Link().Address(), msg.Value)
			_ = d.Accept()
		}
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	for _, body := range []string{"one", "two"} {
		if err := c.Send(context.Background(), amq.NewMessage(body).SetTo("numbers")); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// numbers one
	// numbers two
}

func ExampleReceiver_Link() {
	srv := exampleServer(server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		fmt.Println("receiving on", r.Link().Address(), "from", r.Link().Conn().ContainerID())
		server.Discard(ctx, r)
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{ContainerID: "sensor-7"})
	defer c.Close()
	if err := c.Send(context.Background(), amq.NewMessage("21.5").SetTo("temperature")); err != nil {
		log.Fatal(err)
	}
	// Output: receiving on temperature from sensor-7
}

func ExampleReceiver_Credit() {
	credit := make(chan uint32, 1)
	srv := exampleServer(server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		credit <- r.Credit()
		server.Discard(ctx, r)
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "q", nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-credit == server.DefaultCreditWindow)
	// Output: true
}

func ExampleReceiver_IssueCredit() {
	srv := exampleServer(server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			l.SetCreditWindow(0) // the handler grants credit itself
			return nil
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			for {
				if err := r.IssueCredit(1); err != nil { // one message at a time
					return
				}
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				msg, _ := d.Message()
				fmt.Println("got", msg.Value)
				_ = d.Accept()
			}
		},
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	for _, body := range []string{"a", "b"} {
		if err := c.Send(context.Background(), amq.NewMessage(body).SetTo("q")); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// got a
	// got b
}

func ExampleReceiver_Close() {
	srv := exampleServer(server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		d, err := r.Receive(ctx)
		if err != nil {
			return
		}
		_ = d.Accept()
		_ = r.Close(&server.Error{Condition: server.CondResourceLimitExceeded, Description: "quota used up"})
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	ctx := context.Background()
	snd, err := session.NewSender(ctx, "uploads", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(snd.Send(ctx, amqp.NewMessage([]byte("file 1")), nil))
	var linkErr *amqp.LinkError
	for errors.As(snd.Send(ctx, amqp.NewMessage([]byte("file 2")), nil), &linkErr) {
		fmt.Println(linkErr.RemoteErr.Condition)
		break
	}
	// Output:
	// <nil>
	// amqp:resource-limit-exceeded
}

func ExampleReceiver_Detach() {
	reason := make(chan string, 1)
	srv := exampleServer(server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		_ = r.Detach(&server.Error{Condition: server.CondDetachForced, Description: "node moving"})
		<-r.Done()
		closed, err := r.Link().DetachReason()
		reason <- fmt.Sprint(closed, " ", err.Description)
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	if _, err := session.NewSender(context.Background(), "q", nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-reason)
	// Output: false node moving
}

func ExampleReceiver_Done() {
	ended := make(chan string, 1)
	srv := exampleServer(server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		go server.Discard(ctx, r)
		<-r.Done()
		ended <- r.Link().Address()
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "uploads", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-ended, "link ended")
	// Output: uploads link ended
}

func ExampleSender_Send() {
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		for i := 1; ; i++ {
			msg := &server.Message{Value: fmt.Sprintf("tick %d", i), HasValue: true}
			if _, err := s.Send(ctx, msg, true); err != nil { // blocks for credit
				return
			}
		}
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "clock", &amq.ReceiverOptions{Credit: 2})
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		d, err := r.Receive(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(d.Message.Body)
	}
	// Output:
	// tick 1
	// tick 2
	// tick 3
}

func ExampleSender_SendRaw() {
	// Forward what arrives on "in" to the receivers of "out", without
	// decoding it.
	forward := make(chan []byte, 16)
	srv := exampleServer(server.HandlerFuncs{
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				forward <- d.Payload()
				_ = d.Accept()
			}
		},
		ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
			for {
				select {
				case payload := <-forward:
					if _, err := s.SendRaw(ctx, payload, false); err != nil {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		},
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	m := amq.NewMessage("forwarded").SetTo("in")
	m.Subject = "as is"
	if err := c.Send(ctx, m); err != nil {
		log.Fatal(err)
	}
	r, err := c.NewReceiver(ctx, "out", nil)
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body, d.Message.Subject, d.Message.To)
	// Output: forwarded as is in
}

func ExampleSender_WaitCredit() {
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		// Wait for the peer to want something before doing the work.
		if err := s.WaitCredit(ctx); err != nil {
			return
		}
		_, _ = s.Send(ctx, &server.Message{Value: "report", HasValue: true}, false)
		<-ctx.Done()
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	ctx := context.Background()
	r, err := session.NewReceiver(ctx, "reports", &amqp.ReceiverOptions{Credit: -1}) // no credit yet
	if err != nil {
		log.Fatal(err)
	}
	if err := r.IssueCredit(1); err != nil {
		log.Fatal(err)
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	_ = r.AcceptMessage(ctx, m)
	fmt.Println(m.Value)
	// Output: report
}

func ExampleSender_Credit() {
	credit := make(chan uint32, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		if err := s.WaitCredit(ctx); err == nil {
			credit <- s.Credit() // how many messages the peer wants now
		}
		<-ctx.Done()
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewReceiver(context.Background(), "q", &amq.ReceiverOptions{Credit: 10}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-credit)
	// Output: 10
}

func ExampleSender_Flowed() {
	granted := make(chan uint32, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		for s.Credit() == 0 {
			select {
			case <-s.Flowed(): // the peer sent a flow: look at the credit again
			case <-ctx.Done():
				return
			}
		}
		granted <- s.Credit()
		<-ctx.Done()
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	ctx := context.Background()
	r, err := session.NewReceiver(ctx, "q", &amqp.ReceiverOptions{Credit: -1}) // no credit at attach
	if err != nil {
		log.Fatal(err)
	}
	if err := r.IssueCredit(5); err != nil {
		log.Fatal(err)
	}
	fmt.Println("credit", <-granted)
	// Output: credit 5
}

func ExampleSender_Link() {
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		greeting := "hello " + s.Link().Conn().ContainerID()
		_, _ = s.Send(ctx, &server.Message{Value: greeting, HasValue: true}, false)
		<-ctx.Done()
	}})
	defer srv.Close()
	exampleReceiveFrom(srv.URL(), "greetings", &amq.ConnectOptions{ContainerID: "visitor"})
	// Output: hello visitor
}

// exampleReceiveFrom prints the body of one message received from address.
func exampleReceiveFrom(url, address string, opts *amq.ConnectOptions) {
	exampleReceive(url, address, opts, func(d *amq.Delivery, ctx context.Context) error {
		fmt.Println(d.Message.Body)
		return d.Accept(ctx)
	})
}

func ExampleSender_Close() {
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		_, _ = s.Send(ctx, &server.Message{Value: "last one", HasValue: true}, true)
		_ = s.Close(nil) // end of stream
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	ctx := context.Background()
	r, err := session.NewReceiver(ctx, "stream", nil)
	if err != nil {
		log.Fatal(err)
	}
	for {
		m, err := r.Receive(ctx, nil)
		if err != nil {
			var linkErr *amqp.LinkError
			fmt.Println("closed by the server:", errors.As(err, &linkErr))
			break
		}
		fmt.Println(m.Value)
	}
	// Output:
	// last one
	// closed by the server: true
}

func ExampleSender_Detach() {
	reason := make(chan string, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		_ = s.Detach(nil) // the peer may come back
		<-s.Done()
		closed, _ := s.Link().DetachReason()
		reason <- fmt.Sprint("closed: ", closed)
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	if _, err := session.NewReceiver(context.Background(), "q", nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-reason)
	// Output: closed: false
}

func ExampleSender_Done() {
	ended := make(chan string, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		<-s.Done()
		ended <- s.Link().Address()
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "events", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-ended, "subscriber gone")
	// Output: events subscriber gone
}

func ExampleSender_Unsettled() {
	requeue := make(chan int, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		for _, body := range []string{"a", "b"} {
			if _, err := s.Send(ctx, &server.Message{Value: body, HasValue: true}, false); err != nil {
				return
			}
		}
		<-s.Done()
		requeue <- len(s.Unsettled()) // what the peer never settled: send it to someone else
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	ctx := context.Background()
	r, err := session.NewReceiver(ctx, "jobs", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		if _, err := r.Receive(ctx, nil); err != nil {
			log.Fatal(err)
		}
	}
	closeConn() // the consumer dies before settling
	fmt.Println(<-requeue, "to requeue")
	// Output: 2 to requeue
}

func ExampleSender_Draining() {
	// A handler with nothing to send answers a drain with Drained: the
	// peer's Drain returns once it has. (HandlerFuncs' default
	// ServeSender does the same.)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		for {
			if s.Draining() {
				fmt.Println("drain asked, credit", s.Credit())
				_ = s.Drained()
			}
			select {
			case <-s.Flowed():
			case <-ctx.Done():
				return
			}
		}
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "empty", &amq.ReceiverOptions{Credit: 5})
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Drain(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("drained")
	// Output:
	// drain asked, credit 5
	// drained
}

func ExampleSender_Drained() {
	// Send what there is, then give the rest of the credit back.
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		for {
			if s.Draining() {
				for _, v := range []string{"one", "two"} {
					if _, err := s.Send(ctx, &server.Message{Value: v, HasValue: true}, true); err != nil {
						return
					}
				}
				_ = s.Drained() // the credit left is used up: nothing more
				return
			}
			select {
			case <-s.Flowed():
			case <-ctx.Done():
				return
			}
		}
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "two", &amq.ReceiverOptions{Credit: 10})
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Drain(ctx); err != nil {
		log.Fatal(err)
	}
	for range 2 {
		d, err := r.Receive(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(d.Message.Body)
	}
	// Output:
	// one
	// two
}

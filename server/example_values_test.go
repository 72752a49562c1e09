package server_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// exampleSendOne starts a server whose senders send msg once and report
// its outcome to report, and receives it with an amq client, settling it
// with settle.
func exampleSendOne(msg *server.Message, report func(server.DeliveryState), settle func(*amq.Delivery, context.Context) error) *amq.Message {
	done := make(chan struct{})
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		d, err := s.Send(ctx, msg, false)
		if err != nil {
			return
		}
		state, _ := d.Wait(ctx)
		report(state)
		close(done)
		<-ctx.Done()
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "q", &amq.ReceiverOptions{ManualAccept: true})
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
	<-done
	return d.Message
}

func ExampleMessage() {
	subject := "greeting"
	msg := &server.Message{
		Properties:            &server.Properties{Subject: &subject},
		ApplicationProperties: server.Map{{Key: "lang", Value: "en"}},
		Value:                 "hello",
		HasValue:              true, // Value is the body (it may be nil)
	}
	got := exampleSendOne(msg, func(server.DeliveryState) {}, (*amq.Delivery).Accept)
	fmt.Println(got.Body, got.Subject, got.Properties["lang"])
	// Output: hello greeting en
}

func ExampleHeader() {
	priority, ttl := uint8(9), uint32(60_000) // TTL in milliseconds
	msg := &server.Message{
		Header: &server.Header{Durable: true, Priority: &priority, TTL: &ttl},
		Data:   [][]byte{[]byte("urgent")},
	}
	got := exampleSendOne(msg, func(server.DeliveryState) {}, (*amq.Delivery).Accept)
	fmt.Println(got.Durable, got.Priority, got.TTL)
	// Output: true 9 1m0s
}

func ExampleProperties() {
	replyTo := "replies"
	contentType := server.Symbol("application/json")
	msg := &server.Message{
		Properties: &server.Properties{
			MessageID:     "m-1",
			CorrelationID: uint64(42),
			ReplyTo:       &replyTo,
			ContentType:   &contentType,
		},
		Data: [][]byte{[]byte(`{"ok": true}`)},
	}
	got := exampleSendOne(msg, func(server.DeliveryState) {}, (*amq.Delivery).Accept)
	fmt.Println(got.ID, got.CorrelationID, got.ReplyTo, got.ContentType)
	// Output: m-1 42 replies application/json
}

func ExampleMap() {
	var m server.Map
	m.Set("region", "eu")
	m.Set(server.Symbol("region"), "symbol key") // a different key: keys keep their AMQP type
	m.Set("region", "us")                        // replaces the string key's value
	v, _ := m.Get("region")
	fmt.Println(len(m), v)
	m.Delete(server.Symbol("region"))
	fmt.Println(m)
	// Output:
	// 2 us
	// [{region us}]
}

func ExampleMapEntry() {
	props := server.Map{
		{Key: "tenant", Value: "acme"},
		{Key: "attempt", Value: int32(2)},
	}
	for _, e := range props { // in wire order
		fmt.Printf("%v=%v (%T)\n", e.Key, e.Value, e.Value)
	}
	// Output:
	// tenant=acme (string)
	// attempt=2 (int32)
}

func ExampleList() {
	msg := &server.Message{Sequence: []server.List{{"id", "name"}, {int64(1), "alice"}}}
	got := exampleSendOne(msg, func(server.DeliveryState) {}, (*amq.Delivery).Accept)
	fmt.Println(got.Body)
	// Output: [[id name] [1 alice]]
}

func ExampleSymbol() {
	msg := &server.Message{
		MessageAnnotations: server.Map{{Key: server.Symbol("x-opt-origin"), Value: server.Symbol("broker-2")}},
		Value:              "event",
		HasValue:           true,
	}
	got := exampleSendOne(msg, func(server.DeliveryState) {}, (*amq.Delivery).Accept)
	fmt.Println(got.Annotations["x-opt-origin"])
	// Output: broker-2
}

func ExampleSource() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		src := l.Source()
		if l.Role() != server.RoleSender || src == nil {
			return nil
		}
		for _, f := range src.Filter {
			fmt.Println("filter", f.Key)
		}
		if src.Dynamic {
			l.SetSource(&server.Source{Address: "tmp-1", Dynamic: true, ExpiryPolicy: "link-detach"})
		}
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	if _, err := c.NewReceiver(ctx, "orders", &amq.ReceiverOptions{Selector: "region = 'eu'"}); err != nil {
		log.Fatal(err)
	}
	r, err := c.NewReceiver(ctx, "", &amq.ReceiverOptions{DynamicAddress: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Address())
	// Output:
	// filter apache.org:selector-filter:string
	// tmp-1
}

func ExampleTarget() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		t := l.Target()
		if l.Role() != server.RoleReceiver || t == nil {
			return nil
		}
		kind := "queue"
		for _, c := range t.Capabilities {
			if c == "topic" {
				kind = "topic"
			}
		}
		fmt.Println(t.Address, "is a", kind)
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	if _, err := c.NewSender(ctx, "prices", &amq.SenderOptions{Capabilities: []string{"topic"}}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.NewSender(ctx, "jobs", nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// prices is a topic
	// jobs is a queue
}

func ExampleAccepted() {
	msg := &server.Message{Value: "job", HasValue: true}
	exampleSendOne(msg, func(state server.DeliveryState) {
		if _, ok := state.(*server.Accepted); ok {
			fmt.Println("processed: remove it from the queue")
		}
	}, (*amq.Delivery).Accept)
	// Output: processed: remove it from the queue
}

func ExampleRejected() {
	msg := &server.Message{Value: "not json", HasValue: true}
	exampleSendOne(msg, func(state server.DeliveryState) {
		if rej, ok := state.(*server.Rejected); ok && rej.Error != nil {
			fmt.Println("dead-letter:", rej.Error.Condition, rej.Error.Description)
		}
	}, func(d *amq.Delivery, ctx context.Context) error {
		return d.Reject(ctx, "amqp:decode-error", "bad JSON")
	})
	// Output: dead-letter: amqp:decode-error bad JSON
}

func ExampleReleased() {
	msg := &server.Message{Value: "job", HasValue: true}
	exampleSendOne(msg, func(state server.DeliveryState) {
		if _, ok := state.(*server.Released); ok {
			fmt.Println("not processed: deliver it again, delivery count unchanged")
		}
	}, (*amq.Delivery).Release)
	// Output: not processed: deliver it again, delivery count unchanged
}

func ExampleModified() {
	msg := &server.Message{Value: "job", HasValue: true}
	exampleSendOne(msg, func(state server.DeliveryState) {
		if mod, ok := state.(*server.Modified); ok {
			fmt.Println("failed:", mod.DeliveryFailed, "not here again:", mod.UndeliverableHere)
		}
	}, func(d *amq.Delivery, ctx context.Context) error {
		return d.Modify(ctx, &amq.ModifyOptions{DeliveryFailed: true, UndeliverableHere: true})
	})
	// Output: failed: true not here again: true
}

func ExampleDeliveryState() {
	// What a queue does with a message once its consumer settled it.
	next := func(state server.DeliveryState) string {
		switch s := state.(type) {
		case *server.Accepted:
			return "remove"
		case *server.Rejected:
			return "dead-letter"
		case *server.Released:
			return "redeliver"
		case *server.Modified:
			if s.UndeliverableHere {
				return "redeliver to another consumer"
			}
			return "redeliver"
		default: // nil: settled without an outcome
			return "remove"
		}
	}
	for _, state := range []server.DeliveryState{
		&server.Accepted{},
		&server.Rejected{Error: &server.Error{Condition: "amqp:decode-error"}},
		&server.Released{},
		&server.Modified{DeliveryFailed: true, UndeliverableHere: true},
	} {
		fmt.Println(next(state))
	}
	// Output:
	// remove
	// dead-letter
	// redeliver
	// redeliver to another consumer
}

func ExampleOutgoingDelivery_Result() {
	summary := make(chan string, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		var pending []*server.OutgoingDelivery
		for i := 1; i <= 3; i++ {
			d, err := s.Send(ctx, &server.Message{Value: fmt.Sprint("job ", i), HasValue: true}, false)
			if err != nil {
				return
			}
			pending = append(pending, d)
		}
		accepted := 0
		for len(pending) > 0 {
			select {
			case <-s.Settlements():
			case <-ctx.Done():
				return
			}
			for len(pending) > 0 { // look at the oldest first
				state, finished, _ := pending[0].Result()
				if !finished {
					break
				}
				if _, ok := state.(*server.Accepted); ok {
					accepted++
				}
				pending = pending[1:]
			}
		}
		summary <- fmt.Sprint(accepted, " accepted")
		<-ctx.Done()
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "jobs", &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		d, err := r.Receive(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if err := d.Accept(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(<-summary)
	// Output: 3 accepted
}

func ExampleSender_Settlements() {
	lost := make(chan int, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		d, err := s.Send(ctx, &server.Message{Value: "job", HasValue: true}, false)
		if err != nil {
			return
		}
		// One goroutine follows every delivery: no channel per delivery.
		for {
			<-s.Settlements()
			if _, finished, wasLost := d.Result(); finished {
				if wasLost {
					lost <- 1
				} else {
					lost <- 0
				}
				return
			}
		}
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{Reconnect: amq.NoReconnect})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.NewReceiver(ctx, "jobs", &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := r.Receive(ctx); err != nil {
		log.Fatal(err)
	}
	c.Close() // the consumer leaves without settling
	fmt.Println(<-lost, "lost: requeue it")
	// Output: 1 lost: requeue it
}

func ExampleSender_SettledCount() {
	settled := make(chan uint64, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		for i := 1; i <= 3; i++ {
			if _, err := s.Send(ctx, &server.Message{Value: i, HasValue: true}, false); err != nil {
				return
			}
		}
		for s.SettledCount() < 3 { // wait for the peer to settle all three
			select {
			case <-s.Settlements():
			case <-ctx.Done():
				return
			}
		}
		settled <- s.SettledCount()
		<-ctx.Done()
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, "numbers", &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		d, err := r.Receive(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if err := d.Accept(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(<-settled, "settled")
	// Output: 3 settled
}

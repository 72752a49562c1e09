package amqtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// ExampleBroker_Restart shows what a broker restart keeps: messages that
// were queued, and the client's links, which reconnect by themselves.
func ExampleBroker_Restart() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := amq.Dial(ctx, b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Send(ctx, amq.NewMessage("kept").SetTo("jobs")); err != nil {
		fmt.Println(err)
		return
	}

	b.Restart() // same port, queued messages kept; the client reconnects

	r, err := c.NewReceiver(ctx, "jobs", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := r.Receive(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Message.Body)
	// Output: kept
}

// ExampleBroker_DropConnections simulates a network drop: the client
// reports it and reconnects, and sends go on.
func ExampleBroker_DropConnections() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	states := make(chan amq.State, 16)
	c, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{
		OnStateChange: func(ev amq.StateEvent) { states <- ev.State },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(<-states)

	b.DropConnections()
	fmt.Println(<-states)
	for st := range states {
		if st == amq.StateConnected {
			fmt.Println(st)
			break
		}
	}
	if err := c.Send(ctx, amq.NewMessage("after the drop").SetTo("q")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("waiting:", b.QueueDepth("q"))
	// Output:
	// connected
	// disconnected
	// connected
	// waiting: 1
}

package amq_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/amqgo/amq"
)

// fixedRetries is a ReconnectPolicy that waits the same delay before each
// attempt and gives up after a number of failed attempts in a row.
type fixedRetries struct {
	delay    time.Duration
	max, try int
}

func (p *fixedRetries) Reset() { p.try = 0 }

func (p *fixedRetries) Next() (time.Duration, bool) {
	if p.try == p.max {
		return 0, false
	}
	p.try++
	return p.delay, true
}

func ExampleReconnectPolicy() {
	url, stop := exampleBroker()
	defer stop()
	c, err := amq.Dial(context.Background(), url, &amq.ConnectOptions{
		Reconnect: &fixedRetries{delay: time.Second, max: 5},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// What the client's supervisor does after losing its connection:
	p := &fixedRetries{delay: time.Second, max: 2}
	p.Reset()
	for {
		delay, ok := p.Next()
		if !ok {
			fmt.Println("give up")
			break
		}
		fmt.Println("wait", delay)
	}
	// Output:
	// wait 1s
	// wait 1s
	// give up
}

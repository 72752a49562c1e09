package amq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
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

func ExampleReconnectOnLoss() {
	closed := func(condition string) error {
		return &amq.Error{Scope: amq.ScopeConnection, Op: "connection to", Condition: condition}
	}
	fmt.Println(amq.ReconnectOnLoss(closed("amqp:connection:forced")))   // a broker restarting
	fmt.Println(amq.ReconnectOnLoss(closed("amqp:unauthorized-access"))) // the peer means it
	fmt.Println(amq.ReconnectOnLoss(&amq.Error{Scope: amq.ScopeConnection, Op: "connection to", Err: amq.ErrClosedByPeer}))
	// Output:
	// true
	// false
	// false
}

// A broker closes connections with amqp:resource-limit-exceeded when it is
// overloaded; this client comes back after such a close, and keeps the
// reference's rule for every other condition.
func ExampleConnectOptions_reconnectOn() {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{AllowAnonymous: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	states := make(chan amq.State, 16)
	c, err := amq.Dial(context.Background(), srv.URL(), &amq.ConnectOptions{
		ReconnectOn: func(err error) bool {
			var ae *amq.Error
			if errors.As(err, &ae) && ae.Condition == "amqp:resource-limit-exceeded" {
				return true
			}
			return amq.ReconnectOnLoss(err)
		},
		OnStateChange: func(ev amq.StateEvent) { states <- ev.State },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	<-states // connected

	srv.CloseConnections(server.CondResourceLimitExceeded, "overloaded")
	for st := <-states; st != amq.StateConnected; st = <-states {
	}
	fmt.Println("reconnected:", c.Err() == nil)

	srv.CloseConnections(server.CondUnauthorizedAccess, "access revoked")
	<-c.Done()
	var ae *amq.Error
	if errors.As(c.Err(), &ae) {
		fmt.Println("ended:", ae.Condition, "-", ae.Description)
	}
	// Output:
	// reconnected: true
	// ended: amqp:unauthorized-access - access revoked
}

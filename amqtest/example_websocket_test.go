package amqtest_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// A broker that speaks AMQP over WebSockets, for tests of clients that
// reach their broker through HTTP.
func ExampleWithWebSocket() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t, amqtest.WithWebSocket())
	fmt.Println(strings.HasPrefix(b.URL(), "amqpws://127.0.0.1:"))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Send(ctx, amq.NewMessage("over HTTP").SetTo("q")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.QueueDepth("q"))
	// Output:
	// true
	// 1
}

package broker_test

import (
	"fmt"

	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

func ExampleListen() {
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{
		MaxQueueMessages: 1000,
		Server:           &server.Options{AllowAnonymous: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	// Clients dial b.URL(); nodes are created as they attach.
	fmt.Println(b.QueueDepth("orders"))
	// Output: 0
}

func ExampleParseSelector() {
	sel, err := broker.ParseSelector("color IN ('red', 'green') AND weight > 2.5")
	if err != nil {
		fmt.Println(err)
		return
	}
	fields := map[string]any{"color": "red", "weight": 3}
	fmt.Println(sel.Match(func(name string) (any, bool) {
		v, ok := fields[name]
		return v, ok
	}))

	_, err = broker.ParseSelector("color = = 'red'")
	fmt.Println(err)
	// Output:
	// true
	// selector "color = = 'red'": at offset 8: unexpected "="
}

package broker_test

import (
	"fmt"
	"strings"

	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

// One broker on two listeners: AMQP over TCP, and over WebSockets for
// clients that reach it through HTTP.
func ExampleBroker_ServerOptions() {
	so := &server.Options{AllowAnonymous: true}
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{Server: so})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	ws, err := server.Listen("amqpws://127.0.0.1:0/amqp", b.ServerOptions(so))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close() // b.Close closes only the listener of Listen
	fmt.Println(strings.HasPrefix(b.URL(), "amqp://"), strings.HasPrefix(ws.URL(), "amqpws://"))
	// Output: true true
}

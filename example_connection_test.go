package amq_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// A broker that serves several virtual hosts behind one address tells
// them apart by the hostname of the open.
func ExampleConnectOptions_virtualHost() {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{AllowAnonymous: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, srv.URL(), &amq.ConnectOptions{VirtualHost: "vhost:tenant-a"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("the server was asked for", srv.Conns()[0].Hostname())
	// Output: the server was asked for vhost:tenant-a
}

// The client announces its own capabilities in the open, and reads the
// peer's from its answer.
func ExampleConnectOptions_capabilities() {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, url, &amq.ConnectOptions{
		OfferedCapabilities: []string{"SHARED-SUBS"},
		DesiredCapabilities: []string{"ANONYMOUS-RELAY", "DELAYED_DELIVERY"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, want := range []string{"ANONYMOUS-RELAY", "DELAYED_DELIVERY"} {
		fmt.Println(want, slices.Contains(c.PeerOfferedCapabilities(), want))
	}
	// Output:
	// ANONYMOUS-RELAY true
	// DELAYED_DELIVERY false
}

func ExampleClient_PeerOfferedCapabilities() {
	c, done := exampleClient()
	defer done()
	// The embedded broker routes messages sent on a link with no target
	// address by their "to", and says so.
	fmt.Println(c.PeerOfferedCapabilities())
	// Output: [ANONYMOUS-RELAY]
}

func ExampleClient_PeerDesiredCapabilities() {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		AllowAnonymous:      true,
		DesiredCapabilities: []server.Symbol{"SHARED-SUBS"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.PeerDesiredCapabilities())
	// Output: [SHARED-SUBS]
}

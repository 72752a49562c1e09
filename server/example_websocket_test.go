package server_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// AMQP over WebSockets: the server upgrades HTTP requests on /amqp for
// the subprotocol "amqp" and serves them as any AMQP connection.
func ExampleListen_webSocket() {
	srv, err := server.Listen("amqpws://127.0.0.1:0/amqp", &server.Options{AllowAnonymous: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	fmt.Println(strings.HasPrefix(srv.URL(), "amqpws://127.0.0.1:"), strings.HasSuffix(srv.URL(), "/amqp"))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(srv.NumConns())
	// Output:
	// true true
	// 1
}

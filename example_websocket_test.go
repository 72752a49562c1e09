package amq_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

// AMQP over WebSockets: an amqpws:// (or amqpwss://) URL, with the path
// the broker serves it on, and extra headers for the HTTP upgrade.
// Without WebSocketOptions.Proxy, HTTPS_PROXY and HTTP_PROXY are used, as
// net/http uses them.
func ExampleWebSocketOptions() {
	b, err := broker.Listen("amqpws://127.0.0.1:0/amqp", &broker.Options{Server: &server.Options{AllowAnonymous: true}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{
		WebSocket: amq.WebSocketOptions{
			Header: http.Header{"Authorization": {"Bearer token-for-the-gateway"}},
			// Straight to the broker, whatever the environment says.
			Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(strings.HasPrefix(c.URL(), "amqpws://127.0.0.1:"), strings.HasSuffix(c.URL(), "/amqp"))
	// Output: true true
}

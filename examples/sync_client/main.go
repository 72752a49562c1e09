// Command sync_client makes synchronous requests, like Proton's
// sync_client.py: it sends one request at a time and waits for its reply
// before sending the next. Replies come back on a dynamic address (a
// temporary queue the peer creates for this client); each request carries
// that address as reply-to and a message id, which the server returns as
// the reply's correlation id. Pair it with the server example (through a
// broker) or with server_direct (no broker).
//
// Usage: sync_client [-url amqp://localhost:5672] [-address examples] [-timeout 5s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/amqgo/amq"
)

var requests = []string{
	"Twas brillig, and the slithy toves",
	"Did gire and gymble in the wabe.",
	"All mimsy were the borogroves,",
	"And the mome raths outgrabe.",
}

func main() {
	url := flag.String("url", "amqp://localhost:5672", "connection URL of the broker or server")
	address := flag.String("address", "examples", "address the server receives requests on")
	timeout := flag.Duration("timeout", 5*time.Second, "give up on a reply after this long")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: sync_client [-url URL] [-address ADDRESS] [-timeout DURATION]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *timeout <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "sync_client:", err)
		os.Exit(1)
	}
}

// client is Proton's SyncRequestResponse: a sender for requests and a
// receiver on a dynamic address for their replies.
type client struct {
	requests *amq.Sender
	replies  *amq.Receiver
	timeout  time.Duration
	nextID   int
}

// call sends req and blocks until its reply arrives or the timeout passes.
func (c *client) call(ctx context.Context, req *amq.Message) (*amq.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	c.nextID++
	req.ID = strconv.Itoa(c.nextID)
	req.ReplyTo = c.replies.Address()
	if err := c.requests.Send(ctx, req); err != nil {
		return nil, err
	}
	d, err := c.replies.Receive(ctx)
	if err != nil {
		return nil, fmt.Errorf("waiting for the reply to request %v: %w", req.ID, err)
	}
	if d.Message.CorrelationID != req.ID {
		return nil, fmt.Errorf("reply correlation id %v does not match request id %v", d.Message.CorrelationID, req.ID)
	}
	return d.Message, nil
}

func run(ctx context.Context, url, address string, timeout time.Duration) error {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := amq.Dial(dctx, url, nil)
	if err != nil {
		return err
	}
	defer conn.Close()

	replies, err := conn.NewReceiver(dctx, "", &amq.ReceiverOptions{DynamicAddress: true})
	if err != nil {
		return err
	}
	sender, err := conn.NewSender(dctx, address, nil)
	if err != nil {
		return err
	}
	c := &client{requests: sender, replies: replies, timeout: timeout}
	for _, body := range requests {
		reply, err := c.call(ctx, amq.NewMessage(body))
		if err != nil {
			return err
		}
		fmt.Printf("%s => %v\n", body, reply.Body)
	}
	return conn.Close()
}

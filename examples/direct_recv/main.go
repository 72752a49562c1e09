// Command direct_recv receives messages without a broker, like Proton's
// direct_recv.py: it listens for AMQP connections itself (package server)
// and prints the body of each message a peer sends to -address, accepting
// it. Point simple_send (or any AMQP sender) at it:
//
//	direct_recv -url amqp://127.0.0.1:8888 -m 10
//	simple_send -url amqp://127.0.0.1:8888 -m 10
//
// It prints "Listening on URL" first (with the real port when -url asks
// for port 0). After -m messages it stops listening once the sender has
// closed its connection. Messages with numeric ids seen before (a
// sender's resends after a reconnect) are accepted and not printed.
//
// Usage: direct_recv [-url amqp://127.0.0.1:5672] [-address examples] [-m 100]
//
// -m 0 receives until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"

	"github.com/amqgo/amq/server"
)

func main() {
	listenURL := flag.String("url", "amqp://127.0.0.1:5672", "URL to listen on (port 0: any free port)")
	address := flag.String("address", "examples", "address peers send to")
	count := flag.Int("m", 100, "number of messages to receive; 0 receives until interrupted")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: direct_recv [-url URL] [-address ADDRESS] [-m COUNT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *listenURL, *address, *count); err != nil {
		fmt.Fprintln(os.Stderr, "direct_recv:", err)
		os.Exit(1)
	}
}

// receiver counts what every link brings in: peers may reconnect and
// attach again, and the count goes on.
type receiver struct {
	address  string
	expected int

	mu       sync.Mutex
	received int
	lastID   uint64
	done     chan *server.Conn // gets the connection that brought the last message
}

func (rc *receiver) attach(ctx context.Context, l *server.Link) error {
	if l.Role() != server.RoleReceiver {
		return &server.Error{Condition: "amqp:not-allowed", Description: "direct_recv only receives"}
	}
	if t := l.Target(); t == nil || t.Address != rc.address {
		return &server.Error{Condition: "amqp:not-found", Description: "direct_recv receives on '" + rc.address + "' only"}
	}
	return nil
}

func (rc *receiver) serve(ctx context.Context, r *server.Receiver) {
	for {
		d, err := r.Receive(ctx)
		if err != nil {
			return // link detached
		}
		msg, err := d.Message()
		if err != nil {
			_ = d.Reject(&server.Error{Condition: "amqp:decode-error", Description: err.Error()})
			continue
		}
		rc.mu.Lock()
		if rc.expected != 0 && rc.received == rc.expected {
			rc.mu.Unlock()
			_ = d.Release() // more than asked for: not ours to take
			continue
		}
		if id, ok := messageID(msg); ok {
			if id <= rc.lastID {
				rc.mu.Unlock()
				_ = d.Accept() // a duplicate
				continue
			}
			rc.lastID = id
		}
		fmt.Println(goValue(msg.Value))
		rc.received++
		last := rc.received == rc.expected
		rc.mu.Unlock()
		_ = d.Accept()
		if last {
			rc.done <- r.Link().Conn()
		}
	}
}

func run(ctx context.Context, listenURL, address string, expected int) error {
	rc := &receiver{address: address, expected: expected, done: make(chan *server.Conn, 1)}
	srv, err := server.Listen(listenURL, &server.Options{
		AllowAnonymous: true,
		Handler:        server.HandlerFuncs{AttachFunc: rc.attach, ServeReceiverFunc: rc.serve},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println("Listening on", srv.URL())

	select {
	case conn := <-rc.done:
		// Let the sender see the last outcome and close by itself.
		select {
		case <-conn.Done():
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	return nil
}

// messageID returns a numeric message id.
func messageID(m *server.Message) (uint64, bool) {
	if m.Properties == nil {
		return 0, false
	}
	id, ok := m.Properties.MessageID.(uint64)
	return id, ok
}

// goValue turns AMQP maps and lists into Go maps and slices, so that
// fmt prints them the way the client side prints a received body.
func goValue(v any) any {
	switch v := v.(type) {
	case server.Map:
		m := make(map[any]any, len(v))
		for _, e := range v {
			m[goValue(e.Key)] = goValue(e.Value)
		}
		return m
	case server.List:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = goValue(e)
		}
		return l
	case server.Symbol:
		return string(v)
	}
	return v
}

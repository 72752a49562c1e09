// Command direct_send sends messages without a broker, like Proton's
// direct_send.py: it listens for AMQP connections itself (package server)
// and sends -m messages, each with a numeric id and the body
// {"sequence": N}, to the first peer that attaches a receiver to
// -address, then prints "all messages confirmed" once the peer has
// accepted them all. Point simple_recv (or any AMQP receiver) at it:
//
//	direct_send -url amqp://127.0.0.1:8888 -m 10
//	simple_recv -url amqp://127.0.0.1:8888 -m 10
//
// It prints "Listening on URL" first (with the real port when -url asks
// for port 0). If the receiver goes away before accepting everything,
// the next receiver to attach gets the unconfirmed messages again. Once
// all are confirmed it stops listening when the receiver has closed its
// connection.
//
// Usage: direct_send [-url amqp://127.0.0.1:5672] [-address examples] [-m 100]
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
	address := flag.String("address", "examples", "address peers receive from")
	count := flag.Int("m", 100, "number of messages to send")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: direct_send [-url URL] [-address ADDRESS] [-m COUNT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *listenURL, *address, *count); err != nil {
		fmt.Fprintln(os.Stderr, "direct_send:", err)
		os.Exit(1)
	}
}

// sender hands the messages to one receiving link at a time and remembers
// how many were confirmed, so that a later link resumes after them.
type sender struct {
	address string
	total   int

	mu        sync.Mutex // held by the link currently sending
	confirmed int
	done      chan *server.Conn // gets the connection that confirmed the last message
}

func (sd *sender) attach(ctx context.Context, l *server.Link) error {
	if l.Role() != server.RoleSender {
		return &server.Error{Condition: "amqp:not-allowed", Description: "direct_send only sends"}
	}
	if s := l.Source(); s == nil || s.Address != sd.address {
		return &server.Error{Condition: "amqp:not-found", Description: "direct_send sends from '" + sd.address + "' only"}
	}
	return nil
}

func (sd *sender) serve(ctx context.Context, s *server.Sender) {
	sd.mu.Lock()
	finished := sd.send(ctx, s)
	sd.mu.Unlock()
	if finished {
		fmt.Println("all messages confirmed")
		sd.done <- s.Link().Conn()
	}
	// Keep the link open (answering drain requests) until the peer
	// detaches it: returning would close it under the peer.
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.Flowed():
			if s.Draining() {
				_ = s.Drained()
			}
		}
	}
}

// send sends every unconfirmed message and waits for their outcomes. It
// reports whether this link confirmed the last one.
func (sd *sender) send(ctx context.Context, s *server.Sender) bool {
	for sd.confirmed < sd.total {
		// Send blocks until the peer grants credit: the peer paces us.
		var inflight []*server.OutgoingDelivery
		for seq := sd.confirmed + 1; seq <= sd.total; seq++ {
			d, err := s.Send(ctx, message(seq), false)
			if err != nil {
				break // link gone: wait for those already sent, then stop
			}
			inflight = append(inflight, d)
		}
		if len(inflight) == 0 {
			return false
		}
		for _, d := range inflight {
			// Not ctx: it ends when the peer detaches, which a receiver
			// does right after settling its last message, and Wait would
			// then report ctx's error instead of that outcome. The
			// delivery itself ends with the link (lost), so this wait is
			// bounded all the same.
			state, err := d.Wait(context.WithoutCancel(ctx))
			if err != nil {
				return false // the link ended first: the next link resends
			}
			if !sd.settle(state) {
				// Released or modified: send it again, with what followed
				// it (those may arrive twice: at-least-once).
				break
			}
		}
	}
	return true
}

// settle counts a final outcome and reports false for one that asks for
// the message to be sent again.
func (sd *sender) settle(state server.DeliveryState) bool {
	switch state := state.(type) {
	case *server.Accepted:
	case *server.Rejected:
		// Final: sending it again would not help.
		fmt.Fprintf(os.Stderr, "direct_send: message %d rejected: %v\n", sd.confirmed+1, state.Error)
	default:
		return false
	}
	sd.confirmed++
	return true
}

func message(seq int) *server.Message {
	return &server.Message{
		Properties: &server.Properties{MessageID: uint64(seq)},
		Value:      server.Map{{Key: "sequence", Value: int64(seq)}},
		HasValue:   true,
	}
}

func run(ctx context.Context, listenURL, address string, total int) error {
	sd := &sender{address: address, total: total, done: make(chan *server.Conn, 1)}
	srv, err := server.Listen(listenURL, &server.Options{
		AllowAnonymous: true,
		Handler:        server.HandlerFuncs{AttachFunc: sd.attach, ServeSenderFunc: sd.serve},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println("Listening on", srv.URL())

	select {
	case conn := <-sd.done:
		select {
		case <-conn.Done():
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	return nil
}

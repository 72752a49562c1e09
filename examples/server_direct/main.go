// Command server_direct answers requests without a broker, like Proton's
// server_direct.py: it listens for AMQP connections itself (package
// server), receives requests on any address and sends each body
// upper-cased to the request's reply-to address, through the same
// connection. A client that wants replies attaches a receiver with a
// dynamic source; server_direct names that address and remembers the
// link, so a reply to it goes straight down that link. The reply's
// correlation id is the request's correlation id, or its message id when
// it has none. Pair it with sync_client or client:
//
//	server_direct -url amqp://127.0.0.1:8888
//	sync_client -url amqp://127.0.0.1:8888
//
// It prints "Listening on URL" first (with the real port when -url asks
// for port 0). With -m it stops after that many requests, once the client
// has closed its connection.
//
// Usage: server_direct [-url amqp://127.0.0.1:5672] [-m 0]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/amqgo/amq/server"
)

func main() {
	listenURL := flag.String("url", "amqp://127.0.0.1:5672", "URL to listen on (port 0: any free port)")
	count := flag.Int("m", 0, "stop after this many requests; 0 serves until interrupted")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: server_direct [-url URL] [-m COUNT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *listenURL, *count); err != nil {
		fmt.Fprintln(os.Stderr, "server_direct:", err)
		os.Exit(1)
	}
}

// replier keeps the links replies go out on, by address.
type replier struct {
	expected int

	mu      sync.Mutex
	names   map[*server.Link]string // reply address chosen at attach
	senders map[string]*server.Sender
	served  int
	done    chan *server.Conn // gets the connection of the last request
}

func (rp *replier) attach(ctx context.Context, l *server.Link) error {
	if l.Role() != server.RoleSender {
		return nil // a peer sending requests: any address will do
	}
	src := l.Source()
	if src == nil {
		return &server.Error{Condition: "amqp:invalid-field", Description: "a receiver needs a source"}
	}
	addr := src.Address
	if src.Dynamic {
		// Name the temporary node the peer asked for; the reply address
		// it reads from our attach.
		named := *src
		named.Address = uuid.NewString()
		l.SetSource(&named)
		addr = named.Address
	}
	rp.mu.Lock()
	rp.names[l] = addr
	rp.mu.Unlock()
	return nil
}

// serveReplies registers the link replies to its address go out on and
// keeps it until the peer detaches it.
func (rp *replier) serveReplies(ctx context.Context, s *server.Sender) {
	rp.mu.Lock()
	addr := rp.names[s.Link()]
	delete(rp.names, s.Link())
	rp.senders[addr] = s
	rp.mu.Unlock()
	defer func() {
		rp.mu.Lock()
		delete(rp.senders, addr)
		rp.mu.Unlock()
	}()
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

func (rp *replier) serveRequests(ctx context.Context, r *server.Receiver) {
	for {
		d, err := r.Receive(ctx)
		if err != nil {
			return // link detached
		}
		req, err := d.Message()
		if err != nil {
			_ = d.Reject(&server.Error{Condition: "amqp:decode-error", Description: err.Error()})
			continue
		}
		body := fmt.Sprint(req.Value)
		fmt.Printf("Received '%s'\n", body)
		if err := rp.reply(ctx, req, strings.ToUpper(body)); err != nil {
			fmt.Printf("Cannot reply: %v\n", err)
			_ = d.Reject(&server.Error{Condition: "amqp:not-found", Description: err.Error()})
			continue
		}
		_ = d.Accept()
		rp.mu.Lock()
		rp.served++
		last := rp.served == rp.expected
		rp.mu.Unlock()
		if last {
			rp.done <- r.Link().Conn()
		}
	}
}

func (rp *replier) reply(ctx context.Context, req *server.Message, body string) error {
	if req.Properties == nil || req.Properties.ReplyTo == nil {
		return errors.New("the request has no reply-to address")
	}
	to := *req.Properties.ReplyTo
	rp.mu.Lock()
	s := rp.senders[to]
	rp.mu.Unlock()
	if s == nil {
		return fmt.Errorf("no link for replies to '%s'", to)
	}
	corr := req.Properties.CorrelationID
	if corr == nil {
		corr = req.Properties.MessageID
	}
	reply := &server.Message{
		Properties: &server.Properties{To: &to, CorrelationID: corr},
		Value:      body,
		HasValue:   true,
	}
	// Send returns once the reply is queued for the wire; its outcome is
	// not awaited, so one slow client does not hold up the others.
	if _, err := s.Send(ctx, reply, false); err != nil {
		return fmt.Errorf("reply to '%s': %w", to, err)
	}
	fmt.Printf("Sent '%s'\n", body)
	return nil
}

func run(ctx context.Context, listenURL string, expected int) error {
	rp := &replier{
		expected: expected,
		names:    map[*server.Link]string{},
		senders:  map[string]*server.Sender{},
		done:     make(chan *server.Conn, 1),
	}
	srv, err := server.Listen(listenURL, &server.Options{
		AllowAnonymous: true,
		Handler: server.HandlerFuncs{
			AttachFunc:        rp.attach,
			ServeSenderFunc:   rp.serveReplies,
			ServeReceiverFunc: rp.serveRequests,
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println("Listening on", srv.URL())

	select {
	case conn := <-rp.done:
		select {
		case <-conn.Done():
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	return nil
}

package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"regexp"
	"strings"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

func ExampleLink_Address() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if !strings.HasPrefix(l.Address(), "public.") {
			return &server.Error{Condition: server.CondNotFound, Description: l.Address()}
		}
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	_, err := c.NewReceiver(ctx, "public.news", nil)
	fmt.Println(err)
	_, err = c.NewReceiver(ctx, "private.mail", nil)
	fmt.Println(err != nil)
	// Output:
	// <nil>
	// true
}

func ExampleLink_Name() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		fmt.Println(l.Name())
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "orders", &amq.SenderOptions{Name: "orders-writer"}); err != nil {
		log.Fatal(err)
	}
	// Output: orders-writer
}

func ExampleLink_Conn() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		// A durable subscription is keyed by the container id and the link name.
		fmt.Println(l.Conn().ContainerID() + "/" + l.Name())
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{ContainerID: "reporting"})
	defer c.Close()
	if _, err := c.NewReceiver(context.Background(), "sales", &amq.ReceiverOptions{Name: "daily", Durable: true}); err != nil {
		log.Fatal(err)
	}
	// Output: reporting/daily
}

func ExampleLink_Source() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if s := l.Source(); s != nil && l.Role() == server.RoleSender {
			fmt.Println(s.Address, s.DistributionMode, s.Capabilities)
		}
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	_, err := c.NewReceiver(context.Background(), "stock", &amq.ReceiverOptions{Browse: true, Capabilities: []string{"queue"}})
	if err != nil {
		log.Fatal(err)
	}
	// Output: stock copy [queue]
}

func ExampleLink_Target() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if t := l.Target(); t != nil && l.Role() == server.RoleReceiver {
			fmt.Println(t.Address, t.Capabilities)
		}
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "prices", &amq.SenderOptions{Capabilities: []string{"topic"}}); err != nil {
		log.Fatal(err)
	}
	// Output: prices [topic]
}

func ExampleLink_Handle() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		fmt.Println(l.Address(), "handle", l.Handle())
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	ctx := context.Background()
	for _, addr := range []string{"a", "b"} { // two links on one session
		if _, err := session.NewSender(ctx, addr, nil); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// a handle 0
	// b handle 1
}

func ExampleLink_Properties() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		v, _ := l.Properties().Get(server.Symbol("client-version"))
		fmt.Println(v)
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	_, err := c.NewSender(context.Background(), "q", &amq.SenderOptions{Properties: map[string]any{"client-version": "1.2"}})
	if err != nil {
		log.Fatal(err)
	}
	// Output: 1.2
}

func ExampleLink_DesiredCapabilities() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		fmt.Println(l.DesiredCapabilities())
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	if _, err := session.NewReceiver(context.Background(), "q", &amqp.ReceiverOptions{DesiredCapabilities: []string{"shared"}}); err != nil {
		log.Fatal(err)
	}
	// Output: [shared]
}

func ExampleLink_MaxMessageSize() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		fmt.Println("the peer takes messages up to", l.MaxMessageSize(), "bytes")
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	if _, err := session.NewReceiver(context.Background(), "q", &amqp.ReceiverOptions{MaxMessageSize: 1024}); err != nil {
		log.Fatal(err)
	}
	// Output: the peer takes messages up to 1024 bytes
}

func ExampleLink_Role() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		fmt.Println("server is", l.Role(), "on", l.Address())
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "uploads", nil); err != nil {
		log.Fatal(err)
	}
	// Output: server is receiver on uploads
}

func ExampleLink_SenderSettleMode() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		fmt.Println(l.SenderSettleMode() == server.SenderSettleMixed)
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "q", nil); err != nil {
		log.Fatal(err)
	}
	// Output: true
}

func ExampleLink_ReceiverSettleMode() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		fmt.Println(l.ReceiverSettleMode() == server.ReceiverSettleFirst)
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "q", nil); err != nil {
		log.Fatal(err)
	}
	// Output: true
}

func ExampleLink_SetCreditWindow() {
	credit := make(chan uint32, 1)
	srv := exampleServer(server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			l.SetCreditWindow(1) // one message at a time from this peer
			return nil
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			credit <- r.Credit()
			server.Discard(ctx, r)
		},
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "slow", nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-credit)
	// Output: 1
}

// exampleAttachReply returns what the server's attach frames carried for
// field, from an amq frame trace (ConnectOptions.TraceFrames).
func exampleAttachReply(trace, field string) []string {
	re := regexp.MustCompile(field + `=[^\]]*\]`)
	var found []string
	for _, line := range strings.Split(trace, "\n") {
		if strings.Contains(line, "<- @attach") {
			found = append(found, re.FindString(line))
		}
	}
	return found
}

func ExampleLink_SetOfferedCapabilities() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		l.SetOfferedCapabilities("queue", "DELAYED_DELIVERY")
		return nil
	}})
	defer srv.Close()
	var trace bytes.Buffer
	c := exampleClient(srv.URL(), &amq.ConnectOptions{TraceFrames: true, TraceOutput: &trace})
	if _, err := c.NewSender(context.Background(), "q", nil); err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println(exampleAttachReply(trace.String(), "offered-capabilities"))
	// Output: [offered-capabilities=@PN_SYMBOL[:queue, :DELAYED_DELIVERY]]
}

func ExampleLink_SetDesiredCapabilities() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		l.SetDesiredCapabilities("topic")
		return nil
	}})
	defer srv.Close()
	var trace bytes.Buffer
	c := exampleClient(srv.URL(), &amq.ConnectOptions{TraceFrames: true, TraceOutput: &trace})
	if _, err := c.NewReceiver(context.Background(), "news", nil); err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println(exampleAttachReply(trace.String(), "desired-capabilities"))
	// Output: [desired-capabilities=@PN_SYMBOL[:topic]]
}

func ExampleLink_SetMaxMessageSize() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		l.SetMaxMessageSize(64 << 10) // larger messages detach the link
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	snd, err := session.NewSender(context.Background(), "uploads", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(snd.MaxMessageSize())
	// Output: 65536
}

func ExampleLink_SetProperties() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		l.SetProperties(server.Map{{Key: server.Symbol("queue-depth"), Value: int64(42)}})
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	snd, err := session.NewSender(context.Background(), "jobs", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(snd.Properties()["queue-depth"])
	// Output: 42
}

func ExampleLink_SetSettleModes() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		// This server settles in one step only: it says so, and the peer adapts or leaves.
		l.SetSettleModes(l.SenderSettleMode(), server.ReceiverSettleFirst)
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	second := amqp.ReceiverSettleModeSecond
	_, err := session.NewSender(context.Background(), "payments", &amqp.SenderOptions{RequestedReceiverSettleMode: &second})
	fmt.Println(err)
	// Output: amqp: receiver settlement mode "second" requested, received "first" from server
}

func ExampleLink_SetSource() {
	var n int
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if s := l.Source(); s != nil && s.Dynamic {
			n++ // Attach runs on the connection's reader goroutine, one at a time
			l.SetSource(&server.Source{Address: fmt.Sprintf("tmp.reply.%d", n), Dynamic: true})
		}
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	r, err := c.NewReceiver(context.Background(), "", &amq.ReceiverOptions{DynamicAddress: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Address())
	// Output: tmp.reply.1
}

func ExampleLink_SetTarget() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if t := l.Target(); t != nil && t.Dynamic {
			l.SetTarget(&server.Target{Address: "inbox.7", Dynamic: true})
		}
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	snd, err := session.NewSender(context.Background(), "", &amqp.SenderOptions{DynamicAddress: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(snd.Address())
	// Output: inbox.7
}

func ExampleLink_Close() {
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		_ = s.Link().Close(&server.Error{Condition: "amqp:resource-deleted", Description: "queue deleted"})
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	r, err := session.NewReceiver(context.Background(), "doomed", nil)
	if err != nil {
		log.Fatal(err)
	}
	_, err = r.Receive(context.Background(), nil)
	var linkErr *amqp.LinkError
	if errors.As(err, &linkErr) && linkErr.RemoteErr != nil {
		fmt.Println(linkErr.RemoteErr.Condition, linkErr.RemoteErr.Description)
	}
	// Output: amqp:resource-deleted queue deleted
}

func ExampleLink_Detach() {
	reason := make(chan string, 1)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		// Detach, not close: the peer may attach again later, e.g. to
		// another node of a cluster being rebalanced.
		l := s.Link()
		_ = l.Detach(&server.Error{Condition: server.CondDetachForced, Description: "rebalancing"})
		<-l.Done()
		closed, err := l.DetachReason()
		reason <- fmt.Sprint(closed, " ", err.Condition)
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	if _, err := session.NewReceiver(context.Background(), "work", nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-reason)
	// Output: false amqp:link:detach-forced
}

func ExampleLink_DetachReason() {
	reasons := make(chan string, 2)
	srv := exampleServer(server.HandlerFuncs{ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
		<-s.Done()
		if closed, _ := s.Link().DetachReason(); closed {
			reasons <- s.Link().Name() + ": closed, forget the subscription"
		} else {
			reasons <- s.Link().Name() + ": detached, keep the subscription"
		}
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{ContainerID: "app"})
	defer c.Close()
	ctx := context.Background()
	for _, name := range []string{"sub-1", "sub-2"} {
		r, err := c.NewReceiver(ctx, "news", &amq.ReceiverOptions{Name: name, Durable: true})
		if err != nil {
			log.Fatal(err)
		}
		if name == "sub-1" {
			err = r.Detach(ctx)
		} else {
			err = r.Close(ctx)
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(<-reasons)
	}
	// Output:
	// sub-1: detached, keep the subscription
	// sub-2: closed, forget the subscription
}

func ExampleLink_Done() {
	ended := make(chan string, 1)
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		go func() {
			<-l.Done()
			ended <- l.Name()
		}()
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "q", &amq.SenderOptions{Name: "short-lived"})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-ended, "ended")
	// Output: short-lived ended
}

package broker_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

// listen starts a broker on a free loopback port that accepts anonymous
// clients.
func listen(t testing.TB, opts *broker.Options) *broker.Broker {
	t.Helper()
	var o broker.Options
	if opts != nil {
		o = *opts
	}
	o.Server = &server.Options{AllowAnonymous: true}
	b, err := broker.Listen("amqp://127.0.0.1:0", &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// ctxT bounds every blocking call of a test.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t testing.TB, url, container string) *amqp.Conn {
	t.Helper()
	c, err := amqp.Dial(ctxT(t), url, &amqp.ConnOptions{
		ContainerID: container,
		SASLType:    amqp.SASLTypeAnonymous(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func session(t testing.TB, c *amqp.Conn) *amqp.Session {
	t.Helper()
	s, err := c.NewSession(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newSender(t testing.TB, s *amqp.Session, addr string, opts *amqp.SenderOptions) *amqp.Sender {
	t.Helper()
	snd, err := s.NewSender(ctxT(t), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return snd
}

func newReceiver(t testing.TB, s *amqp.Session, addr string, opts *amqp.ReceiverOptions) *amqp.Receiver {
	t.Helper()
	r, err := s.NewReceiver(ctxT(t), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sendText(t testing.TB, snd *amqp.Sender, body string, props map[string]any) {
	t.Helper()
	m := amqp.NewMessage([]byte(body))
	m.ApplicationProperties = props
	if err := snd.Send(ctxT(t), m, nil); err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
}

func receiveText(t testing.TB, r *amqp.Receiver) (string, *amqp.Message) {
	t.Helper()
	m, err := r.Receive(ctxT(t), nil)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return string(m.GetData()), m
}

// eventually polls cond until it holds, failing the test after a bound.
// It waits on a condition, never for a fixed time.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

package amqtest_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/amqtest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, url string, opts *amqp.ConnOptions) *amqp.Conn {
	t.Helper()
	if opts == nil {
		opts = &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()}
	}
	c, err := amqp.Dial(ctxT(t), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(t *testing.T, c *amqp.Conn, addr string, bodies ...string) {
	t.Helper()
	s, err := c.NewSession(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctxT(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		if err := snd.Send(ctxT(t), amqp.NewMessage([]byte(b)), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func receive(t *testing.T, c *amqp.Conn, addr string, n int) []string {
	t.Helper()
	s, err := c.NewSession(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.NewReceiver(ctxT(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for range n {
		m, err := r.Receive(ctxT(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.AcceptMessage(ctxT(t), m)
		out = append(out, string(m.GetData()))
	}
	return out
}

func TestURLAndDepth(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	send(t, c, "q", "a", "b")
	if d := b.QueueDepth("q"); d != 2 {
		t.Fatalf("depth %d", d)
	}
	if got := receive(t, c, "q", 2); got[0] != "a" || got[1] != "b" {
		t.Fatalf("got %v", got)
	}
}

func TestRestartKeepsQueuedMessages(t *testing.T) {
	b := amqtest.NewBroker(t)
	url := b.URL()
	send(t, dial(t, url, nil), "kept", "1", "2", "3")
	b.Restart()
	if b.URL() != url {
		t.Fatalf("URL changed: %s → %s", url, b.URL())
	}
	if got := receive(t, dial(t, b.URL(), nil), "kept", 3); got[0] != "1" || got[2] != "3" {
		t.Fatalf("got %v", got)
	}
}

func TestStopRefusesThenRestart(t *testing.T) {
	b := amqtest.NewBroker(t)
	b.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := amqp.Dial(ctx, b.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()}); err == nil {
		c.Close()
		t.Fatal("dial succeeded while stopped")
	}
	b.Restart()
	send(t, dial(t, b.URL(), nil), "q", "x")
}

func TestDropConnections(t *testing.T) {
	for _, forced := range []bool{false, true} {
		b := amqtest.NewBroker(t)
		c := dial(t, b.URL(), nil)
		send(t, c, "q", "x")
		if forced {
			b.DropConnectionsForced()
		} else {
			b.DropConnections()
		}
		select {
		case <-c.Done():
		case <-ctxT(t).Done():
			t.Fatal("connection not dropped")
		}
		if forced {
			var ce *amqp.ConnError
			if err := c.Err(); err == nil || !asConnErr(err, &ce) || ce.RemoteErr == nil || ce.RemoteErr.Condition != amqp.ErrCondConnectionForced {
				t.Fatalf("forced drop err = %v", err)
			}
		}
		// The broker still serves, and kept the message.
		if got := receive(t, dial(t, b.URL(), nil), "q", 1); got[0] != "x" {
			t.Fatalf("got %v", got)
		}
	}
}

func TestUsers(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithUser("alice", "secret"))
	send(t, dial(t, b.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "secret")}), "q", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := amqp.Dial(ctx, b.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "nope")}); err == nil {
		c.Close()
		t.Fatal("wrong password accepted")
	}
	if c, err := amqp.Dial(ctx, b.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()}); err == nil {
		c.Close()
		t.Fatal("anonymous accepted when users are configured")
	}
}

func TestMaxQueueMessages(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithMaxQueueMessages(1))
	c := dial(t, b.URL(), nil)
	send(t, c, "q", "1")
	s, _ := c.NewSession(ctxT(t), nil)
	snd, err := s.NewSender(ctxT(t), "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ae *amqp.Error
	if err := snd.Send(ctxT(t), amqp.NewMessage([]byte("2")), nil); !asAMQPErr(err, &ae) || ae.Condition != amqp.ErrCondResourceLimitExceeded {
		t.Fatalf("err = %v", err)
	}
}

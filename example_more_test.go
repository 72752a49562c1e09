package amq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/amqgo/amq"
)

func ExampleLoadConnectConfig() {
	dir, err := os.MkdirTemp("", "amq-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "connect.json")
	err = os.WriteFile(path, []byte(`{
		// JSON with comments and trailing commas
		"host": "broker.example.com",
		"user": "alice",
		"password": "secret",
		"sasl": {"mechanisms": ["SCRAM-SHA-256"]},
	}`), 0o600)
	if err != nil {
		log.Fatal(err)
	}
	cc, err := amq.LoadConnectConfig(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cc.URL, cc.Options.User, cc.Options.SASL.Mechanisms)
	// Output: amqps://broker.example.com:5671 alice [SCRAM-SHA-256]
}

func ExampleReceiver_Receive() {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r, err := c.NewReceiver(ctx, "orders", &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Send(ctx, amq.NewMessage("order 1").SetTo("orders")); err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.Body)
	if err := d.Accept(ctx); err != nil {
		log.Fatal(err)
	}
	// With nothing left, Receive waits until ctx ends.
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	_, err = r.Receive(short)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output:
	// order 1
	// true
}

func ExampleRetryable() {
	fmt.Println(amq.Retryable(&amq.ReleasedError{}))
	fmt.Println(amq.Retryable(&amq.RejectedError{Condition: "amqp:decode-error"}))
	fmt.Println(amq.Retryable(&amq.Error{Scope: amq.ScopeConnection, Condition: "amqp:connection:forced"}))
	// Output:
	// true
	// false
	// true
}

func ExampleMessage_SetJMSType() {
	m := amq.NewMessage([]byte(`{"id": 7}`)).SetJMSType(amq.JMSTextMessage)
	fmt.Println(m.JMSType(), amq.NewMessage(map[string]any{"id": 7}).JMSType())
	// Output: TextMessage ObjectMessage
}

func ExampleNewExponentialReconnect() {
	// Start at 50ms, double up to 5s, give up after 20 failed attempts in a row.
	policy := amq.NewExponentialReconnect(50*time.Millisecond, 5*time.Second, 20)
	policy.Reset()
	first, _ := policy.Next()
	fmt.Println(first) // the first attempt is immediate
	// Output: 0s
}

package amqtest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/amqtest"
)

// exampleT stands in for the *testing.T a real test passes to NewBroker
// (an Example function has none).
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (t *exampleT) Helper()                   {}
func (t *exampleT) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (t *exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// finish runs the cleanups, as the testing package does after a test.
func (t *exampleT) finish() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

func ExampleNewBroker() {
	t := &exampleT{} // in a test: func TestX(t *testing.T) { b := amqtest.NewBroker(t) ... }
	defer t.finish()
	b := amqtest.NewBroker(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := amqp.Dial(ctx, b.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	s, err := conn.NewSession(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	snd, err := s.NewSender(ctx, "greetings", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := snd.Send(ctx, amqp.NewMessage([]byte("hello")), nil); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("waiting:", b.QueueDepth("greetings"))

	b.Restart() // queued messages survive a restart
	conn.Close()
	conn, err = amqp.Dial(ctx, b.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	s, _ = conn.NewSession(ctx, nil)
	r, err := s.NewReceiver(ctx, "greetings", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := r.Receive(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = r.AcceptMessage(ctx, m)
	fmt.Println("received:", string(m.GetData()))
	// Output:
	// waiting: 1
	// received: hello
}

package amq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/amqgo/amq"
)

// Drain takes a batch: whatever the broker has for the receiver, up to its
// credit, and no waiting for more. The messages have all arrived when
// Drain returns, so a Receive that would wait marks the end of the batch.
func ExampleReceiver_Drain() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	for _, job := range []string{"job 1", "job 2", "job 3"} {
		if err := c.Send(ctx, amq.NewMessage(job).SetTo("jobs")); err != nil {
			log.Fatal(err)
		}
	}

	r, err := c.NewReceiver(ctx, "jobs", &amq.ReceiverOptions{Credit: 10})
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Drain(ctx); err != nil {
		log.Fatal(err)
	}
	for {
		next, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		d, err := r.Receive(next)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break // the batch is done
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(d.Message.Body)
	}
	fmt.Println("batch done")
	// Output:
	// job 1
	// job 2
	// job 3
	// batch done
}

package amq_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/amqgo/amq"
)

// A transaction that moves a message from one queue to another: the
// accept of the incoming message and the send of the outgoing one happen
// together at the commit, or not at all.
func ExampleClient_BeginFunc() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, in := exampleDelivery(c, "orders", "order 1")
	defer r.Close(ctx)
	out, err := c.NewSender(ctx, "shipping", nil)
	if err != nil {
		log.Fatal(err)
	}

	err = c.BeginFunc(ctx, func(tx *amq.Tx) error {
		if err := tx.Send(ctx, out, amq.NewMessage(fmt.Sprint("ship ", in.Message.Body))); err != nil {
			return err // rolled back: the order stays on its queue
		}
		return tx.Accept(ctx, in)
	})
	fmt.Println("moved:", err == nil)

	shipped, _ := exampleReceive(c, "shipping")
	fmt.Println(shipped)
	// Output:
	// moved: true
	// ship order 1
}

func ExampleClient_Begin() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "batch", nil)
	if err != nil {
		log.Fatal(err)
	}

	tx, err := c.Begin(ctx)
	if errors.Is(err, amq.ErrNoCoordinator) {
		log.Fatal("this broker has no transactions")
	} else if err != nil {
		log.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := tx.Send(ctx, s, amq.NewMessage(i)); err != nil {
			_ = tx.Rollback(ctx)
			log.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err) // nothing of the batch was delivered (see Commit for when that is unknown)
	}
	fmt.Println("committed three messages")
	// Output: committed three messages
}

func ExampleTx_Send() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "invoices", nil)
	if err != nil {
		log.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := tx.Send(ctx, s, amq.NewMessage("invoice 7")); err != nil {
		log.Fatal(err)
	}
	// Until the commit, consumers of "invoices" see nothing.
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	body, _ := exampleReceive(c, "invoices")
	fmt.Println(body)
	// Output: invoice 7
}

func ExampleTx_Accept() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, d := exampleDelivery(c, "jobs", "job 1")
	defer r.Close(ctx)
	tx, err := c.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := tx.Accept(ctx, d); err != nil {
		log.Fatal(err)
	}
	// Rolled back: the job comes again, counted as a failed attempt.
	if err := tx.Rollback(ctx); err != nil {
		log.Fatal(err)
	}
	again, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Message.Body, "delivery count", again.Message.DeliveryCount)
	// Output: job 1 delivery count 1
}

func ExampleTx_Reject() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, d := exampleDelivery(c, "tx-reject", "bad input")
	defer r.Close(ctx)
	err := c.BeginFunc(ctx, func(tx *amq.Tx) error {
		return tx.Reject(ctx, d, "amqp:precondition-failed", "cannot parse")
	})
	fmt.Println("rejected at the commit:", err == nil)
	// Output: rejected at the commit: true
}

func ExampleTx_Release() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, d := exampleDelivery(c, "tx-release", "not now")
	defer r.Close(ctx)
	err := c.BeginFunc(ctx, func(tx *amq.Tx) error { return tx.Release(ctx, d) })
	if err != nil {
		log.Fatal(err)
	}
	again, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Message.Body, "delivery count", again.Message.DeliveryCount)
	// Output: not now delivery count 0
}

func ExampleTx_Modify() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, d := exampleDelivery(c, "tx-modify", "try later")
	defer r.Close(ctx)
	err := c.BeginFunc(ctx, func(tx *amq.Tx) error {
		return tx.Modify(ctx, d, &amq.ModifyOptions{DeliveryFailed: true})
	})
	if err != nil {
		log.Fatal(err)
	}
	again, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Message.Body, "delivery count", again.Message.DeliveryCount)
	// Output: try later delivery count 1
}

func ExampleTx_Commit() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	err = tx.Commit(ctx)
	var refused *amq.TransactionError
	switch {
	case err == nil:
		fmt.Println("committed")
	case errors.As(err, &refused), errors.Is(err, amq.ErrTransactionLost):
		fmt.Println("rolled back: safe to run the transaction again")
	case errors.Is(err, amq.ErrTransactionOutcomeUnknown):
		fmt.Println("unknown: check before running it again")
	}
	// Output: committed
}

func ExampleTx_Rollback() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "drafts", nil)
	if err != nil {
		log.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := tx.Send(ctx, s, amq.NewMessage("draft")); err != nil {
		log.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(tx.Commit(ctx), amq.ErrTxDone))
	// Output: true
}

func ExampleTransactionError() {
	err := error(&amq.TransactionError{Op: "commit", Condition: "amqp:transaction:rollback", Description: "queue full"})
	var te *amq.TransactionError
	if errors.As(err, &te) {
		fmt.Println(te.Condition, amq.Retryable(err))
	}
	// Output: amqp:transaction:rollback true
}

// exampleReceive receives one message from queue and accepts it.
func exampleReceive(c *amq.Client, queue string) (any, error) {
	ctx := context.Background()
	r, err := c.NewReceiver(ctx, queue, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close(ctx)
	d, err := r.Receive(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.Accept(ctx); err != nil {
		return nil, err
	}
	return d.Message.Body, nil
}

func ExampleTransactionError_Error() {
	err := &amq.TransactionError{Op: "commit", Condition: "amqp:transaction:rollback", Description: "queue full"}
	fmt.Println(err)
	// Output: amq: transaction commit: amqp:transaction:rollback: queue full
}

// A batch sent in one transaction with many sends in flight: Commit waits
// for every one of them, and rolls the batch back if any was refused.
func ExampleTx_SendAsync() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "batch-async", nil)
	if err != nil {
		log.Fatal(err)
	}
	err = c.BeginFunc(ctx, func(tx *amq.Tx) error {
		for i := 1; i <= 100; i++ {
			if _, err := tx.SendAsync(ctx, s, amq.NewMessage(i)); err != nil {
				return err
			}
		}
		return nil
	})
	fmt.Println("committed:", err == nil)
	first, _ := exampleReceive(c, "batch-async")
	fmt.Println("first:", first)
	// Output:
	// committed: true
	// first: 1
}

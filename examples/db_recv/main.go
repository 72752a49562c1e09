// Command db_recv stores received messages in a database table, like
// Proton's db_recv.py: each message (its id must be numeric, as db_send's
// are) is inserted into table records (id, description) and only then
// accepted (ReceiverOptions.ManualAccept). If the program dies between the
// insert and the accept, the broker delivers the message again; a message
// whose id is not above the highest id already stored is such a
// duplicate, and is accepted without a second insert. Nothing is lost and
// nothing is stored twice.
//
// The database is SQLite (modernc.org/sqlite, pure Go) through
// database/sql; the table is created if missing.
//
// Usage: db_recv [-url amqp://localhost:5672] [-address examples] [-db dst_db.sqlite] [-m 0]
//
// -m 0 receives until interrupted.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/amqgo/amq"
)

func main() {
	url := flag.String("url", "amqp://localhost:5672", "connection URL of the broker")
	address := flag.String("address", "examples", "address to receive from")
	dbPath := flag.String("db", "dst_db.sqlite", "SQLite database file holding the records table")
	count := flag.Int("m", 0, "number of messages to store; 0 receives until interrupted")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: db_recv [-url URL] [-address ADDRESS] [-db FILE] [-m COUNT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *dbPath, *count); err != nil {
		fmt.Fprintln(os.Stderr, "db_recv:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address, dbPath string, expected int) error {
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS records (
		id INTEGER PRIMARY KEY,
		description TEXT NOT NULL)`); err != nil {
		return err
	}
	var lastID int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM records`).Scan(&lastID); err != nil {
		return err
	}

	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		return err
	}
	// Interrupting the program closes the client, which ends the loop.
	context.AfterFunc(ctx, func() { c.Close() })

	inserted := 0
	for d := range r.Deliveries() {
		id, ok := numericID(d.Message.ID)
		if !ok {
			if err := d.Reject(ctx, "amqp:invalid-field", "db_recv needs a numeric message id"); err != nil {
				return err
			}
			fmt.Printf("rejected message with id %v\n", d.Message.ID)
			continue
		}
		if id <= lastID {
			// Stored already: a redelivery of a message whose accept was lost.
			if err := d.Accept(ctx); err != nil {
				return err
			}
			fmt.Printf("ignored duplicate message %d\n", id)
			continue
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO records (id, description) VALUES (?, ?)`, id, fmt.Sprint(d.Message.Body)); err != nil {
			_ = d.Release(ctx) // not stored: let the broker keep it
			return err
		}
		lastID = id
		// The row is committed: accepting can no longer lose the message.
		// If the accept is lost with the connection, the broker redelivers
		// the message and it is recognised above as a duplicate.
		if err := d.Accept(ctx); err != nil && !errors.Is(err, amq.ErrDeliveryLost) {
			return err
		}
		fmt.Printf("inserted message %d\n", id)
		inserted++
		if inserted == expected {
			return c.Close()
		}
	}
	if ctx.Err() != nil {
		return nil // interrupted
	}
	return r.Err()
}

// numericID returns a message id that is an integer, or a string holding one.
func numericID(id any) (int64, bool) {
	switch id := id.(type) {
	case uint64:
		return int64(id), id <= 1<<63-1
	case int64:
		return id, true
	case string:
		n, err := strconv.ParseInt(id, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// Command db_send sends the rows of a database table as messages, like
// Proton's db_send.py: it reads the unsent rows of table records (id,
// description, sent) in batches, sends each as a durable message whose id
// is the row id and whose body is the description, and marks a row sent
// only once the peer has accepted its message. A crash or a lost
// connection therefore never loses a row: at worst a row is sent again
// (at-least-once), and db_recv drops such duplicates by message id.
//
// The database is SQLite (modernc.org/sqlite, pure Go) through
// database/sql; the table is created if missing, and -populate inserts
// sample rows first. When every row is sent it checks for new rows every
// -poll until -m messages have been confirmed (-m 0: until interrupted).
//
// Usage: db_send [-url amqp://localhost:5672] [-address examples] [-db src_db.sqlite] [-populate 0] [-m 0] [-poll 5s]
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/amqgo/amq"
)

// batchSize bounds the rows read (and messages in flight) at a time.
const batchSize = 50

func main() {
	url := flag.String("url", "amqp://localhost:5672", "connection URL of the broker")
	address := flag.String("address", "examples", "address to send to")
	dbPath := flag.String("db", "src_db.sqlite", "SQLite database file holding the records table")
	populate := flag.Int("populate", 0, "insert this many sample rows before sending")
	count := flag.Int("m", 0, "number of messages to send; 0 sends until interrupted")
	poll := flag.Duration("poll", 5*time.Second, "how often to look for new rows once all are sent")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: db_send [-url URL] [-address ADDRESS] [-db FILE] [-populate N] [-m COUNT] [-poll DURATION]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || *count < 0 || *populate < 0 || *poll <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *dbPath, *populate, *count, *poll); err != nil {
		fmt.Fprintln(os.Stderr, "db_send:", err)
		os.Exit(1)
	}
}

type record struct {
	id          int64
	description string
}

func openDB(ctx context.Context, path string, populate int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS records (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		description TEXT NOT NULL,
		sent INTEGER NOT NULL DEFAULT 0)`); err != nil {
		db.Close()
		return nil, err
	}
	for i := 1; i <= populate; i++ {
		if _, err := db.ExecContext(ctx, `INSERT INTO records (description) VALUES (?)`, fmt.Sprintf("sample record %d", i)); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

func unsent(ctx context.Context, db *sql.DB, limit int) ([]record, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, description FROM records WHERE sent = 0 ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []record
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.id, &r.description); err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}

func run(ctx context.Context, url, address, dbPath string, populate, total int, poll time.Duration) error {
	db, err := openDB(ctx, dbPath, populate)
	if err != nil {
		return err
	}
	defer db.Close()

	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSender(ctx, address, nil)
	if err != nil {
		return err
	}

	confirmed := 0
	for total == 0 || confirmed < total {
		limit := batchSize
		if total != 0 {
			limit = min(limit, total-confirmed)
		}
		recs, err := unsent(ctx, db, limit)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			fmt.Println("Exhausted available data, waiting to recheck...")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(poll):
			}
			continue
		}

		receipts := make([]*amq.Receipt, len(recs))
		for i, rec := range recs {
			msg := amq.NewMessage(rec.description)
			msg.ID = uint64(rec.id)
			msg.Durable = true
			if receipts[i], err = s.SendAsync(ctx, msg); err != nil {
				return fmt.Errorf("sending record %d: %w", rec.id, err)
			}
			fmt.Printf("sent message %d\n", rec.id)
		}
		for i, rec := range recs {
			err := receipts[i].Wait(ctx)
			var rej *amq.RejectedError
			switch {
			case err == nil:
				// Accepted: now, and only now, the row is done.
				if _, err := db.ExecContext(ctx, `UPDATE records SET sent = 1 WHERE id = ?`, rec.id); err != nil {
					return err
				}
				fmt.Printf("settled message %d\n", rec.id)
				confirmed++
			case errors.As(err, &rej):
				return fmt.Errorf("record %d rejected; it stays unsent: %w", rec.id, err)
			case errors.Is(err, amq.ErrNotAccepted):
				// Released or modified: the row stays unsent and goes out
				// again with the next batch.
				fmt.Fprintf(os.Stderr, "db_send: record %d not accepted (%v); will retry\n", rec.id, err)
			default:
				if ctx.Err() != nil {
					return nil // interrupted; unconfirmed rows stay unsent
				}
				return err
			}
		}
	}
	// As Proton's example closes the connection: Client.Close closes the
	// sender and waits for the peer to confirm it has everything.
	return c.Close()
}

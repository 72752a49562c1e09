package server_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// Failed logins are logged at Warn with the user name and the peer's
// address, never the password; after AuthFailureLimit of them from one
// address, each further failure's answer is held back, up to
// AuthFailureMaxDelay. An unknown user fails exactly as a wrong password
// does.
func ExampleOptions_authFailures() {
	creds, err := server.NewCredentials(map[string]string{"alice": "secret"})
	if err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "remote", "recent_failures", "delay": // vary from run to run
				return slog.Attr{}
			}
			return a
		},
	}))
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		Credentials:         creds,
		Mechanisms:          []string{"SCRAM-SHA-256"},
		AuthFailureLimit:    3,
		AuthFailureMaxDelay: 2 * time.Second,
		Logger:              logger,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	for _, user := range []string{"alice", "mallory"} {
		_, err := amq.Dial(context.Background(), srv.URL(), &amq.ConnectOptions{User: user, Password: "guess"})
		fmt.Println(user, "refused:", err != nil)
	}
	// Output:
	// level=WARN msg="amqp SASL authentication failed" mechanism=SCRAM-SHA-256 user=alice
	// alice refused: true
	// level=WARN msg="amqp SASL authentication failed" mechanism=SCRAM-SHA-256 user=mallory
	// mallory refused: true
}

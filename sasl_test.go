package amq_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/testsupport"
)

// syncBuffer is a log sink safe for the client's goroutines.
type syncBuffer = testsupport.SyncBuffer

func slogTo(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestSASLMechanisms(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithUser("alice", "s3cret"))
	tests := []struct {
		allowed []string
		want    string
	}{
		{nil, "SCRAM-SHA-512"}, // the strongest both sides allow
		{[]string{"SCRAM-SHA-256"}, "SCRAM-SHA-256"},
		{[]string{"SCRAM-SHA-1 PLAIN"}, "SCRAM-SHA-1"}, // Proton's space-separated form
		{[]string{"PLAIN"}, "PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var logs syncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := dial(t, b.URL(), &amq.ConnectOptions{
				User: "alice", Password: "s3cret",
				SASL:   amq.SASLOptions{Mechanisms: tt.allowed},
				Logger: logger,
			})
			require.NoError(t, c.Send(testCtx(t), amq.NewMessage("x").SetTo("q")))
			assert.Contains(t, logs.String(), "sasl="+tt.want)
			assert.NotContains(t, logs.String(), "s3cret", "the password is never logged")
		})
	}
}

func TestSASLDisabled(t *testing.T) {
	b := amqtest.NewBroker(t) // anonymous, so a bare AMQP header is accepted
	off := false
	c := dial(t, b.URL(), &amq.ConnectOptions{SASL: amq.SASLOptions{Enabled: &off}})
	require.NoError(t, c.Send(testCtx(t), amq.NewMessage("no sasl").SetTo("q")))

	withUsers := amqtest.NewBroker(t, amqtest.WithUser("alice", "pw"), amqtest.WithAnonymous(false))
	_, err := amq.Dial(testCtx(t), withUsers.URL(), &amq.ConnectOptions{SASL: amq.SASLOptions{Enabled: &off}})
	require.Error(t, err, "a broker that requires SASL refuses a connection without it")
	assert.False(t, strings.Contains(err.Error(), "pw"))
}

//go:build integration

package integration

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// TestRabbitMQSASL checks the SASL mechanisms RabbitMQ 3.10 offers out of
// the box: ANONYMOUS (mapped to its default user) and PLAIN, and a wrong
// password refused at once and never retried. EXTERNAL needs a RabbitMQ
// TLS listener with client-certificate verification, which the machine's
// broker does not have; it is tested against the embedded server instead
// (internal/sasl, tls_test.go).
func TestRabbitMQSASL(t *testing.T) {
	p := getPeer(t, "rabbitmq")
	ctx := testCtx(t, time.Minute)
	for _, tt := range []struct {
		name, user, password, mech string
	}{
		{"anonymous", "", "", "ANONYMOUS"},
		{"plain", p.User, p.Password, "PLAIN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			c, err := amq.Dial(ctx, p.Addr, &amq.ConnectOptions{
				User: tt.user, Password: tt.password,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if !strings.Contains(logs.String(), "mechanism="+tt.mech) {
				t.Fatalf("mechanism %s not used; log:\n%s", tt.mech, logs.String())
			}
			if err := c.Send(ctx, amq.NewMessage("sasl").SetTo(p.Queue(uniqueName(t)))); err != nil {
				t.Fatalf("Send: %v", err)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		start := time.Now()
		_, err := amq.Dial(ctx, p.Addr, &amq.ConnectOptions{User: p.User, Password: "not-the-password", RetryInitialConnect: true})
		var ae *amq.Error
		if !errors.As(err, &ae) || ae.Scope != amq.ScopeSASL {
			t.Fatalf("want a SASL error, got %v", err)
		}
		if strings.Contains(err.Error(), "not-the-password") {
			t.Fatal("the password appears in the error")
		}
		t.Logf("refused after %v, not retried: %v", time.Since(start), err)
	})
}

package amq_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// A send waiting for credit the peer never grants ends with the caller's
// context, and says so: no made-up peer error (#16 item 2).
func TestSendWaitingForCreditEndsWithTheContext(t *testing.T) {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{AllowAnonymous: true, Handler: server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			l.SetCreditWindow(0) // and never IssueCredit
			return nil
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) { <-ctx.Done() },
	}})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), nil)
	s, err := c.NewSender(testCtx(t), "no-credit", nil)
	require.NoError(t, err)

	for name, send := range map[string]func(context.Context) error{
		"Send": func(ctx context.Context) error { return s.Send(ctx, amq.NewMessage("waits")) },
		"SendAsync": func(ctx context.Context) error {
			_, err := s.SendAsync(ctx, amq.NewMessage("waits"))
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := send(ctx)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, name)
		assert.False(t, strings.Contains(err.Error(), "transfer-limit-exceeded"), "%s: %v", name, err)
		var ae *amq.Error
		assert.False(t, errors.As(err, &ae) && ae.Condition != "", "%s: no peer condition in %v", name, err)
	}
}

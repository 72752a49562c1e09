package amq_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// outcomeServer settles every message it receives with the outcome its body
// names, so the client's mapping of each outcome can be checked.
func outcomeServer(t *testing.T) string {
	t.Helper()
	h := server.HandlerFuncs{
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				m, err := d.Message()
				if err != nil {
					_ = d.Reject(&codec.Error{Condition: codec.Symbol("amqp:decode-error"), Description: err.Error()})
					continue
				}
				switch m.Value {
				case "reject":
					_ = d.Reject(&codec.Error{Condition: codec.Symbol("amqp:not-allowed"), Description: "no thanks"})
				case "release":
					_ = d.Release()
				case "modify":
					_ = d.Modify(true, true, codec.Map{{Key: codec.Symbol("x-why"), Value: "later"}})
				default:
					_ = d.Accept()
				}
			}
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv.URL()
}

func TestSendOutcomes(t *testing.T) {
	c := dial(t, outcomeServer(t), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "outcomes", nil)
	require.NoError(t, err)

	require.NoError(t, s.Send(ctx, amq.NewMessage("accept")))

	err = s.Send(ctx, amq.NewMessage("reject"))
	var rej *amq.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, "amqp:not-allowed", rej.Condition)
	assert.Equal(t, "no thanks", rej.Description)
	assert.ErrorIs(t, err, amq.ErrNotAccepted)
	assert.False(t, amq.Retryable(err), "a rejected message is not worth sending again")

	err = s.Send(ctx, amq.NewMessage("release"))
	var rel *amq.ReleasedError
	require.ErrorAs(t, err, &rel)
	assert.ErrorIs(t, err, amq.ErrNotAccepted)
	assert.True(t, amq.Retryable(err), "a released message may be sent again")

	err = s.Send(ctx, amq.NewMessage("modify"))
	var mod *amq.ModifiedError
	require.ErrorAs(t, err, &mod)
	assert.True(t, mod.DeliveryFailed)
	assert.True(t, mod.UndeliverableHere)
	assert.Equal(t, "later", mod.Annotations["x-why"])

	// The same outcomes through receipts.
	r1, err := s.SendAsync(ctx, amq.NewMessage("reject"))
	require.NoError(t, err)
	r2, err := s.SendAsync(ctx, amq.NewMessage("accept"))
	require.NoError(t, err)
	assert.ErrorAs(t, r1.Wait(ctx), &rej)
	assert.NoError(t, r2.Wait(ctx))
}

func TestQueueFullRejects(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithMaxQueueMessages(2))
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	require.NoError(t, c.Send(ctx, amq.NewMessage(1).SetTo("bounded")))
	require.NoError(t, c.Send(ctx, amq.NewMessage(2).SetTo("bounded")))
	err := c.Send(ctx, amq.NewMessage(3).SetTo("bounded"))
	var rej *amq.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, "amqp:resource-limit-exceeded", rej.Condition)
	assert.Equal(t, 2, b.QueueDepth("bounded"), "nothing beyond the bound, nothing lost below it")
}

func TestAuthentication(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithUser("alice", "secret"), amqtest.WithAnonymous(false))

	c := dial(t, b.URL(), &amq.ConnectOptions{User: "alice", Password: "secret"})
	require.NoError(t, c.Send(testCtx(t), amq.NewMessage("authenticated").SetTo("q")))

	// Credentials in the URL work, and options win over them.
	u := "amqp://alice:secret@" + b.URL()[len("amqp://"):]
	dial(t, u, nil)
	_, err := amq.Dial(testCtx(t), u, &amq.ConnectOptions{User: "alice", Password: "wrong"})
	require.Error(t, err)

	_, err = amq.Dial(testCtx(t), b.URL(), &amq.ConnectOptions{User: "alice", Password: "wrong"})
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, amq.ScopeSASL, ae.Scope, "got %v", err)
	assert.NotContains(t, err.Error(), "wrong", "the password never appears in an error")
	assert.False(t, amq.Retryable(err), "an authentication failure is not retryable")

	_, err = amq.Dial(testCtx(t), b.URL(), nil)
	require.Error(t, err, "anonymous is refused")
}

func TestLinkRefused(t *testing.T) {
	h := server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			return &codec.Error{Condition: codec.Symbol("amqp:unauthorized-access"), Description: "not for you"}
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	for _, attach := range []func() error{
		func() error { _, err := c.NewSender(ctx, "secret", nil); return err },
		func() error { _, err := c.NewReceiver(ctx, "secret", nil); return err },
	} {
		err := attach()
		var ae *amq.Error
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "amqp:unauthorized-access", ae.Condition)
		assert.Equal(t, "not for you", ae.Description)
		assert.False(t, amq.Retryable(err))
	}
	// The connection survives a refused link.
	assert.NoError(t, c.Err())
	_, err = c.NewSender(ctx, "again", nil)
	var ae *amq.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, amq.ScopeLink, ae.Scope)
}

func TestRetryable(t *testing.T) {
	assert.False(t, amq.Retryable(nil))
	assert.False(t, amq.Retryable(context.Canceled))
	assert.False(t, amq.Retryable(amq.ErrClosed))
	assert.True(t, amq.Retryable(&amq.Error{Scope: amq.ScopeConnection, Condition: "amqp:connection:forced"}))
	assert.False(t, amq.Retryable(&amq.Error{Scope: amq.ScopeLink, Condition: "amqp:not-found"}))
	assert.True(t, amq.Retryable(&amq.Error{Scope: amq.ScopeTransport, Err: errors.New("reset")}))
}

package amq_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// Messages that arrived within the credit window but were never handed to
// the application go back to the peer when the receiver closes (released,
// or requeued by the detach if they were still on the way): the next
// receiver gets them all (not necessarily in order: a released message
// goes back to the head of the queue).
func TestCloseReleasesPrefetchedMessages(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	const n = 40
	s, err := c.NewSender(ctx, "prefetch", nil)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, s.Send(ctx, amq.NewMessage(fmt.Sprint(i))))
	}

	r, err := c.NewReceiver(ctx, "prefetch", &amq.ReceiverOptions{Credit: n})
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "0", d.Message.Body)
	require.NoError(t, r.Close(ctx)) // accepts "0", releases the rest

	r2, err := c.NewReceiver(ctx, "prefetch", &amq.ReceiverOptions{Credit: n})
	require.NoError(t, err)
	got := map[any]bool{}
	for range n - 1 {
		d, err := r2.Receive(ctx)
		require.NoError(t, err)
		got[d.Message.Body] = true
	}
	require.NoError(t, r2.Close(ctx))
	for i := 1; i < n; i++ {
		assert.True(t, got[fmt.Sprint(i)], "message %d came back", i)
	}
	assert.Zero(t, b.QueueDepth("prefetch"))
}

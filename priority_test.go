package amq_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// A message without a priority reads as the AMQP default 4; priority 0 is
// sendable and arrives as 0, and stays 0 when the message is sent on.
func TestPriority(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	for _, m := range []*amq.Message{
		amq.NewMessage("none"),
		amq.NewMessage("zero").SetPriority(0),
		{Body: "seven", Priority: 7},
		{Body: "durable", Durable: true},
	} {
		require.NoError(t, c.Send(ctx, m.SetTo("prio")))
	}
	r, err := c.NewReceiver(ctx, "prio", nil)
	require.NoError(t, err)
	got := map[string]uint8{}
	var zero *amq.Message
	for range 4 {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		got[fmt.Sprint(d.Message.Body)] = d.Message.Priority
		if d.Message.Body == "zero" {
			zero = d.Message
		}
	}
	assert.Equal(t, map[string]uint8{"none": 4, "zero": 0, "seven": 7, "durable": 4}, got)

	require.NoError(t, c.Send(ctx, zero.SetTo("prio-again")))
	r2, err := c.NewReceiver(ctx, "prio-again", nil)
	require.NoError(t, err)
	d, err := r2.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint8(0), d.Message.Priority, "a received priority 0 is sent on as 0")
}

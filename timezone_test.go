package amq_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// A timestamp arrives in UTC whether alone or in an array, whatever zone
// it was sent from (#16 item 9; docs/types.md).
func TestTimestampsArriveInUTC(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	tokyo := time.FixedZone("JST", 9*3600)
	at := time.Date(2026, 12, 5, 9, 0, 0, 0, tokyo)
	msg := amq.NewMessage(map[string]any{"one": at, "many": []time.Time{at, at.Add(time.Second)}}).SetTo("times")
	msg.CreationTime = at
	require.NoError(t, c.Send(ctx, msg))

	r, err := c.NewReceiver(ctx, "times", nil)
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	body := d.Message.Body.(map[string]any)
	one := body["one"].(time.Time)
	many := body["many"].([]time.Time)
	for _, got := range []time.Time{one, many[0], many[1], d.Message.CreationTime} {
		assert.Equal(t, time.UTC, got.Location())
	}
	assert.True(t, one.Equal(at))
	assert.True(t, many[1].Equal(at.Add(time.Second)))
}

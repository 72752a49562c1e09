package amq_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/faultproxy"
)

// Messages in flight when the connection is cut are sent again in their
// original order, before any new message (docs/failover.md): a consumer
// sees each sequence number for the first time in increasing order, with
// at most duplicates of numbers it has already seen (at-least-once).
//
// The proxy holds every chunk for a while before forwarding it, so a cut
// loses the transfers written shortly before it: messages the broker never
// got, which only the resend brings. Each cut is made just after two
// messages were written in quick succession, so at least those two are
// lost with it, and the order in which they are resent shows.
func TestResendKeepsTheOriginalOrder(t *testing.T) {
	b := amqtest.NewBroker(t)
	p := faultproxy.Start(t, strings.TrimPrefix(b.URL(), "amqp://"))
	const hold = 10 * time.Millisecond
	p.Delay(hold)
	ctx := testCtx(t)
	c := dial(t, p.URL(), &amq.ConnectOptions{Reconnect: fastReconnect()})
	s, err := c.NewSender(ctx, "resend-order", nil)
	require.NoError(t, err)

	const n, window, cutEvery = 500, 200, 150
	receipts := make([]*amq.Receipt, n)
	cuts, nextCut := 0, cutEvery
	var prev time.Time
	for i := range n {
		if i >= window {
			require.NoError(t, receipts[i-window].Wait(ctx), "message %d", i-window)
		}
		rc, err := s.SendAsync(ctx, amq.NewMessage(int64(i)))
		require.NoError(t, err, "message %d", i)
		receipts[i] = rc
		// Messages i-1 and i were written less than hold/2 apart: the
		// proxy still holds both.
		now := time.Now()
		if i >= nextCut && now.Sub(prev) < hold/2 {
			cuts += p.CutAll()
			nextCut = i + cutEvery
		}
		prev = now
	}
	for i := max(0, n-window); i < n; i++ {
		require.NoError(t, receipts[i].Wait(ctx), "message %d", i)
	}
	require.GreaterOrEqual(t, cuts, 2, "connections cut with messages in flight")

	r, err := dial(t, b.URL(), nil).NewReceiver(ctx, "resend-order", nil)
	require.NoError(t, err)
	seen := make(map[int64]bool, n)
	last, dups := int64(-1), 0
	for len(seen) < n {
		d, err := r.Receive(ctx)
		require.NoError(t, err, "received %d distinct of %d", len(seen), n)
		v := d.Message.Body.(int64)
		if seen[v] {
			dups++
			continue
		}
		seen[v] = true
		if v < last {
			t.Fatalf("message %d arrived for the first time after message %d: in-flight messages were not resent in their original order", v, last)
		}
		last = v
	}
	t.Logf("%d messages, %d cuts, %d duplicates", n, cuts, dups)
	assert.GreaterOrEqual(t, p.Accepted(), cuts+1, "a new connection after each cut")
}

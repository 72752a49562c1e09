package amq_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// TestReceiverPresettled: the attach asks for snd-settle-mode settled, the
// broker sends settled transfers, and neither auto-accept nor Accept sends
// a disposition for them.
func TestReceiverPresettled(t *testing.T) {
	b := amqtest.NewBroker(t)
	ctx := testCtx(t)
	var out syncBuffer
	c := dial(t, b.URL(), &amq.ConnectOptions{TraceFrames: true, TraceOutput: &out})
	for _, body := range []string{"a", "b", "c"} {
		require.NoError(t, c.Send(ctx, amq.NewMessage(body).SetTo("at-most-once")))
	}
	r, err := c.NewReceiver(ctx, "at-most-once", &amq.ReceiverOptions{Presettled: true})
	require.NoError(t, err)
	for i, want := range []string{"a", "b", "c"} {
		d, err := r.Receive(ctx) // auto-accepts the one before
		require.NoError(t, err)
		assert.Equal(t, want, d.Message.Body)
		if i == 1 {
			require.NoError(t, d.Accept(ctx), "settling a pre-settled delivery does nothing")
			assert.ErrorIs(t, d.Release(ctx), amq.ErrAlreadySettled)
		}
	}
	require.NoError(t, r.Close(ctx))
	assert.Equal(t, 0, b.QueueDepth("at-most-once"), "the broker forgot them as it sent them")
	require.NoError(t, c.Close())

	var attach string
	transfers := 0
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.Contains(line, "-> @attach(18)") && strings.Contains(line, "at-most-once") && strings.Contains(line, "role=true"):
			attach = line
		case strings.Contains(line, "<- @transfer(20)"):
			transfers++
			assert.Contains(t, line, "settled=true", "the broker sends them settled")
		case strings.Contains(line, "-> @disposition(21)"):
			t.Errorf("disposition sent for a pre-settled delivery: %s", line)
		}
	}
	require.NotEmpty(t, attach, "receiver attach traced:\n%s", out.String())
	assert.Contains(t, attach, "snd-settle-mode=0x1")
	assert.Equal(t, 3, transfers)
}

// attachCapture is a server that records the source of every receiving
// link attached to it.
type attachCapture struct {
	mu   sync.Mutex
	srcs []*codec.Source
	mode []server.SenderSettleMode
}

func (a *attachCapture) last() (*codec.Source, server.SenderSettleMode) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.srcs[len(a.srcs)-1], a.mode[len(a.mode)-1]
}

func newAttachCapture(t *testing.T) (*attachCapture, *amq.Client) {
	a := &attachCapture{}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		AllowAnonymous: true,
		Handler: server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
			if l.Role() == server.RoleSender {
				a.mu.Lock()
				a.srcs = append(a.srcs, l.Source())
				a.mode = append(a.mode, l.SenderSettleMode())
				a.mu.Unlock()
			}
			return nil
		}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return a, dial(t, srv.URL(), nil)
}

func TestReceiverSourceOptions(t *testing.T) {
	a, c := newAttachCapture(t)
	ctx := testCtx(t)

	_, err := c.NewReceiver(ctx, "orders", &amq.ReceiverOptions{
		Selector: "region = 'eu'",
		Filters: map[string]any{
			"rabbitmq:stream-offset-spec": "first",
			"x-match":                     amq.Described{Descriptor: amq.Symbol("example:filter"), Value: int64(7)},
		},
		NoLocal:    true,
		Move:       true,
		Presettled: true,
	})
	require.NoError(t, err)
	src, mode := a.last()
	assert.Equal(t, server.SenderSettleSettled, mode)
	assert.Equal(t, codec.DistributionMove, src.DistributionMode)
	assert.Equal(t, codec.Map{
		{Key: codec.Symbol("apache.org:selector-filter:string"), Value: codec.Described{Descriptor: uint64(0x0000468C00000004), Value: "region = 'eu'"}},
		{Key: codec.Symbol("rabbitmq:stream-offset-spec"), Value: "first"},
		{Key: codec.Symbol("x-match"), Value: codec.Described{Descriptor: codec.Symbol("example:filter"), Value: int64(7)}},
		{Key: codec.Symbol("no-local"), Value: codec.Described{Descriptor: uint64(0x0000468C00000003), Value: "NoLocalFilter{}"}},
	}, src.Filter, "selector, the filters by name, then no-local")

	_, err = c.NewReceiver(ctx, "", &amq.ReceiverOptions{
		DynamicAddress:        true,
		DynamicNodeProperties: map[string]any{"lifetime-policy": amq.Described{Descriptor: uint64(0x2b), Value: []any{}}},
	})
	require.NoError(t, err)
	src, mode = a.last()
	assert.Equal(t, server.SenderSettleMixed, mode, "unsettled by default")
	assert.True(t, src.Dynamic)
	require.Len(t, src.DynamicNodeProperties, 1)
	assert.Equal(t, codec.Symbol("lifetime-policy"), src.DynamicNodeProperties[0].Key)
	assert.Equal(t, uint64(0x2b), src.DynamicNodeProperties[0].Value.(codec.Described).Descriptor)
	assert.Nil(t, src.Filter)
	assert.Empty(t, src.DistributionMode)
}

func TestReceiverSourceOptionsInvalid(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name    string
		address string
		opts    amq.ReceiverOptions
		want    string
	}{
		{"browse and move", "q", amq.ReceiverOptions{Browse: true, Move: true}, "Browse and ReceiverOptions.Move conflict"},
		{"empty filter name", "q", amq.ReceiverOptions{Filters: map[string]any{"": "x"}}, "filter name is empty"},
		{"selector twice", "q", amq.ReceiverOptions{Selector: "a = 1", Filters: map[string]any{"apache.org:selector-filter:string": "b = 2"}}, "ReceiverOptions.Selector sets"},
		{"no-local twice", "q", amq.ReceiverOptions{NoLocal: true, Filters: map[string]any{"no-local": "x"}}, "ReceiverOptions.NoLocal sets"},
		{"unsendable filter", "q", amq.ReceiverOptions{Filters: map[string]any{"f": struct{}{}}}, `ReceiverOptions.Filters "f"`},
		{"descriptor missing", "q", amq.ReceiverOptions{Filters: map[string]any{"f": amq.Described{Value: "x"}}}, "needs a descriptor"},
		{"node properties, not dynamic", "q", amq.ReceiverOptions{DynamicNodeProperties: map[string]any{"x": 1}}, "needs DynamicAddress"},
		{"unsendable node property", "", amq.ReceiverOptions{DynamicAddress: true, DynamicNodeProperties: map[string]any{"x": make(chan int)}}, `ReceiverOptions.DynamicNodeProperties "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.NewReceiver(ctx, tc.address, &tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestReceiverOptionsCopied: changing the caller's maps after NewReceiver
// does not change what a re-attach sends.
func TestReceiverOptionsCopied(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	filters := map[string]any{"jms": amq.Described{Descriptor: amq.Symbol("apache.org:selector-filter:string"), Value: "n = 2"}}
	r, err := c.NewReceiver(ctx, "copied", &amq.ReceiverOptions{Filters: filters})
	require.NoError(t, err)
	filters["jms"] = struct{}{} // would fail at a re-attach, were it not copied
	b.DropConnections()
	for i := 1; i <= 2; i++ {
		m := amq.NewMessage(i).SetTo("copied")
		m.Properties = map[string]any{"n": i}
		require.NoError(t, c.Send(ctx, m))
	}
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), d.Message.Body, "the raw selector filter survives the reconnect")
}

// TestReceiverFiltersSelector: a selector given as a raw filter (the
// descriptor's symbol form) is applied by the embedded broker.
func TestReceiverFiltersSelector(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "raw-filter", &amq.ReceiverOptions{Filters: map[string]any{
		"jms-selector": amq.Described{Descriptor: amq.Symbol("apache.org:selector-filter:string"), Value: "colour = 'green'"},
	}})
	require.NoError(t, err)
	for _, colour := range []string{"red", "green"} {
		m := amq.NewMessage(colour).SetTo("raw-filter")
		m.Properties = map[string]any{"colour": colour}
		require.NoError(t, c.Send(ctx, m))
	}
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "green", d.Message.Body)
}

// TestReceiverNoLocal: on a topic of the embedded broker, a no-local
// subscriber misses what its own connection publishes, by a link or in a
// transaction.
func TestReceiverNoLocal(t *testing.T) {
	b := amqtest.NewBroker(t)
	ctx := testCtx(t)
	mine, other := dial(t, b.URL(), nil), dial(t, b.URL(), nil)
	topic := []string{"topic"}
	noLocal, err := mine.NewReceiver(ctx, "news", &amq.ReceiverOptions{Capabilities: topic, NoLocal: true})
	require.NoError(t, err)
	all, err := mine.NewReceiver(ctx, "news", &amq.ReceiverOptions{Capabilities: topic})
	require.NoError(t, err)
	s, err := mine.NewSender(ctx, "news", &amq.SenderOptions{Capabilities: topic})
	require.NoError(t, err)
	require.NoError(t, s.Send(ctx, amq.NewMessage("own")))
	require.NoError(t, mine.BeginFunc(ctx, func(tx *amq.Tx) error {
		return tx.Send(ctx, s, amq.NewMessage("own, in a transaction"))
	}))
	require.NoError(t, other.Send(ctx, amq.NewMessage("theirs").SetTo("news")))

	d, err := noLocal.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "theirs", d.Message.Body, "its own connection's message is skipped")
	for _, want := range []string{"own", "own, in a transaction", "theirs"} {
		d, err := all.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, want, d.Message.Body, "a subscriber without no-local gets both")
	}
}

// TestReceiverMove: a receiver asking for distribution mode move consumes.
func TestReceiverMove(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	require.NoError(t, c.Send(ctx, amq.NewMessage("take").SetTo("moved")))
	r, err := c.NewReceiver(ctx, "moved", &amq.ReceiverOptions{Move: true})
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "take", d.Message.Body)
	require.NoError(t, r.Close(ctx))
	assert.Equal(t, 0, b.QueueDepth("moved"), "moving consumes")
}

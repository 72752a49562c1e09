package amq_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/server"
)

// deeplyNested is a message whose amqp-value body is a list holding a list
// holding a list ... n levels deep: valid encoding, 9 bytes a level.
func deeplyNested(n int) []byte {
	b := []byte{0x00, 0x53, 0x77} // amqp-value section
	inner := 1                    // the innermost list0
	total := n*9 + inner
	out := make([]byte, len(b), len(b)+total)
	copy(out, b)
	for i := range n {
		rest := total - (i+1)*9 // bytes after this level's header
		out = append(out, 0xd0)
		out = binary.BigEndian.AppendUint32(out, uint32(rest+4))
		out = binary.BigEndian.AppendUint32(out, 1)
	}
	return append(out, 0x45)
}

// TestReceiverSurvivesAMessageNestedMillionsDeep: a peer sending a body a
// million lists deep (go-amqp, the client's first engine, recursed until the
// process died of a stack overflow) gets the message rejected with
// amqp:decode-error; the receiver goes on to the next message.
func TestReceiverSurvivesAMessageNestedMillionsDeep(t *testing.T) {
	outcome := make(chan server.DeliveryState, 1)
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{AllowAnonymous: true, Handler: server.HandlerFuncs{
		ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
			d, err := s.SendRaw(ctx, deeplyNested(1_000_000), false)
			if err != nil {
				return
			}
			if _, err := s.Send(ctx, &server.Message{Value: "after", HasValue: true}, true); err != nil {
				return
			}
			st, _ := d.Wait(ctx)
			outcome <- st
			<-ctx.Done()
		},
	}})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	ctx := testCtx(t)
	c := dial(t, srv.URL(), nil)
	r, err := c.NewReceiver(ctx, "deep", nil)
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "after", d.Message.Body)
	st := <-outcome
	rej, ok := st.(*server.Rejected)
	require.True(t, ok, "outcome %T, want rejected", st)
	require.NotNil(t, rej.Error)
	assert.Equal(t, server.Symbol("amqp:decode-error"), rej.Error.Condition)
	assert.NoError(t, r.Err())
}

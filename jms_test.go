package amq_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

func TestJMSType(t *testing.T) {
	tests := []struct {
		body any
		want amq.JMSMessageType
	}{
		{"text", amq.JMSTextMessage},
		{[]byte("bytes"), amq.JMSBytesMessage},
		{map[string]any{"k": "v"}, amq.JMSMapMessage},
		{[]any{"a", int32(1)}, amq.JMSStreamMessage},
		{nil, amq.JMSMessage},
		{int64(7), amq.JMSObjectMessage},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, amq.NewMessage(tt.body).JMSType(), "%T", tt.body)
	}

	// The annotation travels and wins over inference.
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "jms", nil)
	require.NoError(t, err)
	require.NoError(t, c.Send(ctx, amq.NewMessage("not text for JMS").SetTo("jms").SetJMSType(amq.JMSBytesMessage)))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, amq.JMSBytesMessage, d.Message.JMSType())
	assert.Equal(t, int8(3), d.Message.Annotations["x-opt-jms-msg-type"])
	assert.Equal(t, "BytesMessage", d.Message.JMSType().String())
}

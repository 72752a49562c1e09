package amq_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

func TestTraceFrames(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithUser("alice", "s3cret"))
	var out syncBuffer
	ctx := testCtx(t)
	c, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{
		User: "alice", Password: "s3cret",
		SASL:        amq.SASLOptions{Mechanisms: []string{"PLAIN"}},
		TraceFrames: true, TraceOutput: &out,
	})
	require.NoError(t, err)
	s, err := c.NewSender(ctx, "traced", nil)
	require.NoError(t, err)
	require.NoError(t, s.Send(ctx, amq.NewMessage("hello")))
	require.NoError(t, s.Close(ctx))
	require.NoError(t, c.Close())

	trace := out.String()
	for _, want := range []string{
		"-> SASL", "SASL:FRAME:0 -> @sasl-init(65) [mechanism=:PLAIN, initial-response=<redacted>,",
		"-> @open(16)", "-> @begin(17)", "-> @attach(18)", "<- @flow(19)",
		"-> @transfer(20)", "<- @disposition(21)", "-> @end(23)", "-> @close(24)",
	} {
		assert.Contains(t, trace, want)
	}
	assert.NotContains(t, trace, "s3cret", "credentials are redacted")
	for _, line := range strings.Split(strings.TrimSpace(trace), "\n") {
		assert.True(t, strings.HasPrefix(line, "[amq-"), "every line names its connection: %q", line)
	}
}

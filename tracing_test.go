package amq_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

func tracedClient(t *testing.T, url string) (*amq.Client, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(testCtx(t)) })
	return dial(t, url, &amq.ConnectOptions{TracerProvider: tp}), rec
}

func spanNamed(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	names := []string{}
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
	}
	t.Fatalf("no ended span %q among %v", name, names)
	return nil
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func TestTracingAcrossSendAndReceive(t *testing.T) {
	b := amqtest.NewBroker(t)
	c, rec := tracedClient(t, b.URL())
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "traced", &amq.ReceiverOptions{ManualAccept: true})
	require.NoError(t, err)
	msg := amq.NewMessage("hello").SetTo("traced")
	msg.ID = "m-1"
	require.NoError(t, c.Send(ctx, msg))
	assert.Nil(t, msg.Properties, "the caller's message is not modified")

	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Contains(t, d.Message.Properties, "traceparent", "the context travels as an application property")
	qpid, ok := d.Message.Annotations["x-opt-qpid-tracestate"].(map[string]any)
	require.True(t, ok, "and in Proton's annotation: %#v", d.Message.Annotations)
	assert.Equal(t, d.Message.Properties["traceparent"], qpid["traceparent"])
	assert.NotContains(t, d.Message.Properties, "uber-trace-id", "application properties stay W3C")
	assert.True(t, trace.SpanFromContext(d.Context()).SpanContext().IsValid())
	require.NoError(t, d.Accept(ctx))

	send := spanNamed(t, rec, "send traced")
	process := spanNamed(t, rec, "process traced")
	settle := spanNamed(t, rec, "settle")
	assert.Equal(t, trace.SpanKindProducer, send.SpanKind())
	assert.Equal(t, trace.SpanKindConsumer, process.SpanKind())
	assert.Equal(t, trace.SpanKindClient, settle.SpanKind())
	assert.Equal(t, send.SpanContext().TraceID(), process.SpanContext().TraceID(), "one trace across the broker")
	assert.Equal(t, send.SpanContext().SpanID(), process.Parent().SpanID(), "process is the child of send")
	assert.Equal(t, process.SpanContext().SpanID(), settle.Parent().SpanID())
	// Proton's Jaeger tracer reads uber-trace-id, trace:span:parent:flags.
	assert.Equal(t, send.SpanContext().TraceID().String()+":"+send.SpanContext().SpanID().String()+":0:1", qpid["uber-trace-id"])

	assert.Equal(t, "amqp", attr(send, "messaging.system").AsString())
	assert.Equal(t, "send", attr(send, "messaging.operation.type").AsString())
	assert.Equal(t, "traced", attr(send, "messaging.destination.name").AsString())
	assert.Equal(t, "m-1", attr(send, "messaging.message.id").AsString())
	assert.Equal(t, "127.0.0.1", attr(send, "server.address").AsString())
	assert.NotZero(t, attr(send, "server.port").AsInt64())
	assert.Equal(t, "accepted", attr(send, "amqp.outcome").AsString())
	assert.Equal(t, "process", attr(process, "messaging.operation.type").AsString())
	assert.Equal(t, "accepted", attr(process, "amqp.outcome").AsString())
	assert.Equal(t, "settle", attr(settle, "messaging.operation.type").AsString())
	assert.Equal(t, "accept", attr(settle, "messaging.operation.name").AsString())
}

func TestTracingOutcomes(t *testing.T) {
	c, rec := tracedClient(t, outcomeServer(t))
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "outcomes", nil)
	require.NoError(t, err)
	for _, body := range []string{"accept", "reject", "release"} {
		_ = s.Send(ctx, amq.NewMessage(body))
	}
	r, err := s.SendAsync(ctx, amq.NewMessage("reject"))
	require.NoError(t, err)
	_ = r.Wait(ctx)

	var outcomes []string
	for _, sp := range rec.Ended() {
		if sp.Name() != "send outcomes" {
			continue
		}
		outcomes = append(outcomes, attr(sp, "amqp.outcome").AsString())
		if attr(sp, "amqp.outcome").AsString() == "rejected" {
			assert.Equal(t, codes.Error, sp.Status().Code)
			assert.Equal(t, "amqp:not-allowed", attr(sp, "error.type").AsString())
		}
	}
	assert.Equal(t, []string{"accepted", "rejected", "released", "rejected"}, outcomes)
}

func TestTracingContinuesProtonContext(t *testing.T) {
	// A producer that only writes Proton's annotation is continued by the
	// consumer: Proton's own tracer writes a Jaeger uber-trace-id there
	// (jaeger-client writes its ids in hex without leading zeros, a 64-bit
	// trace id by default), another amq or a W3C tracer a traceparent; a
	// string or a symbol, under a string or a symbol key.
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name                string
		headers             any
		wantTrace, wantSpan string
	}{
		{"traceparent string", map[string]any{"traceparent": traceparent},
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"traceparent symbol", map[string]any{"traceparent": amq.Symbol(traceparent)},
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"uber-trace-id 128-bit", map[string]any{"uber-trace-id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"},
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"uber-trace-id 64-bit with a parent", map[string]any{"uber-trace-id": "a3ce929d0e0e4736:f067aa0ba902b7:5c:1"},
			"0000000000000000a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"uber-trace-id symbol", map[string]any{"uber-trace-id": amq.Symbol("a3ce929d0e0e4736:f067aa0ba902b7:0:1")},
			"0000000000000000a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"symbol keys", map[amq.Symbol]any{"uber-trace-id": "a3ce929d0e0e4736:f067aa0ba902b7:0:1"},
			"0000000000000000a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"string and symbol keys", map[any]any{amq.Symbol("traceparent"): traceparent, "other": int32(1)},
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"traceparent before uber-trace-id", map[string]any{"traceparent": traceparent, "uber-trace-id": "1:2:0:1"},
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"malformed traceparent, then uber-trace-id", map[string]any{"traceparent": "00-zz", "uber-trace-id": "a3ce929d0e0e4736:f067aa0ba902b7:0:1"},
			"0000000000000000a3ce929d0e0e4736", "00f067aa0ba902b7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := amqtest.NewBroker(t)
			plain := dial(t, b.URL(), nil)
			ctx := testCtx(t)
			m := amq.NewMessage("from proton").SetTo("proton")
			m.Annotations = map[string]any{"x-opt-qpid-tracestate": tc.headers}
			require.NoError(t, plain.Send(ctx, m))

			c, rec := tracedClient(t, b.URL())
			r, err := c.NewReceiver(ctx, "proton", nil)
			require.NoError(t, err)
			d, err := r.Receive(ctx)
			require.NoError(t, err)
			require.NoError(t, d.Accept(ctx))
			process := spanNamed(t, rec, "process proton")
			assert.Equal(t, tc.wantTrace, process.SpanContext().TraceID().String())
			assert.Equal(t, tc.wantSpan, process.Parent().SpanID().String())
			assert.True(t, process.Parent().IsRemote())
		})
	}
}

func TestTracingUberTraceIDOnlyInProtonAnnotation(t *testing.T) {
	// An uber-trace-id in the application properties is not Proton's: the
	// Jaeger form is read from x-opt-qpid-tracestate alone.
	b := amqtest.NewBroker(t)
	plain := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	m := amq.NewMessage("x").SetTo("props")
	m.Properties = map[string]any{"uber-trace-id": "a3ce929d0e0e4736:f067aa0ba902b7:0:1"}
	require.NoError(t, plain.Send(ctx, m))

	c, rec := tracedClient(t, b.URL())
	r, err := c.NewReceiver(ctx, "props", nil)
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	require.NoError(t, d.Accept(ctx))
	assert.False(t, spanNamed(t, rec, "process props").Parent().IsValid(), "a new trace")
}

func TestTracingOffAddsNothing(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "untraced", nil)
	require.NoError(t, err)
	require.NoError(t, c.Send(ctx, amq.NewMessage("x").SetTo("untraced")))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Nil(t, d.Message.Properties)
	assert.Nil(t, d.Message.Annotations)
	assert.False(t, trace.SpanFromContext(d.Context()).SpanContext().IsValid())
}

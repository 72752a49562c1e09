package amq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/amqgo/amq/internal/codec"
)

// Distributed tracing (reference chapter 12; OpenTelemetry is the
// successor of the reference's OpenTracing/Jaeger). Off unless
// ConnectOptions.TracerProvider is set or UseGlobalTracerProvider is true;
// off, it costs one nil check per message.
//
// The trace context travels inside the message so that a trace crosses
// brokers and languages: the propagator's fields (W3C traceparent and
// tracestate by default) are written as application properties (the W3C
// "Trace Context: AMQP" draft's publisher position, also what Azure's Go
// SDK writes) and, as a string-to-string map, in the message annotation
// x-opt-qpid-tracestate, the annotation Qpid Proton's tracing uses. Proton's
// tracer (OpenTracing with a Jaeger client) reads and writes only Jaeger's
// uber-trace-id there, so that map also carries an uber-trace-id. On
// receive the propagator's fields are read from the message annotations
// first, then the application properties, then x-opt-qpid-tracestate; when
// they give no context, an uber-trace-id in x-opt-qpid-tracestate does.

// qpidTraceAnnotation is the annotation Qpid Proton's tracing uses.
const qpidTraceAnnotation = "x-opt-qpid-tracestate"

const tracerName = "github.com/amqgo/amq"

// protonJaeger writes and reads the uber-trace-id ("trace:span:parent:flags"
// in hex) that Proton's Jaeger tracer keeps in x-opt-qpid-tracestate.
var protonJaeger = jaeger.Jaeger{}

// messagingSystem is the messaging.system attribute: the semantic
// conventions have no value for AMQP 1.0 itself, whose brokers vary.
var messagingSystem = semconv.MessagingSystemKey.String("amqp")

// tracing is the client's tracer and propagator; nil when tracing is off.
type tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func newTracing(o *ConnectOptions) *tracing {
	tp := o.TracerProvider
	if tp == nil && o.UseGlobalTracerProvider {
		tp = otel.GetTracerProvider()
	}
	if tp == nil {
		return nil
	}
	prop := o.TracePropagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return &tracing{tracer: tp.Tracer(tracerName), prop: prop}
}

// serverAttrs are server.address and server.port of the current peer.
func (c *Client) serverAttrs() []attribute.KeyValue {
	c.mu.Lock()
	ep := c.ep
	c.mu.Unlock()
	port, _ := strconv.Atoi(ep.Port)
	return []attribute.KeyValue{semconv.ServerAddress(ep.Host), semconv.ServerPort(port)}
}

// startSend starts the producer span of a send and writes its context
// into am. am's application properties are copied first: they may be the
// caller's map.
func (t *tracing) startSend(ctx context.Context, c *Client, address string, msg *Message, cm *codec.Message) trace.Span {
	attrs := append([]attribute.KeyValue{
		messagingSystem,
		semconv.MessagingOperationName("send"),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingDestinationName(address),
	}, c.serverAttrs()...)
	if msg.ID != nil {
		attrs = append(attrs, semconv.MessagingMessageID(fmt.Sprint(msg.ID)))
	}
	ctx, span := t.tracer.Start(ctx, "send "+address, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))

	carrier := propagation.MapCarrier{}
	t.prop.Inject(ctx, carrier)
	// cm's maps are its own (toCodec made them): add to them in place.
	for _, k := range sortedKeys(carrier) {
		cm.ApplicationProperties.Set(k, carrier[k])
	}
	protonJaeger.Inject(ctx, carrier)
	if len(carrier) == 0 {
		return span
	}
	qpid := make(codec.Map, 0, len(carrier))
	for _, k := range sortedKeys(carrier) {
		qpid = append(qpid, codec.MapEntry{Key: k, Value: carrier[k]})
	}
	cm.MessageAnnotations.Set(Symbol(qpidTraceAnnotation), qpid)
	return span
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// endSpan records the outcome of a send or a settlement and ends the span.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	span.SetAttributes(attribute.String("amqp.outcome", outcomeName(err)))
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func outcomeName(err error) string {
	var (
		rej *RejectedError
		rel *ReleasedError
		mod *ModifiedError
	)
	switch {
	case err == nil:
		return "accepted"
	case errors.As(err, &rej):
		return "rejected"
	case errors.As(err, &rel):
		return "released"
	case errors.As(err, &mod):
		return "modified"
	}
	return "failed"
}

// errorType is the error.type attribute: the AMQP condition when there is
// one, else the Go type.
func errorType(err error) string {
	var (
		e   *Error
		rej *RejectedError
	)
	switch {
	case errors.As(err, &rej) && rej.Condition != "":
		return rej.Condition
	case errors.As(err, &e) && e.Condition != "":
		return e.Condition
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrClosed):
		return "closed"
	}
	return fmt.Sprintf("%T", err)
}

// startProcess starts the consumer span of a delivery handed to the
// application, as a child of the producer's context found in the message.
func (t *tracing) startProcess(r *Receiver, d *Delivery) {
	parent := t.prop.Extract(context.Background(), messageCarrier{d.Message})
	if !trace.SpanContextFromContext(parent).IsValid() {
		parent = protonJaeger.Extract(parent, qpidCarrier{d.Message})
	}
	address := r.Address()
	attrs := append([]attribute.KeyValue{
		messagingSystem,
		semconv.MessagingOperationName("process"),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingDestinationName(address),
	}, r.c.serverAttrs()...)
	if d.Message.ID != nil {
		attrs = append(attrs, semconv.MessagingMessageID(fmt.Sprint(d.Message.ID)))
	}
	d.ctx, d.span = t.tracer.Start(parent, "process "+address, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// startSettle starts the client span of a settlement (accept, reject,
// release, modify) under the delivery's process span.
func (t *tracing) startSettle(d *Delivery, op string) trace.Span {
	_, span := t.tracer.Start(d.ctx, "settle", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		messagingSystem,
		semconv.MessagingOperationName(op),
		semconv.MessagingOperationTypeSettle,
		semconv.MessagingDestinationName(d.r.Address()),
	))
	return span
}

// messageCarrier reads a trace context from a received message: message
// annotations first, then application properties, then the
// x-opt-qpid-tracestate annotation.
type messageCarrier struct{ m *Message }

func (mc messageCarrier) Get(key string) string {
	if v, ok := asString(mc.m.Annotations[key]); ok {
		return v
	}
	if v, ok := asString(mc.m.Properties[key]); ok {
		return v
	}
	return qpidCarrier(mc).Get(key)
}

func (mc messageCarrier) Set(string, string) {}

func (mc messageCarrier) Keys() []string { return nil }

// qpidCarrier reads only the x-opt-qpid-tracestate annotation, whose keys
// are strings or symbols.
type qpidCarrier struct{ m *Message }

func (qc qpidCarrier) Get(key string) string {
	switch q := qc.m.Annotations[qpidTraceAnnotation].(type) {
	case map[string]any:
		if v, ok := asString(q[key]); ok {
			return v
		}
	case map[Symbol]any:
		if v, ok := asString(q[Symbol(key)]); ok {
			return v
		}
	case map[any]any:
		for _, k := range []any{key, Symbol(key)} {
			if v, ok := asString(q[k]); ok {
				return v
			}
		}
	}
	return ""
}

func (qc qpidCarrier) Set(string, string) {}

func (qc qpidCarrier) Keys() []string { return nil }

// asString returns a string or symbol value.
func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case Symbol:
		return string(x), true
	}
	return "", false
}

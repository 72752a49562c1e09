// Command tracing shows distributed tracing with OpenTelemetry (reference
// chapter 12, where Proton uses OpenTracing and Jaeger): it sends a
// message and receives it with tracing on (ConnectOptions.TracerProvider),
// and the spans of both sides land in one trace — the send's producer
// span, the delivery's consumer ("process") span and the accept's
// "settle" span — because the trace context travels inside the message.
// The spans are exported with the OpenTelemetry stdout exporter, as JSON,
// to standard error or to the -spans file.
//
// To send spans to Jaeger, Tempo or any other OTLP collector instead,
// build the TracerProvider with an OTLP exporter
// (go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc); this
// example does not, to keep amq's dependencies small.
//
// With no -url it starts an in-process broker, so it runs with nothing
// installed.
//
// Usage: tracing [-url URL] [-address examples] [-spans FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

func main() {
	url := flag.String("url", "", "connection URL of the broker (default: an in-process broker)")
	address := flag.String("address", "examples", "address to send to and receive from")
	spans := flag.String("spans", "", "file to write the spans to, as JSON (default: standard error)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: tracing [-url URL] [-address ADDRESS] [-spans FILE]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *address, *spans); err != nil {
		fmt.Fprintln(os.Stderr, "tracing:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, address, spansPath string) error {
	var out io.Writer = os.Stderr
	if spansPath != "" {
		f, err := os.Create(spansPath)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	exporter, err := stdouttrace.New(stdouttrace.WithWriter(out), stdouttrace.WithPrettyPrint())
	if err != nil {
		return err
	}
	// A syncer exports each span as it ends; a real service would use
	// sdktrace.WithBatcher.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(context.Background())

	if url == "" {
		b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{
			Server: &server.Options{AllowAnonymous: true},
		})
		if err != nil {
			return err
		}
		defer b.Close()
		url = b.URL()
	}
	c, err := amq.Dial(ctx, url, &amq.ConnectOptions{TracerProvider: tp})
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.NewReceiver(ctx, address, &amq.ReceiverOptions{ManualAccept: true})
	if err != nil {
		return err
	}

	// The application's own span: the send becomes its child.
	ctx, root := tp.Tracer("amq-tracing-example").Start(ctx, "tracing example")
	body := "Hello, tracing!"
	if err := c.Send(ctx, amq.NewMessage(body).SetTo(address)); err != nil {
		return err
	}
	fmt.Printf("Sent '%s'\n", body)

	d, err := r.Receive(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("Received '%v'\n", d.Message.Body)
	// d.Context carries the consumer span, whose parent came with the
	// message: work done for the message joins the sender's trace.
	joined := trace.SpanContextFromContext(d.Context()).TraceID() == root.SpanContext().TraceID()
	fmt.Printf("The receive joined the send's trace: %v\n", joined)
	if err := d.Accept(d.Context()); err != nil {
		return err
	}
	root.End()
	if err := c.Close(); err != nil {
		return err
	}
	return tp.Shutdown(ctx)
}

//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/amqgo/amq"
)

// protonTracingPython returns the python of the Proton 0.40 venv, which
// also has opentracing and jaeger-client, the modules proton.tracing needs;
// it fails in CI, or skips elsewhere, when either is missing.
func protonTracingPython(t *testing.T) string {
	t.Helper()
	py := protonPythons[1].interpreter(t)
	if out, err := exec.Command(py, "-c", "import proton.tracing").CombinedOutput(); err != nil {
		missing(t, "proton-tracing", fmt.Errorf("%s cannot import proton.tracing (.ci/run installs jaeger-client and opentracing in its venv): %v: %s", py, err, bytes.TrimSpace(out)))
	}
	return py
}

// protonSpan is a span of Proton's Jaeger tracer as peers/proton_trace.py
// prints it, ids in hex.
type protonSpan struct {
	TraceID  string `json:"trace_id"`
	SpanID   string `json:"span_id"`
	ParentID string `json:"parent_id"`
	Headers  map[string]string
}

// runProtonTrace runs peers/proton_trace.py and decodes the span it prints.
func runProtonTrace(t *testing.T, ctx context.Context, py string, args ...string) protonSpan {
	t.Helper()
	script := filepath.Join(repoDir(), "peers", "proton_trace.py")
	cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("proton_trace.py %s: %v\n%s%s", args[0], err, out, stderr.Bytes())
	}
	var s protonSpan
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("proton_trace.py %s printed %q: %v\n%s", args[0], out, err, stderr.Bytes())
	}
	return s
}

// TestTracingInteropWithProton joins amq's traces and those of Proton
// Python's own tracing (proton.tracing: OpenTracing with a Jaeger tracer,
// reference chapter 12), through the embedded broker, Artemis and the Proton
// C example broker: a Proton producer's span is the parent of amq's process
// span, and amq's send span the parent of Proton's receive span. Proton's
// tracer writes and reads only Jaeger's uber-trace-id in
// x-opt-qpid-tracestate.
func TestTracingInteropWithProton(t *testing.T) {
	py := protonTracingPython(t)
	for _, name := range []string{"embedded", "artemis", "proton-c"} {
		t.Run(name, func(t *testing.T) {
			var p *Peer
			if name == "embedded" {
				p = embeddedPeer(t)
			} else {
				p = getPeer(t, name)
			}
			ctx := testCtx(t, time.Minute)
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			defer tp.Shutdown(context.Background())
			c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.TracerProvider = tp })

			// Proton → Go.
			addr := p.Queue(uniqueName(t))
			sent := runProtonTrace(t, ctx, py, "send", p.URL, addr)
			r := amqReceiver(t, c, addr, nil)
			d, err := r.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Accept(ctx); err != nil {
				t.Fatal(err)
			}
			var process sdktrace.ReadOnlySpan
			for _, s := range rec.Ended() {
				if strings.HasPrefix(s.Name(), "process ") {
					process = s
				}
			}
			if process == nil {
				t.Fatalf("no process span (message annotations %v)", d.Message.Annotations)
			}
			if got := process.SpanContext().TraceID().String(); got != sent.TraceID {
				t.Fatalf("Go continued trace %s, want Proton's %s (message annotations %v)", got, sent.TraceID, d.Message.Annotations)
			}
			if got := process.Parent().SpanID().String(); got != sent.SpanID {
				t.Fatalf("Go's process span has parent %s, want Proton's send span %s", got, sent.SpanID)
			}

			// Go → Proton.
			addr2 := p.Queue(uniqueName(t))
			if err := c.Send(ctx, amq.NewMessage("traced by go").SetTo(addr2)); err != nil {
				t.Fatal(err)
			}
			var send sdktrace.ReadOnlySpan
			for _, s := range rec.Ended() {
				if s.Name() == "send "+addr2 {
					send = s
				}
			}
			if send == nil {
				t.Fatal("no send span")
			}
			got := runProtonTrace(t, ctx, py, "recv", p.URL, addr2)
			if want := send.SpanContext().TraceID().String(); got.TraceID != want {
				t.Fatalf("Proton's receive span is in trace %s, want Go's %s (x-opt-qpid-tracestate %v)", got.TraceID, want, got.Headers)
			}
			if want := send.SpanContext().SpanID().String(); got.ParentID != want {
				t.Fatalf("Proton's receive span has parent %q, want Go's send span %s (x-opt-qpid-tracestate %v)", got.ParentID, want, got.Headers)
			}
			if got.Headers["traceparent"] == "" {
				t.Fatalf("x-opt-qpid-tracestate %v has no W3C traceparent beside the uber-trace-id", got.Headers)
			}
		})
	}
}

//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/amqgo/amq"
)

// TestTracingInteropWithProton continues, in Go, a trace that a Proton
// Python producer put in a message, and the reverse, through the embedded
// broker, Artemis and the Proton C example broker (reference chapter 12).
func TestTracingInteropWithProton(t *testing.T) {
	if err := checkProtonPython(); err != nil {
		missing(t, "proton-python", err)
	}
	script := filepath.Join(repoDir(), "peers", "proton_trace.py")
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
			const traceID, spanID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
			addr := p.Queue(uniqueName(t))
			out, err := exec.CommandContext(ctx, systemPython, script, "send", p.URL, addr, "00-"+traceID+"-"+spanID+"-01").CombinedOutput()
			if err != nil {
				t.Fatalf("proton send: %v\n%s", err, out)
			}
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
				t.Fatal("no process span")
			}
			if got := process.SpanContext().TraceID().String(); got != traceID {
				t.Fatalf("Go continued trace %s, want Proton's %s", got, traceID)
			}
			if got := process.Parent().SpanID().String(); got != spanID {
				t.Fatalf("parent span %s, want Proton's %s", got, spanID)
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
			out, err = exec.CommandContext(ctx, systemPython, script, "recv", p.URL, addr2).Output()
			if err != nil {
				t.Fatalf("proton recv: %v", err)
			}
			var got struct{ Headers map[string]string }
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("proton output %q: %v", out, err)
			}
			want := "00-" + send.SpanContext().TraceID().String() + "-" + send.SpanContext().SpanID().String() + "-01"
			if got.Headers["traceparent"] != want {
				t.Fatalf("Proton read traceparent %q from x-opt-qpid-tracestate, want %q", got.Headers["traceparent"], want)
			}
		})
	}
}

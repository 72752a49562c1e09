//go:build integration

package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// TestReferenceExamples runs the reference's own send.py and receive.py
// (chapters 4.1 and 4.2, in peers/reference/), unchanged, under each Proton
// Python version, against every broker: what send.py sends reaches an amq
// receiver, and what amq sends is what receive.py prints.
func TestReferenceExamples(t *testing.T) {
	dir := filepath.Join(repoDir(), "peers", "reference")
	for _, pp := range protonPythons {
		t.Run(pp.Name, func(t *testing.T) {
			python := pp.interpreter(t)
			eachPeer(t, func(t *testing.T, p *Peer) {
				p.Require(t, FeatProtonClients)
				t.Run("send.py-to-go", func(t *testing.T) {
					ctx := testCtx(t, time.Minute)
					addr := p.Queue(uniqueName(t))
					body := "hello from " + pp.Name
					out, err := exec.CommandContext(ctx, python, filepath.Join(dir, "send.py"), p.URL, addr, body).CombinedOutput()
					if err != nil {
						t.Fatalf("send.py: %v\n%s", err, out)
					}
					if want := fmt.Sprintf("SEND: Sent message '%s'", body); !strings.Contains(string(out), want) {
						t.Fatalf("send.py printed %q, want a line %q", out, want)
					}
					c := amqDial(t, p, p.Addr, nil)
					d, err := amqReceiver(t, c, addr, nil).Receive(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if got, ok := d.Message.Body.(string); !ok || got != body {
						t.Fatalf("amq received %T %#v, want the string %q", d.Message.Body, d.Message.Body, body)
					}
				})
				t.Run("go-to-receive.py", func(t *testing.T) {
					const n = 3
					ctx := testCtx(t, time.Minute)
					addr := p.Queue(uniqueName(t))
					c := amqDial(t, p, p.Addr, nil)
					s := amqSender(t, c, addr, nil)
					want := []string{fmt.Sprintf("RECEIVE: Created receiver for source address '%s'", addr)}
					for i := 1; i <= n; i++ {
						body := fmt.Sprintf("go %d", i)
						if err := s.Send(ctx, amq.NewMessage(body)); err != nil {
							t.Fatal(err)
						}
						want = append(want, fmt.Sprintf("RECEIVE: Received message '%s'", body))
					}
					out, err := exec.CommandContext(ctx, python, filepath.Join(dir, "receive.py"), p.URL, addr, fmt.Sprint(n)).CombinedOutput()
					if err != nil {
						t.Fatalf("receive.py: %v\n%s", err, out)
					}
					if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Fatalf("receive.py printed:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
					}
				})
			})
		})
	}
}

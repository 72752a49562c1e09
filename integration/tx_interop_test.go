//go:build integration

package integration

// Transactions between amq and the reference client, Qpid Proton Python
// (peers/proton_tx.py), through every broker with a coordinator, both
// ways: what Proton sends in a transaction reaches amq only at its
// commit, and what amq sends in one Proton receives and accepts in a
// transaction of its own.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// protonTx is peers/proton_tx.py under pp.
func protonTx(t testing.TB, pp protonPython) *interopClient {
	t.Helper()
	return &interopClient{
		Name:   pp.Name,
		prefix: "proton-tx",
		argv:   []string{pp.interpreter(t), filepath.Join(repoDir(), "peers", "proton_tx.py")},
	}
}

// clientResult is how an interop client's run ended.
type clientResult struct {
	out string
	err error
}

// txReceived is what proton_tx.py recv prints per message.
type txReceived struct {
	ID            *string `json:"id"`
	Body          any     `json:"body"`
	DeliveryCount int     `json:"delivery_count"`
}

// parseTxRecv splits proton_tx.py recv's output into the messages and its
// last line ("committed" or "rolled back").
func parseTxRecv(t testing.TB, out string) ([]txReceived, string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var ms []txReceived
	for _, line := range lines[:len(lines)-1] {
		var m txReceived
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("proton_tx.py printed %q: %v\n%s", line, err, out)
		}
		ms = append(ms, m)
	}
	return ms, lines[len(lines)-1]
}

func bodies(ms []txReceived) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprint(m.Body))
	}
	return out
}

func TestTxInteropProton(t *testing.T) {
	const n = 5
	for _, pp := range protonPythons {
		t.Run(pp.Name, func(t *testing.T) {
			eachPeer(t, func(t *testing.T, p *Peer) {
				p.Require(t, FeatTransactions)
				p.Require(t, FeatProtonClients)
				cl := protonTx(t, pp)

				// Proton declares, sends n durable messages in the
				// transaction, then a marker outside it, and commits once
				// the marker is accepted: amq's consumer must get the
				// marker first.
				t.Run("proton-tx-send-to-go", func(t *testing.T) {
					ctx := testCtx(t, 90*time.Second)
					addr := p.Queue(uniqueName(t))
					c := amqDial(t, p, p.Addr, nil)
					r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 2 * n})
					wait, _ := cl.start(t, ctx, "send", p.URL, addr, n)
					out, err := wait()
					if err != nil {
						t.Fatal(err)
					}
					if strings.TrimSpace(out) != "committed" {
						t.Fatalf("proton_tx.py send printed %q, want \"committed\"", out)
					}
					expectNext(ctx, t, r, "proton-tx marker", "a message of Proton's transaction was delivered before its commit")
					for i := 1; i <= n; i++ {
						d, err := r.Receive(ctx)
						if err != nil {
							t.Fatalf("receive %d: %v", i, err)
						}
						m := d.Message
						if got, want := bodyString(t, m), fmt.Sprintf("proton-tx %d", i); got != want {
							t.Fatalf("body %q, want %q", got, want)
						}
						if m.ID != fmt.Sprintf("proton-tx-%d", i) || !m.Durable || fmt.Sprint(m.Properties["seq"]) != fmt.Sprint(i) {
							t.Errorf("message %d: id %#v durable %v properties %v", i, m.ID, m.Durable, m.Properties)
						}
					}
					expectNoMore(t, r)
				})

				// amq sends n in a transaction and a marker outside it;
				// Proton, already waiting with credit, gets the marker
				// first, then the n at amq's commit, accepts all in its
				// own transaction and commits: the queue is then empty.
				t.Run("go-tx-to-proton-tx-recv", func(t *testing.T) {
					ctx := testCtx(t, 90*time.Second)
					addr := p.Queue(uniqueName(t))
					wait, ready := cl.start(t, ctx, "recv", p.URL, addr, n+1)
					done := make(chan clientResult, 1)
					go func() {
						out, err := wait()
						done <- clientResult{out, err}
					}()
					select {
					case <-ready:
					case res := <-done:
						t.Fatalf("proton_tx.py ended before it was ready: %v\n%s", res.err, res.out)
					case <-ctx.Done():
						t.Fatal("proton_tx.py never attached")
					}
					c := amqDial(t, p, p.Addr, nil)
					s := amqSender(t, c, addr, nil)
					tx, err := c.Begin(ctx)
					if err != nil {
						t.Fatalf("Begin: %v", err)
					}
					if err := sendInTx(ctx, tx, s, "go-tx", n); err != nil {
						t.Fatal(err)
					}
					sendMarker(ctx, t, s, "go marker")
					if err := tx.Commit(ctx); err != nil {
						t.Fatalf("Commit: %v", err)
					}
					res := <-done // bounded by ctx, which ends the process
					if res.err != nil {
						t.Fatal(res.err)
					}
					out := res.out
					ms, last := parseTxRecv(t, out)
					if want := append([]string{"go marker"}, numbered("go-tx", n)...); !slices.Equal(bodies(ms), want) || last != "committed" {
						t.Fatalf("proton_tx.py recv printed:\n%s\nwant the bodies %q, then \"committed\"", out, want)
					}
					queueDrained(ctx, t, p, addr, "a message Proton accepted in its committed transaction is still queued")
				})

				// Proton accepts n in a transaction and rolls it back
				// (after which Proton's Transaction also releases them):
				// amq then receives all n again, in order.
				t.Run("go-to-proton-tx-recv-rollback", func(t *testing.T) {
					ctx := testCtx(t, 90*time.Second)
					addr := p.Queue(uniqueName(t))
					c := amqDial(t, p, p.Addr, nil)
					if err := amqSendN(ctx, amqSender(t, c, addr, nil), "m", n); err != nil {
						t.Fatal(err)
					}
					wait, _ := cl.start(t, ctx, "recv", p.URL, addr, n, "--rollback")
					out, err := wait()
					if err != nil {
						t.Fatal(err)
					}
					want := []string{"m 0", "m 1", "m 2", "m 3", "m 4"}
					if ms, last := parseTxRecv(t, out); !slices.Equal(bodies(ms), want) || last != "rolled back" {
						t.Fatalf("proton_tx.py recv --rollback printed:\n%s\nwant the bodies %q, then \"rolled back\"", out, want)
					}
					got, ds := receiveBodies(ctx, t, amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 2 * n}), n)
					if !slices.Equal(got, want) {
						t.Fatalf("after Proton's rollback amq received %q, want %q", got, want)
					}
					t.Logf("%s: delivery-count after Proton's rollback: %d", p.Name, ds[0].Message.DeliveryCount)
				})
			})
		})
	}
}

//go:build integration

package integration

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// TestPoisonTypesFromProton: a Proton Python sender puts a char, a
// decimal128, an array of lists and a value described by AMQP's "accepted"
// descriptor (and, as properties, a char and a decimal32) between ordinary
// messages. go-amqp alone detaches the receiving link on the first of them
// and the broker redelivers it forever; the amq consumer receives all
// seven, with their AMQP types, and keeps running.
func TestPoisonTypesFromProton(t *testing.T) {
	if err := checkProtonPython(); err != nil {
		missing(t, "proton-python", err)
	}
	for _, name := range []string{"embedded", "artemis", "proton-c"} {
		t.Run(name, func(t *testing.T) {
			var p *Peer
			if name == "embedded" {
				p = embeddedPeer(t)
			} else {
				p = getPeer(t, name)
			}
			ctx := testCtx(t, time.Minute)
			addr := p.Queue(uniqueName(t))
			out, err := exec.CommandContext(ctx, systemPython, filepath.Join(repoDir(), "peers", "proton_poison.py"), p.URL, addr).CombinedOutput()
			if err != nil {
				t.Fatalf("proton sender: %v\n%s", err, out)
			}
			c := amqDial(t, p, p.Addr, nil)
			r := amqReceiver(t, c, addr, nil)
			var got []any
			const n = 7
			for len(got) < n {
				d, err := r.Receive(ctx)
				if err != nil {
					t.Fatalf("after %d messages: %v", len(got), err)
				}
				got = append(got, d.Message.Body)
				if len(got) == n {
					if c, ok := d.Message.Properties["c"].(amq.Char); !ok || c != 'x' {
						t.Errorf("property c = %#v, want amq.Char('x')", d.Message.Properties["c"])
					}
					if _, ok := d.Message.Properties["d"].(amq.Decimal32); !ok {
						t.Errorf("property d = %#v, want an amq.Decimal32", d.Message.Properties["d"])
					}
				}
			}
			var d128 amq.Decimal128
			for i := range d128 {
				d128[i] = byte(i + 1)
			}
			want := []any{"before", amq.Char('€'), "middle", d128,
				amq.Array{Values: []any{[]any{int64(1)}}},
				amq.Described{Descriptor: uint64(0x24), Value: []any(nil)},
				"after"}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("message %d: %#v, want %#v", i, got[i], want[i])
				}
			}
			if err := r.Err(); err != nil {
				t.Fatalf("the receiver ended: %v", err)
			}
		})
	}
}

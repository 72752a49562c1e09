package broker_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
)

// TestE2ESelectorLimits: a selector past MaxSelectorLength or
// MaxSelectorDepth refuses the attach with amqp:invalid-field (issue #17:
// deep ones used to exhaust the broker's stack and memory); one just
// within them is served; the connection goes on either way.
func TestE2ESelectorLimits(t *testing.T) {
	b := listen(t, nil)
	ctx := ctxT(t)
	c, err := amq.Dial(ctx, b.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	nest := func(n int) string { return strings.Repeat("(", n) + "color = 'red'" + strings.Repeat(")", n) }
	long := "color = '" + strings.Repeat("x", broker.MaxSelectorLength) + "'"
	for _, tc := range []struct{ name, sel, want string }{
		{"too deep", nest(broker.MaxSelectorDepth + 1), "nested deeper than the limit"},
		{"too long", long, "longer than the limit"},
		{"deep and long", strings.Repeat("(", 32_600), "longer than the limit"},
	} {
		_, err := c.NewReceiver(ctx, "paint", &amq.ReceiverOptions{Selector: tc.sel})
		var ae *amq.Error
		if !errors.As(err, &ae) || ae.Condition != "amqp:invalid-field" || !strings.Contains(ae.Description, tc.want) {
			t.Errorf("%s: err = %v, want amqp:invalid-field saying %q", tc.name, err, tc.want)
		}
	}

	r, err := c.NewReceiver(ctx, "paint", &amq.ReceiverOptions{Selector: nest(broker.MaxSelectorDepth)})
	if err != nil {
		t.Fatalf("selector at the depth limit: %v", err)
	}
	atLength := "color = 'red' OR color = '" + strings.Repeat("x", broker.MaxSelectorLength-27) + "'"
	if len(atLength) != broker.MaxSelectorLength {
		t.Fatalf("selector of %d bytes", len(atLength))
	}
	r2, err := c.NewReceiver(ctx, "paint2", &amq.ReceiverOptions{Selector: atLength})
	if err != nil {
		t.Fatalf("selector at the length limit: %v", err)
	}
	for _, tc := range []struct {
		addr string
		r    *amq.Receiver
	}{{"paint", r}, {"paint2", r2}} {
		for _, color := range []string{"blue", "red"} {
			m := amq.NewMessage(color)
			m.Properties = map[string]any{"color": color}
			m.To = tc.addr
			if err := c.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		d, err := tc.r.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.Message.Body != "red" {
			t.Fatalf("%s: got %v, want red", tc.addr, d.Message.Body)
		}
	}
}

// TestE2EMaxTotalBytes: queues each within their own bound but together
// at Options.MaxTotalBytes refuse a send with amqp:resource-limit-exceeded,
// as a full node does, until consumers settle messages.
func TestE2EMaxTotalBytes(t *testing.T) {
	// Messages of a little over 1,000 bytes (and the broker's bookkeeping
	// of each, which MaxTotalBytes counts too): each queue takes three of
	// them, the broker four in all.
	b := listen(t, &broker.Options{MaxQueueBytes: 3500, MaxTotalBytes: 4900})
	s := session(t, dial(t, b.URL(), "c"))
	body := bytes.Repeat([]byte("x"), 1000)
	a, bq := newSender(t, s, "a", nil), newSender(t, s, "b", nil)
	send := func(snd *amqp.Sender) error {
		return snd.Send(ctxT(t), amqp.NewMessage(body), nil)
	}
	for _, snd := range []*amqp.Sender{a, a, a, bq} {
		if err := send(snd); err != nil {
			t.Fatal(err)
		}
	}
	err := send(bq)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondResourceLimitExceeded {
		t.Fatalf("fifth message: err = %v, want resource-limit-exceeded", err)
	}
	if d := b.QueueDepth("b"); d != 1 {
		t.Fatalf("depth of b %d, want 1", d)
	}
	// A consumer of a makes room for b.
	r := newReceiver(t, s, "a", &amqp.ReceiverOptions{Credit: -1})
	if err := r.IssueCredit(1); err != nil {
		t.Fatal(err)
	}
	_, m := receiveText(t, r)
	if err := r.AcceptMessage(ctxT(t), m); err != nil {
		t.Fatal(err)
	}
	// The broker takes the accept in on its own time: send until it has.
	eventually(t, "room for a send to b", func() bool {
		err := send(bq)
		if err != nil && (!errors.As(err, &ae) || ae.Condition != amqp.ErrCondResourceLimitExceeded) {
			t.Fatalf("send: %v", err)
		}
		return err == nil
	})
	if d := b.QueueDepth("b"); d != 2 {
		t.Fatalf("depth of b %d, want 2", d)
	}
	if err := send(bq); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondResourceLimitExceeded {
		t.Fatalf("broker full again: err = %v, want resource-limit-exceeded", err)
	}
}

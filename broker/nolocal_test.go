package broker_test

import (
	"testing"

	amqp "github.com/Azure/go-amqp"
)

// noLocal is the JMS no-local filter as Qpid JMS sends it.
var noLocal = []amqp.LinkFilter{amqp.NewLinkFilter("no-local", 0x0000468C00000003, "NoLocalFilter{}")}

// TestE2ENoLocal: a no-local subscriber on a topic gets no copy of what its
// own connection publishes; the filter is
// echoed, in force. On a queue it is not in force: not echoed, and the
// connection's own messages are delivered.
func TestE2ENoLocal(t *testing.T) {
	b := listen(t, nil)
	mine := session(t, dial(t, b.URL(), "mine"))
	other := session(t, dial(t, b.URL(), "other"))

	r := newReceiver(t, mine, "news", &amqp.ReceiverOptions{SourceCapabilities: []string{"topic"}, Filters: noLocal})
	if r.LinkSourceFilterValue("no-local") == nil {
		t.Error("no-local on a topic is not echoed")
	}
	sendText(t, newSender(t, mine, "news", &amqp.SenderOptions{TargetCapabilities: []string{"topic"}}), "own", nil)
	sendText(t, newSender(t, other, "news", nil), "theirs", nil)
	if body, _ := receiveText(t, r); body != "theirs" {
		t.Errorf("no-local subscriber got %q, want theirs", body)
	}

	q := newReceiver(t, mine, "jobs", &amqp.ReceiverOptions{SourceCapabilities: []string{"queue"}, Filters: noLocal})
	if v := q.LinkSourceFilterValue("no-local"); v != nil {
		t.Errorf("no-local on a queue echoed: %v", v)
	}
	sendText(t, newSender(t, mine, "jobs", nil), "own job", nil)
	if body, _ := receiveText(t, q); body != "own job" {
		t.Errorf("queue receiver got %q", body)
	}
}

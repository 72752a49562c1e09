//go:build integration

package integration

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// ConnectOptions.VirtualHost against RabbitMQ, which serves the virtual
// host an open's hostname names as "vhost:NAME": a queue declared through
// the connection lives in that virtual host and not in the default one.
// rabbitmqctl, as the broker's own view, says where it is.
func TestVirtualHostRabbitMQ(t *testing.T) {
	p := getPeer(t, "rabbitmq")
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		missing(t, "rabbitmqctl", err)
	}
	ctx := testCtx(t, 60*time.Second)
	const vhost = "amq-it-vhost"
	ctl := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "rabbitmqctl", args...).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "already exists") {
			t.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ctl("add_vhost", vhost)
	ctl("set_permissions", "-p", vhost, p.User, ".*", ".*", ".*")

	name := uniqueName(t)
	c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) { o.VirtualHost = "vhost:" + vhost })
	s := amqSender(t, c, p.Queue(name), nil)
	if err := s.Send(ctx, amq.NewMessage("in the virtual host")); err != nil {
		t.Fatalf("send: %v", err)
	}
	queues := func(vh string) []string {
		return strings.Fields(ctl("list_queues", "-p", vh, "-q", "name"))
	}
	if in := queues(vhost); !slices.Contains(in, name) {
		t.Fatalf("queue %s is not in virtual host %s: %v", name, vhost, in)
	}
	if in := queues("/"); slices.Contains(in, name) {
		t.Fatalf("queue %s is in the default virtual host too", name)
	}
	r := amqReceiver(t, c, p.Queue(name), nil)
	d, err := r.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if got := bodyString(t, d.Message); got != "in the virtual host" {
		t.Fatalf("got %q", got)
	}
	ctl("delete_queue", "-p", vhost, name)
}

// The capabilities of the open against Artemis: the client reads what
// Artemis offers (it offers ANONYMOUS-RELAY, which amq's own broker
// offers too), and what amq offers and desires does not upset it.
func TestOpenCapabilitiesArtemis(t *testing.T) {
	p := getPeer(t, "artemis")
	c := amqDial(t, p, p.Addr, func(o *amq.ConnectOptions) {
		o.OfferedCapabilities = []string{"x-amq-test-offered"}
		o.DesiredCapabilities = []string{"ANONYMOUS-RELAY", "x-amq-test-desired"}
	})
	offered := c.PeerOfferedCapabilities()
	if !slices.Contains(offered, "ANONYMOUS-RELAY") {
		t.Fatalf("Artemis offers %v, without ANONYMOUS-RELAY", offered)
	}
	t.Logf("Artemis offers %v and desires %v", offered, c.PeerDesiredCapabilities())
	// The connection works with them.
	ctx := testCtx(t, 30*time.Second)
	name := uniqueName(t)
	if err := amqSender(t, c, p.Queue(name), nil).Send(ctx, amq.NewMessage("caps")); err != nil {
		t.Fatalf("send: %v", err)
	}
	if _, err := amqReceiver(t, c, p.Queue(name), nil).Receive(ctx); err != nil {
		t.Fatalf("receive: %v", err)
	}
}

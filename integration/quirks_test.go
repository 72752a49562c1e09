//go:build integration

package integration

import (
	"context"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// TestQuirks measures what each peer does with requests not every broker
// honours, logs it, and fails when the harness's feature table disagrees
// with what the peer really does (so the skips elsewhere stay honest).
func TestQuirks(t *testing.T) {
	eachPeer(t, func(t *testing.T, p *Peer) {
		// a fresh session per probe: RabbitMQ ends the session when it
		// refuses an attach.
		c, _ := rawSession(t, p.URL, nil)
		newSession := func(ctx context.Context) *amqp.Session {
			s, err := c.NewSession(ctx, nil)
			if err != nil {
				t.Fatalf("session: %v", err)
			}
			return s
		}
		attach := func(addr string, opts *amqp.ReceiverOptions) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := newSession(ctx).NewReceiver(ctx, addr, opts)
			if err == nil {
				closeQuick(r.Close)
			}
			return err
		}
		attachSender := func(addr string, opts *amqp.SenderOptions) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			snd, err := newSession(ctx).NewSender(ctx, addr, opts)
			if err == nil {
				closeQuick(snd.Close)
			}
			return err
		}

		settled := amqp.SenderSettleModeSettled
		err := attach(p.Queue(uniqueName(t)), &amqp.ReceiverOptions{RequestedSenderSettleMode: &settled})
		t.Logf("%s: receiver asking the broker to send pre-settled (snd-settle-mode settled): %v", p.Name, errOr(err, "echoed"))
		if got := err == nil; got != p.Has(FeatSettledSendMode) {
			t.Errorf("%s: echoes snd-settle-mode settled = %v, table says %v (%v)", p.Name, got, p.Has(FeatSettledSendMode), err)
		}

		err = attachSender(p.Queue(uniqueName(t)), &amqp.SenderOptions{SettlementMode: &settled})
		t.Logf("%s: sender with snd-settle-mode settled: %v", p.Name, errOr(err, "accepted"))
		if got := err == nil; got != p.Has(FeatSettledSendMode) {
			t.Errorf("%s: sender snd-settle-mode settled attach = %v, table says %v (%v)", p.Name, got, p.Has(FeatSettledSendMode), err)
		}

		first := amqp.ReceiverSettleModeSecond
		err = attach(p.Queue(uniqueName(t)), &amqp.ReceiverOptions{SettlementMode: &first})
		t.Logf("%s: receiver with rcv-settle-mode second: %v", p.Name, errOr(err, "accepted"))

		{
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			r, err := newSession(ctx).NewReceiver(ctx, p.Queue(uniqueName(t)), nil)
			if err != nil {
				t.Fatalf("attach: %v", err)
			}
			err = r.Close(ctx)
			cancel()
			t.Logf("%s: link close: %v", p.Name, errOr(err, "answered"))
			if got := err == nil; got != p.Has(FeatCloseAnswered) {
				t.Errorf("%s: link close answered = %v, table says %v (%v)", p.Name, got, p.Has(FeatCloseAnswered), err)
			}
		}

		if p.Has(FeatDynamic) || p.Name == "rabbitmq" {
			// (the Proton C example broker crashes on a dynamic source)
			err = attach("", &amqp.ReceiverOptions{DynamicAddress: true})
			t.Logf("%s: dynamic source: %v", p.Name, errOr(err, "granted"))
			if got := err == nil; got != p.Has(FeatDynamic) {
				t.Errorf("%s: dynamic source granted = %v, table says %v (%v)", p.Name, got, p.Has(FeatDynamic), err)
			}
		}
	})
}

func errOr(err error, ok string) string {
	if err != nil {
		return "refused: " + err.Error()
	}
	return ok
}

// closeQuick closes a link without waiting long for the peer's detach
// (RabbitMQ 3.10 never sends the closing one).
func closeQuick(close func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	close(ctx)
}

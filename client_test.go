package amq_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// testCtx bounds every test: no network test may hang.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, url string, opts *amq.ConnectOptions) *amq.Client {
	t.Helper()
	c, err := amq.Dial(testCtx(t), url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDialGeneratesContainerID(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	_, err := uuid.Parse(c.ContainerID())
	assert.NoError(t, err, "the default container id is a UUID")

	c2 := dial(t, b.URL(), &amq.ConnectOptions{ContainerID: "my-app"})
	assert.Equal(t, "my-app", c2.ContainerID())
	assert.NotContains(t, c2.URL(), "@")
}

func TestSendReceiveRoundTrip(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)

	r, err := c.NewReceiver(ctx, "roundtrip", nil)
	require.NoError(t, err)

	created := time.UnixMilli(time.Now().UnixMilli()).UTC()
	sent := &amq.Message{
		Body:               "hello",
		Durable:            true,
		Priority:           7,
		TTL:                time.Minute,
		ID:                 "id-1",
		UserID:             []byte("anonymous"),
		To:                 "roundtrip",
		Subject:            "greeting",
		ReplyTo:            "replies",
		CorrelationID:      uint64(42),
		ContentType:        "text/plain",
		ContentEncoding:    "utf-8",
		AbsoluteExpiryTime: created.Add(time.Hour),
		CreationTime:       created,
		GroupID:            "g",
		GroupSequence:      3,
		ReplyToGroupID:     "rg",
		Annotations:        map[string]any{"x-opt-test": "a"},
		Properties:         map[string]any{"colour": "red", "n": int64(5)},
	}
	require.NoError(t, c.Send(ctx, sent))

	d, err := r.Receive(ctx)
	require.NoError(t, err)
	got := d.Message
	assert.Equal(t, "hello", got.Body)
	assert.True(t, got.Durable)
	assert.Equal(t, uint8(7), got.Priority)
	assert.Equal(t, time.Minute, got.TTL)
	assert.Equal(t, "id-1", got.ID)
	assert.Equal(t, []byte("anonymous"), got.UserID)
	assert.Equal(t, "roundtrip", got.To)
	assert.Equal(t, "greeting", got.Subject)
	assert.Equal(t, "replies", got.ReplyTo)
	assert.Equal(t, uint64(42), got.CorrelationID)
	assert.Equal(t, "text/plain", got.ContentType)
	assert.Equal(t, "utf-8", got.ContentEncoding)
	assert.True(t, created.Add(time.Hour).Equal(got.AbsoluteExpiryTime))
	assert.True(t, created.Equal(got.CreationTime))
	assert.Equal(t, "g", got.GroupID)
	assert.Equal(t, uint32(3), got.GroupSequence)
	assert.Equal(t, "rg", got.ReplyToGroupID)
	assert.Equal(t, "a", got.Annotations["x-opt-test"])
	assert.Equal(t, "red", got.Properties["colour"])
	assert.Equal(t, int64(5), got.Properties["n"])
	require.NoError(t, d.Accept(ctx))
}

func TestBodyKinds(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "bodies", nil)
	require.NoError(t, err)
	s, err := c.NewSender(ctx, "bodies", nil)
	require.NoError(t, err)

	tests := []struct {
		name          string
		msg           *amq.Message
		want          any
		binaryAsValue bool
	}{
		{"string value", amq.NewMessage("text"), "text", false},
		{"one data section", amq.NewMessage([]byte{0, 1, 0xff}), []byte{0, 1, 0xff}, false},
		{"binary value", &amq.Message{Body: []byte("v"), BinaryAsValue: true}, []byte("v"), true},
		{"several data sections", amq.NewMessage(amq.DataSections{[]byte("a"), []byte("b")}), amq.DataSections{[]byte("a"), []byte("b")}, false},
		{"sequence sections", amq.NewMessage(amq.SequenceSections{{"a", int64(1)}}), amq.SequenceSections{{"a", int64(1)}}, false},
		{"map value", amq.NewMessage(map[string]any{"k": "v"}), map[string]any{"k": "v"}, false},
		{"list value", amq.NewMessage([]any{"a", int32(2), true}), []any{"a", int32(2), true}, false},
		{"nil value", amq.NewMessage(nil), nil, false},
		{"int value", amq.NewMessage(int64(-7)), int64(-7), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, s.Send(ctx, tt.msg))
			d, err := r.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.Message.Body)
			assert.Equal(t, tt.binaryAsValue, d.Message.BinaryAsValue)
		})
	}
}

func TestConcurrentSendsAllArrive(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "concurrent", nil)
	require.NoError(t, err)
	r, err := c.NewReceiver(ctx, "concurrent", &amq.ReceiverOptions{Credit: 50})
	require.NoError(t, err)

	const goroutines, each = 16, 64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- s.Send(ctx, amq.NewMessage(fmt.Sprintf("%d-%d", g, i)))
			}
		}()
	}
	seen := make(map[string]bool)
	for range goroutines * each {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		body := d.Message.Body.(string)
		assert.False(t, seen[body], "duplicate %s", body)
		seen[body] = true
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, seen, goroutines*each)
}

func TestSendAsyncPipelines(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "pipelined", nil)
	require.NoError(t, err)
	receipts := make([]*amq.Receipt, 0, 500)
	for i := range 500 {
		rc, err := s.SendAsync(ctx, amq.NewMessage(i))
		require.NoError(t, err)
		receipts = append(receipts, rc)
	}
	for _, rc := range receipts {
		require.NoError(t, rc.Wait(ctx))
	}
	assert.Equal(t, 500, b.QueueDepth("pipelined"))
}

func TestPresettledSendsSurviveClose(t *testing.T) {
	b := amqtest.NewBroker(t)
	ctx := testCtx(t)
	c, err := amq.Dial(ctx, b.URL(), nil)
	require.NoError(t, err)
	s, err := c.NewSender(ctx, "presettled", &amq.SenderOptions{Presettled: true})
	require.NoError(t, err)
	const n = 5000
	for i := range n {
		require.NoError(t, s.Send(ctx, amq.NewMessage(i)))
	}
	// Close must not lose what Send reported as sent.
	require.NoError(t, c.Close())
	assert.Equal(t, n, b.QueueDepth("presettled"))
}

func TestLargeMessage(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	r, err := c.NewReceiver(ctx, "large", nil)
	require.NoError(t, err)
	require.NoError(t, c.Send(ctx, amq.NewMessage(body).SetTo("large")))
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, body, d.Message.Body)
}

func TestSettlement(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "settle", &amq.ReceiverOptions{ManualAccept: true, Credit: 1})
	require.NoError(t, err)
	require.NoError(t, c.Send(ctx, amq.NewMessage("m").SetTo("settle")))

	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint32(0), d.Message.DeliveryCount)
	require.NoError(t, d.Release(ctx))
	assert.ErrorIs(t, d.Accept(ctx), amq.ErrAlreadySettled)

	d, err = r.Receive(ctx)
	require.NoError(t, err, "a released message is redelivered")
	assert.Equal(t, "m", d.Message.Body)
	assert.Equal(t, uint32(0), d.Message.DeliveryCount, "release does not count as a failed attempt")
	require.NoError(t, d.Modify(ctx, nil))

	d, err = r.Receive(ctx)
	require.NoError(t, err, "a modified message is redelivered")
	assert.Equal(t, uint32(1), d.Message.DeliveryCount, "modify with delivery-failed counts the attempt")
	require.NoError(t, d.Reject(ctx, "amqp:precondition-failed", "bad"))

	require.Eventually(t, func() bool { return b.QueueDepth("settle") == 0 }, 5*time.Second, 5*time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = r.Receive(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a rejected message is not redelivered")
}

func TestAutoAccept(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	for i := range 3 {
		require.NoError(t, c.Send(ctx, amq.NewMessage(i).SetTo("auto")))
	}
	r, err := c.NewReceiver(ctx, "auto", &amq.ReceiverOptions{Credit: 1})
	require.NoError(t, err)
	// The first delivery is accepted when the second is asked for, the
	// second when the third is; the third when the receiver closes.
	n := 0
	for d := range r.Deliveries() {
		assert.Equal(t, int64(n), d.Message.Body)
		n++
		if n == 3 {
			break
		}
	}
	require.NoError(t, r.Close(ctx))

	// Nothing comes back: all three were accepted.
	r2, err := c.NewReceiver(ctx, "auto", nil)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = r2.Receive(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 0, b.QueueDepth("auto"))
}

func TestManualAcceptUnsettledComesBack(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	require.NoError(t, c.Send(ctx, amq.NewMessage("again").SetTo("manual")))
	r, err := c.NewReceiver(ctx, "manual", &amq.ReceiverOptions{ManualAccept: true})
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	require.NoError(t, r.Close(ctx))
	assert.ErrorIs(t, d.Accept(ctx), amq.ErrDeliveryLost, "a delivery of a closed link cannot be settled")

	r2, err := c.NewReceiver(ctx, "manual", &amq.ReceiverOptions{ManualAccept: true})
	require.NoError(t, err)
	d2, err := r2.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "again", d2.Message.Body)
	assert.False(t, d2.Message.FirstAcquirer)
	require.NoError(t, d2.Accept(ctx))
}

func TestTopicFanOutAndQueueCompetition(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	topic := &amq.ReceiverOptions{Capabilities: []string{"topic"}}
	t1, err := c.NewReceiver(ctx, "news", topic)
	require.NoError(t, err)
	t2, err := c.NewReceiver(ctx, "news", topic)
	require.NoError(t, err)
	s, err := c.NewSender(ctx, "news", &amq.SenderOptions{Capabilities: []string{"topic"}})
	require.NoError(t, err)
	require.NoError(t, s.Send(ctx, amq.NewMessage("extra")))
	for _, r := range []*amq.Receiver{t1, t2} {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, "extra", d.Message.Body, "every topic subscriber gets a copy")
	}

	q1, err := c.NewReceiver(ctx, "work", &amq.ReceiverOptions{Capabilities: []string{"queue"}, Credit: 1})
	require.NoError(t, err)
	q2, err := c.NewReceiver(ctx, "work", &amq.ReceiverOptions{Capabilities: []string{"queue"}, Credit: 1})
	require.NoError(t, err)
	for i := range 2 {
		require.NoError(t, c.Send(ctx, amq.NewMessage(i).SetTo("work")))
	}
	// Which consumer gets which message is the broker's choice: one that
	// takes its message first is granted credit again and may get the
	// second too. Take them from whichever has them.
	got := map[any]bool{}
	for range 2 {
		var d *amq.Delivery
		select {
		case d = <-q1.Deliveries():
		case d = <-q2.Deliveries():
		case <-ctx.Done():
			t.Fatalf("%d of 2 messages arrived", len(got))
		}
		require.NotNil(t, d, "a receiver ended")
		got[d.Message.Body] = true
	}
	assert.Len(t, got, 2, "queue consumers compete: each message goes to one of them")
}

func TestDurableSubscription(t *testing.T) {
	b := amqtest.NewBroker(t)
	ctx := testCtx(t)
	opts := &amq.ConnectOptions{ContainerID: "durable-client"}
	sub := &amq.ReceiverOptions{Name: "sub-1", Durable: true, Capabilities: []string{"topic"}}

	c := dial(t, b.URL(), opts)
	r, err := c.NewReceiver(ctx, "events", sub)
	require.NoError(t, err)
	require.NoError(t, r.Detach(ctx))

	require.NoError(t, c.Send(ctx, amq.NewMessage("while detached").SetTo("events")))

	r, err = c.NewReceiver(ctx, "events", sub)
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "while detached", d.Message.Body, "a detached durable subscription keeps its messages")
	require.NoError(t, r.Close(ctx))

	require.NoError(t, c.Send(ctx, amq.NewMessage("after close").SetTo("events")))
	r, err = c.NewReceiver(ctx, "events", sub)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = r.Receive(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Close ended the subscription")
}

func TestRequestReplyDynamicAddress(t *testing.T) {
	b := amqtest.NewBroker(t)
	ctx := testCtx(t)
	server := dial(t, b.URL(), nil)
	requests, err := server.NewReceiver(ctx, "requests", nil)
	require.NoError(t, err)
	go func() {
		for d := range requests.Deliveries() {
			reply := amq.NewMessage(strings.ToUpper(d.Message.Body.(string))).SetTo(d.Message.ReplyTo)
			reply.CorrelationID = d.Message.ID
			_ = server.Send(ctx, reply)
		}
	}()

	client := dial(t, b.URL(), nil)
	replies, err := client.NewReceiver(ctx, "", &amq.ReceiverOptions{DynamicAddress: true})
	require.NoError(t, err)
	require.NotEmpty(t, replies.Address(), "the peer assigns the reply address")

	req := amq.NewMessage("ping").SetTo("requests")
	req.ID = "req-1"
	req.ReplyTo = replies.Address()
	require.NoError(t, client.Send(ctx, req))
	d, err := replies.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "PING", d.Message.Body)
	assert.Equal(t, "req-1", d.Message.CorrelationID)
}

func TestSelector(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "colours", &amq.ReceiverOptions{Selector: "colour = 'green'"})
	require.NoError(t, err)
	for _, colour := range []string{"red", "green", "blue"} {
		m := amq.NewMessage(colour).SetTo("colours")
		m.Properties = map[string]any{"colour": colour}
		require.NoError(t, c.Send(ctx, m))
	}
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "green", d.Message.Body)

	_, err = c.NewReceiver(ctx, "colours", &amq.ReceiverOptions{Selector: "colour = = 'x'"})
	var ae *amq.Error
	require.ErrorAs(t, err, &ae, "a malformed selector is refused by the peer")
	assert.Equal(t, amq.ScopeLink, ae.Scope)
	assert.NotEmpty(t, ae.Condition)
}

func TestBrowse(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	require.NoError(t, c.Send(ctx, amq.NewMessage("keep").SetTo("browsed")))
	r, err := c.NewReceiver(ctx, "browsed", &amq.ReceiverOptions{Browse: true})
	require.NoError(t, err)
	d, err := r.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "keep", d.Message.Body)
	require.NoError(t, r.Close(ctx))
	assert.Equal(t, 1, b.QueueDepth("browsed"), "browsing does not consume")
}

func TestUseAfterClose(t *testing.T) {
	b := amqtest.NewBroker(t)
	ctx := testCtx(t)
	c, err := amq.Dial(ctx, b.URL(), nil)
	require.NoError(t, err)
	s, err := c.NewSender(ctx, "closed", nil)
	require.NoError(t, err)
	r, err := c.NewReceiver(ctx, "closed", nil)
	require.NoError(t, err)

	require.NoError(t, s.Close(ctx))
	assert.ErrorIs(t, s.Send(ctx, amq.NewMessage("x")), amq.ErrClosed)

	require.NoError(t, r.Close(ctx))
	_, err = r.Receive(ctx)
	assert.ErrorIs(t, err, amq.ErrClosed)
	_, open := <-r.Deliveries()
	assert.False(t, open, "Deliveries is closed after Close")
	assert.ErrorIs(t, r.Err(), amq.ErrClosed)

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")
	_, err = c.NewSender(ctx, "closed", nil)
	assert.ErrorIs(t, err, amq.ErrClosed)
	assert.ErrorIs(t, c.Send(ctx, amq.NewMessage("x").SetTo("closed")), amq.ErrClosed)
}

func TestDialErrors(t *testing.T) {
	// A port with nothing listening: bind one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "amqp://" + l.Addr().String()
	l.Close()

	b := amqtest.NewBroker(t)
	tlsToPlain := strings.Replace(b.URL(), "amqp://", "amqps://", 1)
	withUsers := amqtest.NewBroker(t, amqtest.WithUser("u", "p"))

	tests := []struct {
		name, url string
		opts      *amq.ConnectOptions
		want      string
	}{
		{"unknown scheme", "http://127.0.0.1", nil, "unsupported scheme"},
		{"malformed", "amqp://127.0.0.1:99999", nil, "invalid port"},
		{"refused", refused, nil, "refused"},
		{"unresolvable host", "amqp://no_such..host:5672", nil, "dial"},
		{"TLS to a plain port", tlsToPlain, &amq.ConnectOptions{TLS: amq.TLSOptions{Verify: ptr(false)}}, "TLS"},
		{"frame size too small", b.URL(), &amq.ConnectOptions{MaxFrameSize: 100}, "MaxFrameSize"},
		{"unknown mechanism", b.URL(), &amq.ConnectOptions{SASL: amq.SASLOptions{Mechanisms: []string{"MD5"}}}, "unsupported mechanism"},
		{"cleartext refused", withUsers.URL(), &amq.ConnectOptions{User: "u", Password: "p", SASL: amq.SASLOptions{Mechanisms: []string{"PLAIN"}, AllowInsecure: ptr(false)}}, "amqps"},
		{"no common mechanism", b.URL(), &amq.ConnectOptions{SASL: amq.SASLOptions{Mechanisms: []string{"SCRAM-SHA-256"}}}, "offers [ANONYMOUS]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			_, err := amq.Dial(ctx, tt.url, tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NoError(t, ctx.Err(), "the error came before the deadline (after %v)", time.Since(start))
		})
	}
}

func TestDialRespectsContextWithSilentPeer(t *testing.T) {
	// A peer that accepts TCP and never answers must not hang Dial.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = amq.Dial(ctx, "amqp://"+l.Addr().String(), nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

func ptr[T any](v T) *T { return &v }

// TestManyClosesReturn closes many links in a row: Close must always
// return, whichever of the peer's answer and the written detach it sees
// first.
func TestManyClosesReturn(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		for i := range 200 {
			s, err := c.NewSender(ctx, "closing", nil)
			if err != nil {
				done <- err
				return
			}
			if err := s.Close(ctx); err != nil {
				done <- fmt.Errorf("sender %d: %w", i, err)
				return
			}
			r, err := c.NewReceiver(ctx, "closing", nil)
			if err != nil {
				done <- err
				return
			}
			if err := r.Close(ctx); err != nil {
				done <- fmt.Errorf("receiver %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("a Close never returned")
	}
}

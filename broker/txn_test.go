package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// Transactions (AMQP 1.0 chapter 4) against the broker, driven by the
// engine's client role: the frames a transactional client sends, with
// nothing of a client library's bookkeeping in between.

var txConnIDs atomic.Uint64

// txPeer is one client connection with a session and a link to the
// coordinator.
type txPeer struct {
	t   *testing.T
	nc  net.Conn
	c   *engine.Conn
	s   *engine.Session
	ctl *engine.Sender
	n   int // link names
}

func dialTx(t *testing.T, b *broker.Broker) *txPeer {
	t.Helper()
	p := dialEngine(t, b)
	ctl, err := p.s.AttachSender(ctxT(t), &engine.AttachOptions{
		Name:        "coordinator",
		Source:      &codec.Source{},
		Coordinator: &codec.Coordinator{Capabilities: []codec.Symbol{codec.CapLocalTransactions}},
	})
	if err != nil {
		t.Fatalf("attach to the coordinator: %v", err)
	}
	if engine.LinkCoordinator(ctl.Link()) == nil {
		t.Fatal("the coordinator's attach has no coordinator terminus")
	}
	p.ctl = ctl
	return p
}

func dialEngine(t *testing.T, b *broker.Broker) *txPeer {
	t.Helper()
	nc, err := net.Dial("tcp", b.Server().Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &engine.Config{
		ContainerID:  "txn-client",
		MaxFrameSize: 64 * 1024,
		ChannelMax:   255,
		IdleTimeout:  time.Minute,
		Handler: server.HandlerFuncs{AttachFunc: func(context.Context, *server.Link) error {
			return &codec.Error{Condition: codec.ErrCondNotAllowed}
		}},
		Logger: slog.New(slog.DiscardHandler),
	}
	c, err := engine.Dial(ctxT(t), nc, txConnIDs.Add(1), cfg, engine.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.CloseWait(context.Background(), c, nil) })
	s, err := engine.NewSession(ctxT(t), c)
	if err != nil {
		t.Fatal(err)
	}
	return &txPeer{t: t, nc: nc, c: c, s: s}
}

func (p *txPeer) name() string {
	p.n++
	return fmt.Sprint("link-", p.n)
}

// request sends body to the coordinator and returns the outcome.
func (p *txPeer) request(body codec.Described) codec.DeliveryState {
	p.t.Helper()
	d, err := p.ctl.Send(ctxT(p.t), &codec.Message{Value: body, HasValue: true}, false)
	if err != nil {
		p.t.Fatalf("send to the coordinator: %v", err)
	}
	st, err := d.Wait(ctxT(p.t))
	if err != nil {
		p.t.Fatalf("coordinator outcome: %v", err)
	}
	return st
}

func (p *txPeer) declare() []byte {
	p.t.Helper()
	st := p.request(codec.DeclareBody())
	d, ok := st.(*codec.Declared)
	if !ok {
		p.t.Fatalf("declare: outcome %#v, want declared", st)
	}
	return d.TxnID
}

// discharge commits (or, fail, rolls back) id and returns the outcome.
func (p *txPeer) discharge(id []byte, fail bool) codec.DeliveryState {
	p.t.Helper()
	return p.request(codec.DischargeBody(id, fail))
}

func (p *txPeer) commit(id []byte) {
	p.t.Helper()
	if st := p.discharge(id, false); !isAccepted(st) {
		p.t.Fatalf("commit: outcome %s, want accepted", stateString(st))
	}
}

func (p *txPeer) sender(addr string) *engine.Sender {
	p.t.Helper()
	snd, err := p.s.AttachSender(ctxT(p.t), &engine.AttachOptions{Name: p.name(), Source: &codec.Source{}, Target: &codec.Target{Address: addr}})
	if err != nil {
		p.t.Fatal(err)
	}
	return snd
}

func (p *txPeer) receiver(addr string, caps ...codec.Symbol) *engine.Receiver {
	p.t.Helper()
	r, err := p.s.AttachReceiver(ctxT(p.t), &engine.AttachOptions{
		Name: p.name(), Source: &codec.Source{Address: addr, Capabilities: caps}, Target: &codec.Target{}, CreditWindow: 100,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

func textPayload(t *testing.T, body string, to string) []byte {
	t.Helper()
	m := &codec.Message{Value: body, HasValue: true}
	if to != "" {
		m.Properties = &codec.Properties{To: &to}
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sendIn sends body in transaction id (nil: outside any) and returns the
// delivery, without waiting for its outcome.
func sendIn(t *testing.T, snd *engine.Sender, id []byte, body string) *engine.OutgoingDelivery {
	t.Helper()
	return sendTo(t, snd, id, body, "")
}

func sendTo(t *testing.T, snd *engine.Sender, id []byte, body, to string) *engine.OutgoingDelivery {
	t.Helper()
	var (
		d   *engine.OutgoingDelivery
		err error
	)
	if id == nil {
		d, err = snd.SendRaw(ctxT(t), textPayload(t, body, to), false)
	} else {
		d, err = engine.SendWithState(ctxT(t), snd, textPayload(t, body, to), &codec.TransactionalState{TxnID: id})
	}
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	return d
}

func outcome(t *testing.T, d *engine.OutgoingDelivery) codec.DeliveryState {
	t.Helper()
	st, err := d.Wait(ctxT(t))
	if err != nil {
		t.Fatalf("outcome: %v", err)
	}
	return st
}

// mustTxnAccepted checks the outcome of a send in transaction id.
func mustTxnAccepted(t *testing.T, d *engine.OutgoingDelivery, id []byte) {
	t.Helper()
	st := outcome(t, d)
	ts, ok := st.(*codec.TransactionalState)
	if !ok || !bytes.Equal(ts.TxnID, id) || !isAccepted(ts.Outcome) {
		t.Fatalf("outcome %s, want transactional-state(%x, accepted)", stateString(st), id)
	}
}

// receive returns the body and delivery-count of the next message.
func receive(t *testing.T, r *engine.Receiver) (*engine.IncomingDelivery, string, uint32) {
	t.Helper()
	d, err := r.Receive(ctxT(t))
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	m, err := d.Message()
	if err != nil {
		t.Fatal(err)
	}
	var count uint32
	if m.Header != nil {
		count = m.Header.DeliveryCount
	}
	body, _ := m.Value.(string)
	return d, body, count
}

// receiveSeq receives and accepts messages until want, in order, has come.
func receiveSeq(t *testing.T, r *engine.Receiver, want ...string) {
	t.Helper()
	for _, w := range want {
		d, body, _ := receive(t, r)
		if body != w {
			t.Fatalf("received %q, want %q (of %q)", body, w, want)
		}
		if err := d.Accept(); err != nil {
			t.Fatal(err)
		}
	}
}

func isAccepted(st codec.DeliveryState) bool {
	_, ok := st.(*codec.Accepted)
	return ok
}

// mustRejected checks that st is rejected with cond, and returns its
// description.
func mustRejected(t *testing.T, st codec.DeliveryState, cond codec.Symbol) string {
	t.Helper()
	r, ok := st.(*codec.Rejected)
	if !ok || r.Error == nil || r.Error.Condition != cond {
		t.Fatalf("outcome %s, want rejected %s", stateString(st), cond)
	}
	return r.Error.Description
}

func stateString(st codec.DeliveryState) string {
	switch s := st.(type) {
	case *codec.Rejected:
		if s.Error != nil {
			return fmt.Sprintf("rejected(%s: %s)", s.Error.Condition, s.Error.Description)
		}
	case *codec.TransactionalState:
		return fmt.Sprintf("transactional-state(%x, %s)", s.TxnID, stateString(s.Outcome))
	}
	return fmt.Sprintf("%T", st)
}

func TestTxnSendsInvisibleUntilCommit(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	r := p.receiver("q")
	snd := p.sender("q")

	id := p.declare()
	if len(id) != 8 {
		t.Fatalf("txn-id %x: want 8 bytes", id)
	}
	if id2 := p.declare(); bytes.Equal(id, id2) {
		t.Fatalf("two declares gave the same txn-id %x", id)
	}
	for i := range 3 {
		mustTxnAccepted(t, sendIn(t, snd, id, fmt.Sprint("tx-", i)), id)
	}
	if d := b.QueueDepth("q"); d != 0 {
		t.Fatalf("depth %d before commit, want 0", d)
	}
	// A plain message sent after them is the first the consumer sees: the
	// transaction's are in no queue yet.
	if st := outcome(t, sendIn(t, snd, nil, "plain")); !isAccepted(st) {
		t.Fatalf("plain send: %s", stateString(st))
	}
	receiveSeq(t, r, "plain")

	p.commit(id)
	receiveSeq(t, r, "tx-0", "tx-1", "tx-2")
}

func TestTxnRollbackDropsSends(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	snd := p.sender("q")
	id := p.declare()
	for i := range 2 {
		mustTxnAccepted(t, sendIn(t, snd, id, fmt.Sprint("tx-", i)), id)
	}
	if st := p.discharge(id, true); !isAccepted(st) {
		t.Fatalf("rollback: %s", stateString(st))
	}
	if d := b.QueueDepth("q"); d != 0 {
		t.Fatalf("depth %d after rollback, want 0", d)
	}
	// Discharged is gone: a second discharge does not know it.
	mustRejected(t, p.discharge(id, false), codec.ErrCondTransactionUnknownID)
	_ = outcome(t, sendIn(t, snd, nil, "plain"))
	receiveSeq(t, p.receiver("q"), "plain")
}

// A commit without waiting for the sends' outcomes (they arrive on
// another link than the discharge) still holds all of them.
func TestTxnCommitRightAfterSends(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	r := p.receiver("q")
	snd := p.sender("q")
	for round := range 20 {
		id := p.declare()
		var ds []*engine.OutgoingDelivery
		var want []string
		for i := range 5 {
			body := fmt.Sprint(round, "-", i)
			ds = append(ds, sendIn(t, snd, id, body))
			want = append(want, body)
		}
		p.commit(id)
		for _, d := range ds {
			mustTxnAccepted(t, d, id)
		}
		receiveSeq(t, r, want...)
	}
}

func TestTxnAnonymousRelayAndTopic(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	sub := p.receiver("news", "topic")
	q := p.receiver("q")
	relay, err := p.s.AttachSender(ctxT(t), &engine.AttachOptions{Name: "relay", Source: &codec.Source{}, Target: &codec.Target{}})
	if err != nil {
		t.Fatal(err)
	}
	id := p.declare()
	mustTxnAccepted(t, sendTo(t, relay, id, "a", "q"), id)
	mustTxnAccepted(t, sendTo(t, relay, id, "b", "news"), id)
	// No "to": refused, and the transaction can no longer commit.
	st := outcome(t, sendTo(t, relay, id, "c", ""))
	ts, ok := st.(*codec.TransactionalState)
	if !ok {
		t.Fatalf("outcome %s, want transactional-state(rejected)", stateString(st))
	}
	mustRejected(t, ts.Outcome, codec.ErrCondInvalidField)
	mustRejected(t, p.discharge(id, false), codec.ErrCondTransactionRollback)
	if d := b.QueueDepth("q") + b.QueueDepth("news"); d != 0 {
		t.Fatalf("depth %d after a failed commit", d)
	}

	id = p.declare()
	mustTxnAccepted(t, sendTo(t, relay, id, "a", "q"), id)
	mustTxnAccepted(t, sendTo(t, relay, id, "b", "news"), id)
	p.commit(id)
	receiveSeq(t, q, "a")
	receiveSeq(t, sub, "b")
}

func TestTxnAcceptAppliesAtCommit(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	snd := p.sender("q")
	for i := range 2 {
		_ = outcome(t, sendIn(t, snd, nil, fmt.Sprint("m", i)))
	}
	r := p.receiver("q")
	id := p.declare()
	for range 2 {
		d, _, _ := receive(t, r)
		if err := d.Settle(&codec.TransactionalState{TxnID: id, Outcome: &codec.Accepted{}}); err != nil {
			t.Fatal(err)
		}
	}
	// The consumer goes away before the discharge: the messages stay with
	// the transaction, not redelivered to others.
	if err := engine.CloseLink(ctxT(t), r.Link(), true, nil); err != nil {
		t.Fatal(err)
	}
	if d := b.QueueDepth("q"); d != 0 {
		t.Fatalf("depth %d with the accepts pending in the transaction, want 0", d)
	}
	p.commit(id)
	_ = outcome(t, sendIn(t, snd, nil, "after"))
	receiveSeq(t, p.receiver("q"), "after")
	if d := b.QueueDepth("q"); d != 0 {
		t.Fatalf("depth %d", d)
	}
}

// Accepts settled just before the discharge (a disposition, then the
// discharge on another link, with nothing in between to wait for) are in
// the commit.
func TestTxnCommitRightAfterAccepts(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	snd := p.sender("q")
	r := p.receiver("q")
	for round := range 20 {
		for i := range 3 {
			_ = outcome(t, sendIn(t, snd, nil, fmt.Sprint(round, "-", i)))
		}
		id := p.declare()
		for range 3 {
			d, _, count := receive(t, r)
			if count != 0 {
				t.Fatalf("round %d: a redelivery (count %d): an accept was lost", round, count)
			}
			if err := d.Settle(&codec.TransactionalState{TxnID: id, Outcome: &codec.Accepted{}}); err != nil {
				t.Fatal(err)
			}
		}
		p.commit(id)
	}
	_ = outcome(t, sendIn(t, snd, nil, "last"))
	receiveSeq(t, r, "last")
}

func TestTxnRollbackRedeliversAccepted(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	snd := p.sender("q")
	_ = outcome(t, sendIn(t, snd, nil, "m"))
	r := p.receiver("q")
	id := p.declare()
	d, body, count := receive(t, r)
	if body != "m" || count != 0 {
		t.Fatalf("got %q count %d", body, count)
	}
	if err := d.Settle(&codec.TransactionalState{TxnID: id, Outcome: &codec.Accepted{}}); err != nil {
		t.Fatal(err)
	}
	if st := p.discharge(id, true); !isAccepted(st) {
		t.Fatalf("rollback: %s", stateString(st))
	}
	d, body, count = receive(t, r)
	if body != "m" || count != 1 {
		t.Fatalf("after rollback got %q count %d, want \"m\" count 1", body, count)
	}
	// Released in a transaction: back at commit, not counted as a failure.
	id = p.declare()
	if err := d.Settle(&codec.TransactionalState{TxnID: id, Outcome: &codec.Released{}}); err != nil {
		t.Fatal(err)
	}
	p.commit(id)
	if _, body, count = receive(t, r); body != "m" || count != 1 {
		t.Fatalf("after a committed release got %q count %d, want \"m\" count 1", body, count)
	}
}

func TestTxnUnknownID(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	bogus := []byte{0xde, 0xad}
	mustRejected(t, p.discharge(bogus, false), codec.ErrCondTransactionUnknownID)
	mustRejected(t, p.discharge(bogus, true), codec.ErrCondTransactionUnknownID)
	snd := p.sender("q")
	mustRejected(t, outcome(t, sendIn(t, snd, bogus, "x")), codec.ErrCondTransactionUnknownID)

	// Another connection's transaction is unknown here.
	other := dialTx(t, b)
	theirs := other.declare()
	mustRejected(t, outcome(t, sendIn(t, snd, theirs, "x")), codec.ErrCondTransactionUnknownID)
	mustRejected(t, p.discharge(theirs, false), codec.ErrCondTransactionUnknownID)
	other.commit(theirs) // still open on its own connection
	if d := b.QueueDepth("q"); d != 0 {
		t.Fatalf("depth %d", d)
	}

	// An accept in an unknown transaction counts as one rolled back: the
	// message comes back, its delivery-count raised.
	_ = outcome(t, sendIn(t, snd, nil, "m"))
	r := p.receiver("q")
	d, _, _ := receive(t, r)
	if err := d.Settle(&codec.TransactionalState{TxnID: bogus, Outcome: &codec.Accepted{}}); err != nil {
		t.Fatal(err)
	}
	if _, body, count := receive(t, r); body != "m" || count != 1 {
		t.Fatalf("got %q count %d, want \"m\" count 1", body, count)
	}
}

func TestTxnBadCoordinatorMessages(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	desc := mustRejected(t, p.request(codec.Described{Descriptor: uint64(0x99), Value: codec.List{}}), codec.ErrCondDecodeError)
	if desc == "" {
		t.Fatal("decode-error without a description")
	}
	d, err := p.ctl.SendRaw(ctxT(t), []byte{0x00, 0x53}, false)
	if err != nil {
		t.Fatal(err)
	}
	mustRejected(t, outcome(t, d), codec.ErrCondDecodeError)
	mustRejected(t, p.request(codec.Described{Descriptor: codec.DescDeclare, Value: codec.List{"global"}}), codec.ErrCondNotImplemented)
	// The link lives on.
	p.commit(p.declare())

	// A coordinator link that would pre-settle everything is refused.
	mode := codec.SenderSettleModeSettled
	_, err = p.s.AttachSender(ctxT(t), &engine.AttachOptions{
		Name: "presettled-coordinator", Source: &codec.Source{}, SndSettleMode: &mode,
		Coordinator: &codec.Coordinator{},
	})
	var ce *codec.Error
	if !errors.Is(err, engine.ErrRefused) || !errors.As(err, &ce) || ce.Condition != codec.ErrCondInvalidField {
		t.Fatalf("pre-settled coordinator attach: %v, want refused with amqp:invalid-field", err)
	}
	_, err = p.s.AttachSender(ctxT(t), &engine.AttachOptions{
		Name: "distributed", Source: &codec.Source{},
		Coordinator: &codec.Coordinator{Capabilities: []codec.Symbol{"amqp:distributed-transactions"}},
	})
	if !errors.Is(err, engine.ErrRefused) || !errors.As(err, &ce) || ce.Condition != codec.ErrCondNotImplemented {
		t.Fatalf("distributed coordinator attach: %v, want refused with amqp:not-implemented", err)
	}
}

// The connection drops with a transaction open: none of it is applied,
// and the messages accepted in it are redelivered.
func TestTxnConnectionLostRollsBack(t *testing.T) {
	b := listen(t, nil)
	feeder := dialEngine(t, b)
	_ = outcome(t, sendIn(t, feeder.sender("q"), nil, "m"))

	p := dialTx(t, b)
	snd := p.sender("q")
	r := p.receiver("q")
	id := p.declare()
	for i := range 2 {
		mustTxnAccepted(t, sendIn(t, snd, id, fmt.Sprint("tx-", i)), id)
	}
	d, _, _ := receive(t, r)
	if err := d.Settle(&codec.TransactionalState{TxnID: id, Outcome: &codec.Accepted{}}); err != nil {
		t.Fatal(err)
	}
	// A discharge (of another transaction) waits until the broker has
	// taken that accept into the transaction.
	if st := p.discharge(p.declare(), true); !isAccepted(st) {
		t.Fatalf("rollback: %s", stateString(st))
	}
	p.nc.Close() // no close frame: the connection is lost

	r2 := feeder.receiver("q")
	d, body, count := receive(t, r2)
	if body != "m" || count != 1 {
		t.Fatalf("got %q count %d, want \"m\" redelivered with count 1", body, count)
	}
	_ = d.Accept()
	_ = outcome(t, sendIn(t, feeder.sender("q"), nil, "after"))
	receiveSeq(t, r2, "after") // not tx-0: the sends were dropped
}

// Detaching the coordinator link rolls back what was declared on it.
func TestTxnCoordinatorDetachRollsBack(t *testing.T) {
	b := listen(t, nil)
	p := dialTx(t, b)
	snd := p.sender("q")
	_ = outcome(t, sendIn(t, snd, nil, "m"))
	r := p.receiver("q")
	id := p.declare()
	mustTxnAccepted(t, sendIn(t, snd, id, "tx"), id)
	d, _, _ := receive(t, r)
	if err := d.Settle(&codec.TransactionalState{TxnID: id, Outcome: &codec.Accepted{}}); err != nil {
		t.Fatal(err)
	}
	if st := p.discharge(p.declare(), true); !isAccepted(st) { // the accept has landed
		t.Fatalf("rollback: %s", stateString(st))
	}
	if err := engine.CloseLink(ctxT(t), p.ctl.Link(), true, nil); err != nil {
		t.Fatal(err)
	}
	// Gone with its link: work in it is refused now, the accepted message
	// is back, and the sent one never arrives.
	mustRejected(t, outcome(t, sendIn(t, snd, id, "late")), codec.ErrCondTransactionUnknownID)
	if _, body, count := receive(t, r); body != "m" || count != 1 {
		t.Fatalf("got %q count %d, want \"m\" redelivered with count 1", body, count)
	}
	if d := b.QueueDepth("q"); d != 0 {
		t.Fatalf("depth %d", d)
	}
}

func TestTxnBounds(t *testing.T) {
	b := listen(t, &broker.Options{MaxTransactions: 2, MaxQueueMessages: 3})
	p := dialTx(t, b)
	id1, id2 := p.declare(), p.declare()
	mustRejected(t, p.request(codec.DeclareBody()), codec.ErrCondResourceLimitExceeded)
	// Another connection has its own count.
	dialTx(t, b).declare()
	if st := p.discharge(id2, true); !isAccepted(st) {
		t.Fatalf("rollback: %s", stateString(st))
	}
	if st := p.discharge(p.declare(), true); !isAccepted(st) { // a place came free
		t.Fatalf("rollback: %s", stateString(st))
	}

	// A transaction holds at most MaxQueueMessages messages; one more is
	// refused and the transaction can only roll back.
	snd := p.sender("q")
	for i := range 3 {
		mustTxnAccepted(t, sendIn(t, snd, id1, fmt.Sprint(i)), id1)
	}
	st := outcome(t, sendIn(t, snd, id1, "one too many"))
	ts, ok := st.(*codec.TransactionalState)
	if !ok {
		t.Fatalf("outcome %s, want transactional-state(rejected)", stateString(st))
	}
	mustRejected(t, ts.Outcome, codec.ErrCondResourceLimitExceeded)
	mustRejected(t, p.discharge(id1, false), codec.ErrCondTransactionRollback)
	if d := b.QueueDepth("q"); d != 0 {
		t.Fatalf("depth %d after a refused commit", d)
	}

	// A commit the node has no room for is rolled back whole.
	_ = outcome(t, sendIn(t, snd, nil, "plain"))
	id := p.declare()
	for i := range 3 {
		mustTxnAccepted(t, sendIn(t, snd, id, fmt.Sprint(i)), id)
	}
	desc := mustRejected(t, p.discharge(id, false), codec.ErrCondTransactionRollback)
	if d := b.QueueDepth("q"); d != 1 {
		t.Fatalf("depth %d after a commit without room, want 1 (%s)", d, desc)
	}
	// Room made by accepts in the same transaction counts.
	r := p.receiver("q")
	id = p.declare()
	d, _, _ := receive(t, r)
	if err := d.Settle(&codec.TransactionalState{TxnID: id, Outcome: &codec.Accepted{}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustTxnAccepted(t, sendIn(t, snd, id, fmt.Sprint("new-", i)), id)
	}
	p.commit(id)
	receiveSeq(t, r, "new-0", "new-1", "new-2")
}

package broker

import (
	"context"
	"fmt"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// The transaction coordinator (AMQP 1.0 §4.2): a peer's sending link whose
// attach names a coordinator instead of a target. Each message on it is a
// declare or a discharge, answered by the delivery's outcome.

// Coordinator capabilities the broker does not have (§4.5.7): its
// transactions are local to a connection.
const (
	capDistributedTransactions codec.Symbol = "amqp:distributed-transactions"
	capPromotableTransactions  codec.Symbol = "amqp:promotable-transactions"
)

// coordLink is the broker side of a link to the coordinator.
type coordLink struct {
	conn *server.Conn
	// txns are the open transactions declared on this link: its end
	// rolls them back (§4.2). Guarded by Broker.txMu.
	txns map[string]*txn
}

func (b *Broker) attachCoordinator(ctx context.Context, l *server.Link) error {
	for _, c := range engine.LinkCoordinator(l).Capabilities {
		if c == capDistributedTransactions || c == capPromotableTransactions {
			return &codec.Error{Condition: codec.ErrCondNotImplemented,
				Description: fmt.Sprintf("%s are not supported: the broker's transactions are %s", c, codec.CapLocalTransactions)}
		}
	}
	if l.SenderSettleMode() == server.SenderSettleSettled {
		// Each declare and discharge is answered by its outcome; a
		// pre-settled one has none (a mixed-mode link's pre-settled
		// messages are ignored, see serveCoordinator).
		return &codec.Error{Condition: codec.ErrCondInvalidField,
			Description: "a coordinator link must not be pre-settled: declare and discharge are answered by their outcome"}
	}
	b.holdLink(ctx, l, &coordLink{conn: l.Conn(), txns: make(map[string]*txn)})
	return nil
}

// serveCoordinator answers declares and discharges in their order. When
// the link ends (or its connection), the transactions declared on it and
// still open are rolled back.
func (b *Broker) serveCoordinator(ctx context.Context, r *server.Receiver, co *coordLink) {
	b.joinConn(co.conn, nil, nil)
	defer b.leaveConn(co.conn, nil, nil)
	defer b.endCoordinator(co)
	for ctx.Err() == nil {
		d, err := r.Receive(ctx)
		if err != nil {
			return
		}
		if d.Settled() {
			// A declare whose id the controller never learns would only
			// take a place; a discharge whose result it never learns
			// leaves it in doubt. Neither is acted on.
			b.log.Debug("pre-settled message to the transaction coordinator ignored", "link", r.Link().Name())
			continue
		}
		if state := b.coordinate(ctx, co, d); state != nil {
			_ = d.Settle(state)
		}
	}
}

// coordinate carries out one request to the coordinator and returns the
// delivery's outcome, or nil when the link or the connection went away
// meanwhile (the discharge then rolled nothing forward).
func (b *Broker) coordinate(ctx context.Context, co *coordLink, d *server.IncomingDelivery) codec.DeliveryState {
	m, err := d.Message()
	if err != nil {
		return rejected(codec.ErrCondDecodeError, "coordinator message: "+err.Error())
	}
	req, err := codec.ParseCoordinatorRequest(m)
	if err != nil {
		return rejected(codec.ErrCondDecodeError, err.Error())
	}
	if req.Declare {
		if req.GlobalID != nil {
			return rejected(codec.ErrCondNotImplemented, "global transactions are not supported: declare without a global-id")
		}
		t, err := b.declare(co)
		if err != nil {
			return &codec.Rejected{Error: toAMQPError(err)}
		}
		b.log.Debug("transaction declared", "txn", fmt.Sprintf("%x", t.id))
		return &codec.Declared{TxnID: t.id}
	}
	return b.discharge(ctx, co, req.TxnID, req.Fail)
}

// discharge commits or (fail) rolls back the transaction id.
func (b *Broker) discharge(ctx context.Context, co *coordLink, id []byte, fail bool) codec.DeliveryState {
	if b.lookupTxn(id, co.conn) == nil {
		return unknownTxn(id)
	}
	// The peer sent the transaction's work before this discharge, but on
	// other links, whose goroutines may not have taken all of it in yet.
	if err := b.landWork(ctx, co.conn); err != nil {
		return nil // the link is gone; its end rolls back what it declared
	}
	t := b.takeTxn(id, co.conn)
	if t == nil {
		return unknownTxn(id) // discharged meanwhile on another link
	}
	sends, acks, failed := t.end()
	switch {
	case fail:
		rollback(acks)
		b.log.Debug("transaction rolled back", "txn", fmt.Sprintf("%x", id))
		return &codec.Accepted{}
	case ctx.Err() != nil:
		// Nobody would learn the outcome: nothing is applied.
		rollback(acks)
		return nil
	case failed != nil:
		rollback(acks)
		return rejected(codec.ErrCondTransactionRollback,
			"transaction rolled back: some of its work was refused: "+toAMQPError(failed).Description)
	}
	if err := commit(sends, acks); err != nil {
		rollback(acks)
		return rejected(codec.ErrCondTransactionRollback, "transaction rolled back: "+err.Error())
	}
	b.log.Debug("transaction committed", "txn", fmt.Sprintf("%x", id), "sends", len(sends), "acks", len(acks))
	return &codec.Accepted{}
}

// endCoordinator rolls back the transactions still open on co.
func (b *Broker) endCoordinator(co *coordLink) {
	b.txMu.Lock()
	open := make([]*txn, 0, len(co.txns))
	for _, t := range co.txns {
		open = append(open, t)
		b.forgetTxnLocked(t)
	}
	b.txMu.Unlock()
	for _, t := range open {
		_, acks, _ := t.end()
		rollback(acks)
	}
	if len(open) > 0 {
		b.log.Debug("coordinator link ended: open transactions rolled back", "count", len(open))
	}
}

func rejected(cond codec.Symbol, desc string) *codec.Rejected {
	return &codec.Rejected{Error: &codec.Error{Condition: cond, Description: desc}}
}

func unknownTxn(id []byte) *codec.Rejected {
	return rejected(codec.ErrCondTransactionUnknownID, fmt.Sprintf("no open transaction %x on this connection", id))
}

// connLinks are the serving links of one connection that may carry
// transactional work, which a discharge waits for, and the count of its
// open transactions.
type connLinks struct {
	refs int // serving links, coordinators included
	open int // transactions declared and not discharged
	ins  map[*inLink]struct{}
	sts  map[*settler]struct{}
}

// joinConn registers a serving link of conn: an incoming link (in), an
// outgoing one (st, its settler) or a coordinator (neither).
func (b *Broker) joinConn(conn *server.Conn, in *inLink, st *settler) {
	b.txMu.Lock()
	defer b.txMu.Unlock()
	cl := b.conns[conn]
	if cl == nil {
		cl = &connLinks{ins: make(map[*inLink]struct{}), sts: make(map[*settler]struct{})}
		b.conns[conn] = cl
	}
	cl.refs++
	if in != nil {
		cl.ins[in] = struct{}{}
	}
	if st != nil {
		cl.sts[st] = struct{}{}
	}
}

// leaveConn undoes joinConn once the link has stopped serving.
func (b *Broker) leaveConn(conn *server.Conn, in *inLink, st *settler) {
	b.txMu.Lock()
	defer b.txMu.Unlock()
	cl := b.conns[conn]
	if cl == nil {
		return
	}
	cl.refs--
	delete(cl.ins, in)
	delete(cl.sts, st)
	if cl.refs <= 0 && cl.open <= 0 {
		delete(b.conns, conn)
	}
}

// landWork returns once every link of conn has applied the work that
// arrived before the call: each incoming link has stored the transfers the
// engine had queued for it, each settler has taken the outcomes the peer
// had sent. The engine reads a connection's frames in order, so that is
// all the work the peer sent before a discharge. It returns ctx's error if
// ctx ends first.
func (b *Broker) landWork(ctx context.Context, conn *server.Conn) error {
	b.txMu.RLock()
	var (
		ins []*inLink
		sts []*settler
	)
	if cl := b.conns[conn]; cl != nil {
		for in := range cl.ins {
			ins = append(ins, in)
		}
		for st := range cl.sts {
			sts = append(sts, st)
		}
	}
	b.txMu.RUnlock()
	for _, in := range ins {
		if err := in.flush(ctx); err != nil {
			return err
		}
	}
	for _, st := range sts {
		if err := st.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// flush returns once the link's goroutine has stored every delivery the
// engine had queued for it at the call (its queue was seen empty since),
// or the link has ended, or ctx has.
func (in *inLink) flush(ctx context.Context) error {
	w := make(chan struct{})
	in.mu.Lock()
	if in.ended {
		in.mu.Unlock()
		return nil
	}
	in.waiters = append(in.waiters, w)
	in.mu.Unlock()
	select {
	case in.kick <- struct{}{}:
	default: // a kick is pending: it will serve this waiter too
	}
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain serves the waiting flushes: next stores the next queued delivery
// and reports false once the queue is empty.
func (in *inLink) drain(next func() bool) {
	in.mu.Lock()
	ws := in.waiters
	in.waiters = nil
	in.mu.Unlock()
	for next() {
	}
	for _, w := range ws {
		close(w)
	}
}

// end releases the flushes waiting on a link that stopped serving.
func (in *inLink) end() {
	in.mu.Lock()
	ws := in.waiters
	in.waiters, in.ended = nil, true
	in.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// flush returns once the settler has taken every outcome the peer had
// sent at the call, or has stopped, or ctx has ended. The sender counts
// the deliveries the peer settled; the settler takes each of them once,
// but maybe only after the pump has added it (the peer may settle a
// delivery before SendRaw returns): so it is done once it has taken as
// many as were settled at the call. (Not waiting for the pump itself
// matters: its SendRaw may wait for credit for as long as the peer
// likes.) The count can be reached early in one case: the delivery being
// added was settled before the discharge, and an older one just after
// it; that settlement then finds its transaction discharged, and the
// message is redelivered, as after a rollback, rather than lost.
func (st *settler) flush(ctx context.Context) error {
	f := flushWait{target: st.s.SettledCount(), done: make(chan struct{})}
	select {
	case st.flushes <- f:
	case <-st.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-f.done:
		return nil
	case <-st.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

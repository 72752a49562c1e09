package amq

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// Transaction errors, for use with errors.Is.
var (
	// ErrTxDone is returned by any use of a Tx after Commit or Rollback.
	ErrTxDone = errors.New("amq: transaction already committed or rolled back")
	// ErrTransactionLost means the connection the transaction lived on
	// ended before it was discharged: the peer rolls it back, so nothing
	// of it was applied. Retryable reports true: run the whole
	// transaction again on the new connection.
	ErrTransactionLost = errors.New("amq: transaction lost with its connection; nothing of it was applied")
	// ErrTransactionOutcomeUnknown means a commit was sent but its answer
	// never came (the connection ended, or the context did, while it was
	// in flight): the peer may have applied the transaction or not.
	// Retryable reports false; find out, for instance from the messages
	// the transaction sent, before doing it again.
	ErrTransactionOutcomeUnknown = errors.New("amq: the outcome of the commit is unknown: it may or may not have been applied")
	// ErrNoCoordinator means the peer has no transaction coordinator
	// (RabbitMQ, for one): Begin fails with it.
	ErrNoCoordinator = errors.New("amq: the peer does not support transactions")
)

// TransactionError is the peer coordinator's refusal of a declare or a
// discharge, with its condition: amqp:transaction:rollback (the
// transaction could not commit and was rolled back),
// amqp:transaction:unknown-id or amqp:transaction:timeout, or another. In
// all of these nothing of the transaction was applied, and Retryable
// reports true.
type TransactionError struct {
	// Op is "declare", "commit" or "rollback".
	Op          string
	Condition   string
	Description string
}

func (e *TransactionError) Error() string {
	s := "amq: transaction " + e.Op + ": " + e.Condition
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Tx is a local transaction (AMQP 1.0 chapter 4) on a Client's
// connection: the messages sent in it (Send) and the deliveries settled in
// it (Accept, Reject, Release, Modify) take effect together at Commit, or
// not at all at Rollback. A peer holds the messages sent in a transaction
// back from consumers until the commit.
//
// A transaction lives on one connection: if that connection ends before
// the commit, the peer rolls the transaction back and every later use of
// the Tx returns an error wrapping ErrTransactionLost; run the transaction
// again, on the new connection. Messages sent in a transaction are never
// sent again by the client's failover, since the transaction they were in
// is gone. See docs/failover.md.
//
// Begin a Tx with Client.Begin, or let Client.BeginFunc commit or roll it
// back for you. A Tx may be used by several goroutines, though the order
// of sends is then theirs to arrange.
type Tx struct {
	c    *Client
	id   []byte
	conn *engine.Conn
	ctl  *engine.Sender // the coordinator link

	mu      sync.Mutex
	done    bool          // committed, rolled back, or being so
	err     error         // why the transaction cannot go on, when it cannot
	pending []*sendRecord // SendAsync receipts, waited for by Commit
}

// Begin declares a new transaction with the peer's coordinator. A peer
// without one (RabbitMQ, for instance) gives an *Error wrapping
// ErrNoCoordinator.
func (c *Client) Begin(ctx context.Context) (*Tx, error) {
	conn, _, err := c.connection(ctx)
	if err != nil {
		return nil, wrapErr("begin transaction", "", err)
	}
	ctl, err := c.coordinator(ctx, conn)
	if err != nil {
		return nil, err
	}
	state, _, err := coordinate(ctx, ctl, codec.DeclareBody())
	if err != nil {
		select {
		case <-conn.Done():
			return nil, &Error{Scope: ScopeConnection, Op: "begin transaction", Err: ErrTransactionLost}
		case <-ctl.Done():
			// The coordinator took its link away: say why, as a refusal.
			return nil, noCoordinator(linkEndErr("begin transaction", "", ctl.Link()))
		default:
			return nil, wrapErr("begin transaction", "", err)
		}
	}
	switch s := state.(type) {
	case *codec.Declared:
		if len(s.TxnID) == 0 {
			return nil, &TransactionError{Op: "declare", Condition: string(codec.ErrCondInvalidField), Description: "the coordinator declared a transaction without an id"}
		}
		return &Tx{c: c, id: s.TxnID, conn: conn, ctl: ctl}, nil
	case *codec.Rejected:
		return nil, txRefusal("declare", s)
	default:
		return nil, &TransactionError{Op: "declare", Condition: string(codec.ErrCondInternalError), Description: fmt.Sprintf("the coordinator answered a declare with %T", state)}
	}
}

// coordinator returns conn's coordinator link, attaching it on first use.
func (c *Client) coordinator(ctx context.Context, conn *engine.Conn) (*engine.Sender, error) {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if ctl := c.txCtl; ctl != nil && ctl.Link().Conn() == conn {
		select {
		case <-ctl.Done():
		default:
			return ctl, nil
		}
	}
	session, err := engine.NewSession(ctx, conn)
	if err != nil {
		return nil, wrapErr("begin transaction", "", err)
	}
	l, err := session.AttachSender(ctx, &engine.AttachOptions{
		Name: "amq-txn-" + uuid.NewString(),
		Source: &codec.Source{Outcomes: []codec.Symbol{
			"amqp:accepted:list", "amqp:rejected:list", "amqp:released:list", "amqp:modified:list",
		}},
		Coordinator: &codec.Coordinator{Capabilities: []codec.Symbol{codec.CapLocalTransactions}},
	})
	if err != nil {
		_ = endSession(context.WithoutCancel(ctx), session, c.cfg.CloseTimeout)
		return nil, noCoordinator(wrapErr("begin transaction", "", err))
	}
	if engine.LinkCoordinator(l.Link()) == nil {
		// The peer took the link as one to an ordinary node (the Proton C
		// example broker does): a declare sent there is no declare.
		_ = endSession(context.WithoutCancel(ctx), session, c.cfg.CloseTimeout)
		return nil, &Error{Scope: ScopeLink, Op: "begin transaction", Err: fmt.Errorf("%w: it answered the coordinator link with an ordinary target", ErrNoCoordinator)}
	}
	c.txCtl = l
	return l, nil
}

// noCoordinator marks the refusal of a coordinator link (the link
// detached, or its session ended, by the peer) as ErrNoCoordinator, unless
// its condition says something else, such as a resource limit.
func noCoordinator(err error) error {
	var ae *Error
	if !errors.As(err, &ae) || ae.Scope != ScopeLink && ae.Scope != ScopeSession {
		return err
	}
	switch codec.Symbol(ae.Condition) {
	case "", codec.ErrCondNotImplemented, codec.ErrCondNotFound, codec.ErrCondNotAllowed, codec.ErrCondInvalidField:
		if ae.Err == nil {
			ae.Err = ErrNoCoordinator
		} else {
			ae.Err = fmt.Errorf("%w: %w", ErrNoCoordinator, ae.Err)
		}
	}
	return err
}

// coordinate sends a declare or discharge to the coordinator and waits for
// its outcome; written reports whether the request went out (after which
// an error leaves its outcome unknown).
func coordinate(ctx context.Context, ctl *engine.Sender, body codec.Described) (state codec.DeliveryState, written bool, err error) {
	payload, err := (&codec.Message{Value: body, HasValue: true}).MarshalBinary()
	if err != nil {
		return nil, false, err
	}
	d, err := ctl.SendRaw(ctx, payload, false)
	if err != nil {
		return nil, false, err
	}
	state, err = d.Wait(ctx)
	if errors.Is(err, engine.ErrDeliveryLost) {
		err = fmt.Errorf("%w (%v)", ErrDeliveryLost, err)
	}
	return state, true, err
}

// txRefusal is the TransactionError of a coordinator's rejected outcome.
func txRefusal(op string, r *codec.Rejected) *TransactionError {
	e := &TransactionError{Op: op, Condition: string(codec.ErrCondInternalError)}
	if r.Error != nil {
		e.Condition, e.Description = string(r.Error.Condition), r.Error.Description
	}
	return e
}

// usable reports why the transaction cannot take more work, or nil.
func (tx *Tx) usable() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	switch {
	case tx.done:
		return ErrTxDone
	case tx.err != nil:
		return tx.err
	}
	select {
	case <-tx.conn.Done():
		tx.err = &Error{Scope: ScopeConnection, Op: "transaction", Err: ErrTransactionLost}
		return tx.err
	default:
		return nil
	}
}

// lost marks the transaction lost with its connection.
func (tx *Tx) lost(op string) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.err == nil {
		tx.err = &Error{Scope: ScopeConnection, Op: op, Err: ErrTransactionLost}
	}
	return tx.err
}

// state is the delivery state of work in the transaction.
func (tx *Tx) state(outcome codec.DeliveryState) *codec.TransactionalState {
	return &codec.TransactionalState{TxnID: tx.id, Outcome: outcome}
}

// Send sends msg on s as part of the transaction and waits for the peer
// to take it into the transaction; the message reaches consumers only at
// Commit. The errors are those of Sender.Send. A message the peer did not
// accept is not part of the transaction; some peers (amq's broker among
// them, and JMS brokers) then let the transaction only roll back, and its
// Commit returns a *TransactionError. s must be a Sender of the same
// Client, not a pre-settled one.
func (tx *Tx) Send(ctx context.Context, s *Sender, msg *Message) error {
	d, span, err := tx.transmit(ctx, s, msg)
	if err != nil {
		return err
	}
	err = tx.outcome(ctx, s, d)
	endSpan(span, err)
	return err
}

// SendAsync sends msg on s as part of the transaction without waiting
// for the peer to take it in, so that many sends of one transaction can
// be in flight at once; the Receipt's Wait gives what Send would have
// returned. Commit and Rollback wait for every receipt of the
// transaction first, and Commit rolls the transaction back instead when
// one of them failed: a commit never applies a part of what was meant.
func (tx *Tx) SendAsync(ctx context.Context, s *Sender, msg *Message) (*Receipt, error) {
	d, span, err := tx.transmit(ctx, s, msg)
	if err != nil {
		return nil, err
	}
	rec := &sendRecord{tx: tx, txSender: s, d: d, span: span}
	rec.receipt.rec = rec
	tx.mu.Lock()
	tx.pending = append(tx.pending, rec)
	tx.mu.Unlock()
	return &rec.receipt, nil
}

// transmit encodes msg and writes it on s in the transaction; the span is
// ended here when it fails, by the caller otherwise. A transactional send
// is never sent again, so its encoding is given back at once.
func (tx *Tx) transmit(ctx context.Context, s *Sender, msg *Message) (*engine.OutgoingDelivery, trace.Span, error) {
	if err := tx.checkSend(s); err != nil {
		return nil, nil, err
	}
	enc, span, err := s.prepare(ctx, msg)
	if err != nil {
		return nil, nil, err
	}
	d, err := tx.write(ctx, s, enc.b, msg)
	enc.release()
	if err != nil {
		endSpan(span, err)
		return nil, nil, err
	}
	return d, span, nil
}

// checkSend says why s cannot send in the transaction, or nil.
func (tx *Tx) checkSend(s *Sender) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if s.c != tx.c {
		return errors.New("amq: Tx.Send: the sender belongs to another Client")
	}
	if s.opts.Presettled {
		return errors.New("amq: Tx.Send: a pre-settled sender cannot send in a transaction (it gets no outcome)")
	}
	return nil
}

// write sends payload in the transaction, on s's link on the
// transaction's connection.
func (tx *Tx) write(ctx context.Context, s *Sender, payload []byte, msg *Message) (*engine.OutgoingDelivery, error) {
	l, conn, _, err := s.current(ctx, 0, msg)
	if err != nil {
		return nil, err
	}
	if conn != tx.conn {
		return nil, tx.lost("send")
	}
	d, err := engine.SendWithState(ctx, l, payload, tx.state(nil))
	if err != nil {
		if ctx.Err() == nil && (errors.Is(err, engine.ErrConnClosed) || tx.connEnded()) {
			return nil, tx.lost("send")
		}
		return nil, s.sendErr(err)
	}
	return d, nil
}

// outcome waits for the peer's answer to a send in the transaction. A
// context that ends first leaves the transaction unable to commit: the
// message may or may not be in it.
func (tx *Tx) outcome(ctx context.Context, s *Sender, d *engine.OutgoingDelivery) error {
	state, err := d.Wait(ctx)
	if err != nil && ctx.Err() != nil {
		tx.mu.Lock()
		if tx.err == nil {
			tx.err = fmt.Errorf("amq: transaction: a send's outcome is unknown (%w); roll the transaction back", ctx.Err())
		}
		tx.mu.Unlock()
		return fmt.Errorf("amq: send to %q: waiting for the outcome: %w", s.address, ctx.Err())
	}
	return tx.outcomeOf(s, state, err)
}

// outcomeOf is the error of a send in the transaction whose delivery
// ended with state, or with err (not a context's).
func (tx *Tx) outcomeOf(s *Sender, state codec.DeliveryState, err error) error {
	switch {
	case err == nil:
		return outcomeErr(state)
	case tx.connEnded():
		return tx.lost("send")
	default:
		// The link alone ended: the message is not in the transaction.
		return s.sendErr(err)
	}
}

// waitPending waits for the outcomes of the transaction's SendAsync
// receipts, and returns the first failure.
func (tx *Tx) waitPending(ctx context.Context) error {
	tx.mu.Lock()
	pending := tx.pending
	tx.pending = nil
	tx.mu.Unlock()
	var first error
	for _, rec := range pending {
		if err := rec.receipt.Wait(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (tx *Tx) connEnded() bool {
	select {
	case <-tx.conn.Done():
		return true
	default:
		return false
	}
}

// Accept accepts d as part of the transaction: the peer removes the
// message from its queue at Commit, and gives it back for redelivery at
// Rollback. d must have arrived on the transaction's connection; settle it
// once, in one way, as Delivery.Accept says.
func (tx *Tx) Accept(ctx context.Context, d *Delivery) error {
	return tx.settle(ctx, d, "accept", &codec.Accepted{})
}

// Reject rejects d as part of the transaction; see Delivery.Reject.
func (tx *Tx) Reject(ctx context.Context, d *Delivery, condition, description string) error {
	r := &codec.Rejected{}
	if condition != "" {
		r.Error = &codec.Error{Condition: codec.Symbol(condition), Description: description}
	}
	return tx.settle(ctx, d, "reject", r)
}

// Release releases d as part of the transaction; see Delivery.Release.
func (tx *Tx) Release(ctx context.Context, d *Delivery) error {
	return tx.settle(ctx, d, "release", &codec.Released{})
}

// Modify modifies d as part of the transaction; see Delivery.Modify.
func (tx *Tx) Modify(ctx context.Context, d *Delivery, opts *ModifyOptions) error {
	o := ModifyOptions{DeliveryFailed: true}
	if opts != nil {
		o = *opts
	}
	ann, err := annotationsToCodec("message annotation", o.Annotations)
	if err != nil {
		return err
	}
	return tx.settle(ctx, d, "modify", &codec.Modified{DeliveryFailed: o.DeliveryFailed, UndeliverableHere: o.UndeliverableHere, MessageAnnotations: ann})
}

func (tx *Tx) settle(ctx context.Context, d *Delivery, op string, outcome codec.DeliveryState) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if d.r.c != tx.c {
		return fmt.Errorf("amq: Tx.%s: the delivery belongs to another Client", op)
	}
	if engine.DeliveryConn(d.in) != tx.conn {
		// It arrived on an earlier connection: the peer redelivers it, and
		// it cannot take part in this transaction.
		return &Error{Scope: ScopeLink, Op: op, Address: d.r.Address(), Err: ErrDeliveryLost}
	}
	state := tx.state(outcome)
	return d.settle(ctx, op, func() error { return d.in.Settle(state) })
}

// Commit asks the peer to apply the transaction and waits for its answer.
// nil means every message sent in it is now on its way to consumers and
// every settlement in it took effect. A *TransactionError means the peer
// rolled it back instead (nothing applied); an error wrapping
// ErrTransactionLost that the connection ended first (nothing applied);
// one wrapping ErrTransactionOutcomeUnknown that the answer never came.
// After Commit, whatever it returned, the Tx is done.
func (tx *Tx) Commit(ctx context.Context) error {
	return tx.discharge(ctx, false)
}

// Rollback asks the peer to drop the transaction: nothing sent in it is
// delivered, and the deliveries settled in it are given back for
// redelivery. It returns nil when the transaction is rolled back, which a
// lost connection also does. It first waits (within ctx) for the outcomes
// of the transaction's SendAsync sends, so that their receipts and spans
// end. After Rollback the Tx is done.
func (tx *Tx) Rollback(ctx context.Context) error {
	return tx.discharge(ctx, true)
}

func (tx *Tx) discharge(ctx context.Context, fail bool) error {
	op := "commit"
	if fail {
		op = "rollback"
	}
	tx.mu.Lock()
	if tx.done {
		tx.mu.Unlock()
		return ErrTxDone
	}
	tx.done = true
	tx.mu.Unlock()
	if err := tx.waitPending(ctx); err != nil {
		tx.mu.Lock()
		if tx.err == nil {
			tx.err = fmt.Errorf("amq: transaction: a send in it failed: %w", err)
		}
		tx.mu.Unlock()
	}
	tx.mu.Lock()
	broken := tx.err
	tx.mu.Unlock()
	if tx.connEnded() {
		if fail {
			return nil // the peer rolled it back when the connection ended
		}
		return &Error{Scope: ScopeConnection, Op: op, Err: ErrTransactionLost}
	}
	if broken != nil && !fail {
		// Part of it is unknown: roll back rather than commit a guess.
		if err := tx.sendDischarge(ctx, true, "rollback"); err != nil {
			return errors.Join(broken, err)
		}
		return &TransactionError{Op: op, Condition: string(codec.ErrCondTransactionRollback), Description: "rolled back instead: " + broken.Error()}
	}
	return tx.sendDischarge(ctx, fail, op)
}

func (tx *Tx) sendDischarge(ctx context.Context, fail bool, op string) error {
	state, written, err := coordinate(ctx, tx.ctl, codec.DischargeBody(tx.id, fail))
	if err != nil {
		switch {
		case fail && tx.connEnded():
			return nil // rolled back with the connection either way
		case fail:
			return wrapErr(op, "", err)
		case written:
			return &Error{Scope: ScopeConnection, Op: op, Err: fmt.Errorf("%w (%v)", ErrTransactionOutcomeUnknown, err)}
		case tx.connEnded():
			return &Error{Scope: ScopeConnection, Op: op, Err: ErrTransactionLost}
		default:
			// Not sent (the context ended while waiting for credit): the
			// transaction is still open on the peer, which rolls it back
			// when the connection ends.
			return wrapErr(op, "", err)
		}
	}
	switch s := state.(type) {
	case nil, *codec.Accepted:
		return nil
	case *codec.Rejected:
		return txRefusal(op, s)
	default:
		return &TransactionError{Op: op, Condition: string(codec.ErrCondInternalError), Description: fmt.Sprintf("the coordinator answered with %T", state)}
	}
}

// BeginFunc runs fn in a new transaction, as pgx.BeginFunc does: it
// commits when fn returns nil, and rolls back when fn returns an error
// (which BeginFunc then returns) or panics (the panic goes on after the
// rollback). The rollback runs even when ctx has ended, bounded by
// ConnectOptions.CloseTimeout.
func (c *Client) BeginFunc(ctx context.Context, fn func(*Tx) error) (err error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	rollback := func() error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.CloseTimeout)
		defer cancel()
		return tx.Rollback(rctx)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := rollback(); rerr != nil && !errors.Is(rerr, ErrTxDone) {
			return errors.Join(err, rerr)
		}
		return err
	}
	return tx.Commit(ctx)
}

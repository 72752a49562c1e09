package codec

import "fmt"

// Transactions (AMQP 1.0 chapter 4): the bodies of the messages sent to a
// coordinator, their error conditions and the capability of local
// transactions. The coordinator terminus is Coordinator, the outcomes
// Declared and TransactionalState.
const (
	DescDeclare   uint64 = 0x31
	DescDischarge uint64 = 0x32

	// CapLocalTransactions is the coordinator capability of transactions
	// local to one connection's resources (§4.5.7), the kind brokers have.
	CapLocalTransactions Symbol = "amqp:local-transactions"

	ErrCondTransactionUnknownID Symbol = "amqp:transaction:unknown-id"
	ErrCondTransactionRollback  Symbol = "amqp:transaction:rollback"
	ErrCondTransactionTimeout   Symbol = "amqp:transaction:timeout"
)

// DeclareBody is the amqp-value of a declare message (§4.5.2): a new
// transaction, no global id.
func DeclareBody() Described { return Described{Descriptor: DescDeclare, Value: List{}} }

// DischargeBody is the amqp-value of a discharge message (§4.5.3): commit
// the transaction txnID, or roll it back when fail.
func DischargeBody(txnID []byte, fail bool) Described {
	return Described{Descriptor: DescDischarge, Value: List{txnID, fail}}
}

// CoordinatorRequest is what a message to a coordinator asks.
type CoordinatorRequest struct {
	// Declare: a new transaction. Otherwise a discharge of TxnID, a
	// rollback when Fail.
	Declare bool
	// GlobalID of a declare: nil for a local transaction.
	GlobalID any
	TxnID    []byte
	Fail     bool
}

// ParseCoordinatorRequest reads the amqp-value of a message sent to a
// coordinator. Anything but a declare or a discharge with a transaction id
// is an error, for a coordinator to reject with amqp:decode-error or
// amqp:not-implemented.
func ParseCoordinatorRequest(m *Message) (CoordinatorRequest, error) {
	if m == nil || !m.HasValue {
		return CoordinatorRequest{}, fmt.Errorf("amqp: coordinator message without an amqp-value body")
	}
	d, ok := m.Value.(Described)
	if !ok {
		return CoordinatorRequest{}, fmt.Errorf("amqp: coordinator message body is %T, not a declare or discharge", m.Value)
	}
	code, _ := descriptorCode(d.Descriptor)
	switch code {
	case DescDeclare:
		r := readFields("declare", d)
		return CoordinatorRequest{Declare: true, GlobalID: r.value(0)}, r.err
	case DescDischarge:
		r := readFields("discharge", d)
		req := CoordinatorRequest{TxnID: r.bin(0), Fail: r.boolean(1)}
		if r.err == nil && req.TxnID == nil {
			return req, fmt.Errorf("amqp: discharge without a txn-id")
		}
		return req, r.err
	}
	return CoordinatorRequest{}, fmt.Errorf("amqp: coordinator message body %v is not a declare or discharge", d.Descriptor)
}

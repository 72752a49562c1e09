package codec

// DeliveryState is the state of a delivery (§3.4): *Received, *Accepted,
// *Rejected, *Released, *Modified (the last four are outcomes), and the
// transaction states *Declared and *TransactionalState (§4.5). Any other
// described state decodes as *UnknownState. Only those pointer types
// implement it, and decoding always returns them.
type DeliveryState interface {
	// Descriptor returns the numeric descriptor of the state.
	Descriptor() uint64
	appendAMQP(dst []byte) ([]byte, error)
}

// Delivery state descriptors.
const (
	DescReceived           uint64 = 0x23
	DescAccepted           uint64 = 0x24
	DescRejected           uint64 = 0x25
	DescReleased           uint64 = 0x26
	DescModified           uint64 = 0x27
	DescDeclared           uint64 = 0x33
	DescTransactionalState uint64 = 0x34
)

// Received is the non-terminal state telling how much of a message has
// arrived (§3.4.1). Both fields are mandatory.
type Received struct {
	SectionNumber uint32
	SectionOffset uint64
}

// Descriptor returns DescReceived.
func (*Received) Descriptor() uint64 { return DescReceived }

func (s *Received) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescReceived)
	w.uint(s.SectionNumber, true)
	w.ulong(s.SectionOffset, true)
	return w.done()
}

// Accepted is the outcome of a successfully processed message (§3.4.2).
type Accepted struct{}

// Descriptor returns DescAccepted.
func (*Accepted) Descriptor() uint64 { return DescAccepted }

func (s *Accepted) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescAccepted)
	return w.done()
}

// Rejected is the outcome of an invalid, unprocessable message (§3.4.3).
type Rejected struct {
	// Error: nil is absent.
	Error *Error
}

// Descriptor returns DescRejected.
func (*Rejected) Descriptor() uint64 { return DescRejected }

func (s *Rejected) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescRejected)
	w.value(s.Error)
	return w.done()
}

// Released is the outcome of a message not processed, to be redelivered (§3.4.4).
type Released struct{}

// Descriptor returns DescReleased.
func (*Released) Descriptor() uint64 { return DescReleased }

func (s *Released) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescReleased)
	return w.done()
}

// Modified is the outcome of a message to be redelivered with changes (§3.4.5).
type Modified struct {
	// DeliveryFailed, UndeliverableHere: false is absent.
	DeliveryFailed    bool
	UndeliverableHere bool
	// MessageAnnotations: nil is absent.
	MessageAnnotations Map
}

// Descriptor returns DescModified.
func (*Modified) Descriptor() uint64 { return DescModified }

func (s *Modified) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescModified)
	w.boolean(s.DeliveryFailed, s.DeliveryFailed)
	w.boolean(s.UndeliverableHere, s.UndeliverableHere)
	w.mapv(s.MessageAnnotations)
	return w.done()
}

// Declared is the outcome of a transaction declaration (§4.5.4).
type Declared struct {
	// TxnID is mandatory.
	TxnID []byte
}

// Descriptor returns DescDeclared.
func (*Declared) Descriptor() uint64 { return DescDeclared }

func (s *Declared) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescDeclared)
	w.bin(nonNil(s.TxnID))
	return w.done()
}

// TransactionalState is the state of a delivery inside a transaction (§4.5.5).
type TransactionalState struct {
	// TxnID is mandatory.
	TxnID []byte
	// Outcome: nil is absent.
	Outcome DeliveryState
}

// Descriptor returns DescTransactionalState.
func (*TransactionalState) Descriptor() uint64 { return DescTransactionalState }

func (s *TransactionalState) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescTransactionalState)
	w.bin(nonNil(s.TxnID))
	w.value(s.Outcome)
	return w.done()
}

// UnknownState is a described delivery state this package does not know.
// It round-trips unchanged.
type UnknownState struct {
	Raw Described
}

// Descriptor returns the numeric descriptor, or 0 for an unknown symbolic one.
func (s *UnknownState) Descriptor() uint64 {
	c, _ := descriptorCode(s.Raw.Descriptor)
	return c
}

func (s *UnknownState) appendAMQP(b []byte) ([]byte, error) {
	return appendDescribed(b, s.Raw.Descriptor, s.Raw.Value, 1)
}

// state reads an optional delivery-state field.
func (r *fieldReader) state(i int) DeliveryState {
	v := r.get(i)
	if v == nil {
		return nil
	}
	d, ok := v.(Described)
	if !ok {
		r.fail(i, "want delivery state, got %T", v)
		return nil
	}
	s, err := stateFromDescribed(d)
	r.setErr(err)
	return s
}

// DecodeDeliveryState turns a decoded described value (as found in
// Attach.Unsettled or Source.DefaultOutcome) into a DeliveryState.
func DecodeDeliveryState(d Described) (DeliveryState, error) {
	return stateFromDescribed(d)
}

func stateFromDescribed(d Described) (DeliveryState, error) {
	code, ok := descriptorCode(d.Descriptor)
	if !ok {
		return &UnknownState{Raw: d}, nil
	}
	var r *fieldReader
	var s DeliveryState
	switch code {
	case DescReceived:
		r = readFields("received", d)
		r.need(0)
		r.need(1)
		s = &Received{SectionNumber: r.uint(0), SectionOffset: r.ulong(1)}
	case DescAccepted:
		r = readFields("accepted", d)
		s = &Accepted{}
	case DescRejected:
		r = readFields("rejected", d)
		s = &Rejected{Error: r.errorField(0)}
	case DescReleased:
		r = readFields("released", d)
		s = &Released{}
	case DescModified:
		r = readFields("modified", d)
		s = &Modified{DeliveryFailed: r.boolean(0), UndeliverableHere: r.boolean(1), MessageAnnotations: r.mapv(2)}
	case DescDeclared:
		r = readFields("declared", d)
		r.need(0)
		s = &Declared{TxnID: r.bin(0)}
	case DescTransactionalState:
		r = readFields("transactional-state", d)
		r.need(0)
		s = &TransactionalState{TxnID: r.bin(0), Outcome: r.state(1)}
	default:
		return &UnknownState{Raw: d}, nil
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

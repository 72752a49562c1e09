package codec

import "fmt"

// Performative is an AMQP frame body: one of *Open, *Begin, *Attach, *Flow,
// *Transfer, *Disposition, *Detach, *End, *Close (frame type FrameAMQP) or
// *SASLMechanisms, *SASLInit, *SASLChallenge, *SASLResponse, *SASLOutcome
// (frame type FrameSASL). Only those pointer types implement it, and
// decoding always returns them.
type Performative interface {
	// Descriptor returns the numeric descriptor of the performative (§2.7,
	// §5.3.3), e.g. 0x10 for open.
	Descriptor() uint64
	// FrameType returns FrameAMQP or FrameSASL, the frame type that carries it.
	FrameType() uint8
	appendAMQP(dst []byte) ([]byte, error)
}

// Role is the role of a link endpoint (§2.8.1).
type Role bool

// Link roles.
const (
	RoleSender   Role = false
	RoleReceiver Role = true
)

// SenderSettleMode is the settlement policy of a sender (§2.8.2).
type SenderSettleMode uint8

// Sender settle modes.
const (
	SenderSettleModeUnsettled SenderSettleMode = 0
	SenderSettleModeSettled   SenderSettleMode = 1
	SenderSettleModeMixed     SenderSettleMode = 2
)

// ReceiverSettleMode is the settlement policy of a receiver (§2.8.3).
type ReceiverSettleMode uint8

// Receiver settle modes.
const (
	ReceiverSettleModeFirst  ReceiverSettleMode = 0
	ReceiverSettleModeSecond ReceiverSettleMode = 1
)

// Performative descriptors (§2.7).
const (
	DescOpen        uint64 = 0x10
	DescBegin       uint64 = 0x11
	DescAttach      uint64 = 0x12
	DescFlow        uint64 = 0x13
	DescTransfer    uint64 = 0x14
	DescDisposition uint64 = 0x15
	DescDetach      uint64 = 0x16
	DescEnd         uint64 = 0x17
	DescClose       uint64 = 0x18
)

// Open negotiates connection parameters (§2.7.1).
type Open struct {
	// ContainerID is mandatory.
	ContainerID string
	// Hostname: "" is absent.
	Hostname string
	// MaxFrameSize: 0 is absent (the default, 4294967295).
	MaxFrameSize uint32
	// ChannelMax: nil is absent (the default, 65535).
	ChannelMax *uint16
	// IdleTimeOut in milliseconds: 0 is absent (no idle time-out).
	IdleTimeOut uint32
	// OutgoingLocales, IncomingLocales, OfferedCapabilities,
	// DesiredCapabilities: nil is absent.
	OutgoingLocales     []Symbol
	IncomingLocales     []Symbol
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	// Properties: nil is absent.
	Properties Map
}

// Descriptor returns DescOpen.
func (*Open) Descriptor() uint64 { return DescOpen }

// FrameType returns FrameAMQP.
func (*Open) FrameType() uint8 { return FrameAMQP }

func (p *Open) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescOpen)
	w.str(p.ContainerID, true)
	w.str(p.Hostname, p.Hostname != "")
	w.uint(p.MaxFrameSize, p.MaxFrameSize != 0)
	w.ushortp(p.ChannelMax)
	w.uint(p.IdleTimeOut, p.IdleTimeOut != 0)
	w.syms(p.OutgoingLocales)
	w.syms(p.IncomingLocales)
	w.syms(p.OfferedCapabilities)
	w.syms(p.DesiredCapabilities)
	w.mapv(p.Properties)
	return w.done()
}

func decodeOpen(r *fieldReader) *Open {
	r.need(0)
	return &Open{
		ContainerID:         r.str(0),
		Hostname:            r.str(1),
		MaxFrameSize:        r.uint(2),
		ChannelMax:          r.ushortp(3),
		IdleTimeOut:         r.uint(4),
		OutgoingLocales:     r.syms(5),
		IncomingLocales:     r.syms(6),
		OfferedCapabilities: r.syms(7),
		DesiredCapabilities: r.syms(8),
		Properties:          r.mapv(9),
	}
}

// Begin begins a session on a channel (§2.7.2).
type Begin struct {
	// RemoteChannel: nil is absent (the session is initiated by the sender).
	RemoteChannel *uint16
	// NextOutgoingID, IncomingWindow, OutgoingWindow are mandatory.
	NextOutgoingID uint32
	IncomingWindow uint32
	OutgoingWindow uint32
	// HandleMax: nil is absent (the default, 4294967295).
	HandleMax *uint32
	// OfferedCapabilities, DesiredCapabilities, Properties: nil is absent.
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          Map
}

// Descriptor returns DescBegin.
func (*Begin) Descriptor() uint64 { return DescBegin }

// FrameType returns FrameAMQP.
func (*Begin) FrameType() uint8 { return FrameAMQP }

func (p *Begin) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescBegin)
	w.ushortp(p.RemoteChannel)
	w.uint(p.NextOutgoingID, true)
	w.uint(p.IncomingWindow, true)
	w.uint(p.OutgoingWindow, true)
	w.uintp(p.HandleMax)
	w.syms(p.OfferedCapabilities)
	w.syms(p.DesiredCapabilities)
	w.mapv(p.Properties)
	return w.done()
}

func decodeBegin(r *fieldReader) *Begin {
	r.need(1)
	r.need(2)
	r.need(3)
	return &Begin{
		RemoteChannel:       r.ushortp(0),
		NextOutgoingID:      r.uint(1),
		IncomingWindow:      r.uint(2),
		OutgoingWindow:      r.uint(3),
		HandleMax:           r.uintp(4),
		OfferedCapabilities: r.syms(5),
		DesiredCapabilities: r.syms(6),
		Properties:          r.mapv(7),
	}
}

// Attach attaches a link to a session (§2.7.3).
type Attach struct {
	// Name, Handle and Role are mandatory.
	Name   string
	Handle uint32
	Role   Role
	// SndSettleMode: nil is absent (the default, mixed).
	SndSettleMode *SenderSettleMode
	// RcvSettleMode: nil is absent (the default, first).
	RcvSettleMode *ReceiverSettleMode
	// Source: nil is absent.
	Source *Source
	// Target: nil is absent. When the target is a transaction coordinator
	// (descriptor 0x30), Target is nil and Coordinator is set instead.
	Target      *Target
	Coordinator *Coordinator
	// Unsettled maps delivery tags ([]byte) to delivery states (kept as
	// decoded, e.g. Described); nil is absent.
	Unsettled Map
	// IncompleteUnsettled: false is absent.
	IncompleteUnsettled bool
	// InitialDeliveryCount: nil is absent (as it must be for a receiver).
	InitialDeliveryCount *uint32
	// MaxMessageSize: 0 is absent (no limit).
	MaxMessageSize uint64
	// OfferedCapabilities, DesiredCapabilities, Properties: nil is absent.
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          Map
}

// Descriptor returns DescAttach.
func (*Attach) Descriptor() uint64 { return DescAttach }

// FrameType returns FrameAMQP.
func (*Attach) FrameType() uint8 { return FrameAMQP }

func (p *Attach) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescAttach)
	w.str(p.Name, true)
	w.uint(p.Handle, true)
	w.boolean(bool(p.Role), true)
	if p.SndSettleMode != nil {
		w.value(uint8(*p.SndSettleMode))
	} else {
		w.null()
	}
	if p.RcvSettleMode != nil {
		w.value(uint8(*p.RcvSettleMode))
	} else {
		w.null()
	}
	w.value(p.Source)
	if p.Coordinator != nil {
		w.value(p.Coordinator)
	} else {
		w.value(p.Target)
	}
	w.mapv(p.Unsettled)
	w.boolean(p.IncompleteUnsettled, p.IncompleteUnsettled)
	w.uintp(p.InitialDeliveryCount)
	w.ulong(p.MaxMessageSize, p.MaxMessageSize != 0)
	w.syms(p.OfferedCapabilities)
	w.syms(p.DesiredCapabilities)
	w.mapv(p.Properties)
	return w.done()
}

func decodeAttach(r *fieldReader) *Attach {
	r.need(0)
	r.need(1)
	r.need(2)
	p := &Attach{
		Name:                 r.str(0),
		Handle:               r.uint(1),
		Role:                 Role(r.boolean(2)),
		Unsettled:            r.mapv(7),
		IncompleteUnsettled:  r.boolean(8),
		InitialDeliveryCount: r.uintp(9),
		MaxMessageSize:       r.ulong(10),
		OfferedCapabilities:  r.syms(11),
		DesiredCapabilities:  r.syms(12),
		Properties:           r.mapv(13),
	}
	if v := r.ubytep(3); v != nil {
		m := SenderSettleMode(*v)
		p.SndSettleMode = &m
	}
	if v := r.ubytep(4); v != nil {
		m := ReceiverSettleMode(*v)
		p.RcvSettleMode = &m
	}
	if d, ok := r.described(5); ok {
		s, err := sourceFromDescribed(d)
		r.setErr(err)
		p.Source = s
	}
	if d, ok := r.described(6); ok {
		if c, _ := descriptorCode(d.Descriptor); c == DescCoordinator {
			co, err := coordinatorFromDescribed(d)
			r.setErr(err)
			p.Coordinator = co
		} else {
			t, err := targetFromDescribed(d)
			r.setErr(err)
			p.Target = t
		}
	}
	return p
}

func (r *fieldReader) setErr(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

// Flow updates link and session flow control state (§2.7.4).
type Flow struct {
	// NextIncomingID: nil is absent.
	NextIncomingID *uint32
	// IncomingWindow, NextOutgoingID, OutgoingWindow are mandatory.
	IncomingWindow uint32
	NextOutgoingID uint32
	OutgoingWindow uint32
	// Handle, DeliveryCount, LinkCredit, Available: nil is absent (Handle
	// absent means a session-only flow).
	Handle        *uint32
	DeliveryCount *uint32
	LinkCredit    *uint32
	Available     *uint32
	// Drain and Echo: false is absent.
	Drain bool
	Echo  bool
	// Properties: nil is absent.
	Properties Map
}

// Descriptor returns DescFlow.
func (*Flow) Descriptor() uint64 { return DescFlow }

// FrameType returns FrameAMQP.
func (*Flow) FrameType() uint8 { return FrameAMQP }

func (p *Flow) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescFlow)
	w.uintp(p.NextIncomingID)
	w.uint(p.IncomingWindow, true)
	w.uint(p.NextOutgoingID, true)
	w.uint(p.OutgoingWindow, true)
	w.uintp(p.Handle)
	w.uintp(p.DeliveryCount)
	w.uintp(p.LinkCredit)
	w.uintp(p.Available)
	w.boolean(p.Drain, p.Drain)
	w.boolean(p.Echo, p.Echo)
	w.mapv(p.Properties)
	return w.done()
}

func decodeFlow(r *fieldReader) *Flow {
	r.need(1)
	r.need(2)
	r.need(3)
	return &Flow{
		NextIncomingID: r.uintp(0),
		IncomingWindow: r.uint(1),
		NextOutgoingID: r.uint(2),
		OutgoingWindow: r.uint(3),
		Handle:         r.uintp(4),
		DeliveryCount:  r.uintp(5),
		LinkCredit:     r.uintp(6),
		Available:      r.uintp(7),
		Drain:          r.boolean(8),
		Echo:           r.boolean(9),
		Properties:     r.mapv(10),
	}
}

// Transfer transfers a message or a part of one (§2.7.5). The message bytes
// are in Frame.Payload, not here.
type Transfer struct {
	// Handle is mandatory.
	Handle uint32
	// DeliveryID: nil is absent (allowed on continuation transfers).
	DeliveryID *uint32
	// DeliveryTag: nil is absent; a non-nil empty slice is an empty tag.
	DeliveryTag []byte
	// MessageFormat: nil is absent (continuation transfers); 0 is the
	// standard AMQP message format.
	MessageFormat *uint32
	// Settled: false is absent.
	Settled bool
	// More: false is absent.
	More bool
	// RcvSettleMode: nil is absent.
	RcvSettleMode *ReceiverSettleMode
	// State: nil is absent.
	State DeliveryState
	// Resume, Aborted, Batchable: false is absent.
	Resume    bool
	Aborted   bool
	Batchable bool
}

// Descriptor returns DescTransfer.
func (*Transfer) Descriptor() uint64 { return DescTransfer }

// FrameType returns FrameAMQP.
func (*Transfer) FrameType() uint8 { return FrameAMQP }

func (p *Transfer) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescTransfer)
	w.uint(p.Handle, true)
	w.uintp(p.DeliveryID)
	w.bin(p.DeliveryTag)
	w.uintp(p.MessageFormat)
	w.boolean(p.Settled, p.Settled)
	w.boolean(p.More, p.More)
	if p.RcvSettleMode != nil {
		w.value(uint8(*p.RcvSettleMode))
	} else {
		w.null()
	}
	w.value(p.State)
	w.boolean(p.Resume, p.Resume)
	w.boolean(p.Aborted, p.Aborted)
	w.boolean(p.Batchable, p.Batchable)
	return w.done()
}

func decodeTransfer(r *fieldReader) *Transfer {
	r.need(0)
	p := &Transfer{
		Handle:        r.uint(0),
		DeliveryID:    r.uintp(1),
		DeliveryTag:   r.bin(2),
		MessageFormat: r.uintp(3),
		Settled:       r.boolean(4),
		More:          r.boolean(5),
		Resume:        r.boolean(8),
		Aborted:       r.boolean(9),
		Batchable:     r.boolean(10),
	}
	if v := r.ubytep(6); v != nil {
		m := ReceiverSettleMode(*v)
		p.RcvSettleMode = &m
	}
	p.State = r.state(7)
	return p
}

// Disposition informs the peer of delivery state changes (§2.7.6).
type Disposition struct {
	// Role and First are mandatory.
	Role  Role
	First uint32
	// Last: nil is absent (only First is concerned).
	Last *uint32
	// Settled: false is absent.
	Settled bool
	// State: nil is absent.
	State DeliveryState
	// Batchable: false is absent.
	Batchable bool
}

// Descriptor returns DescDisposition.
func (*Disposition) Descriptor() uint64 { return DescDisposition }

// FrameType returns FrameAMQP.
func (*Disposition) FrameType() uint8 { return FrameAMQP }

func (p *Disposition) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescDisposition)
	w.boolean(bool(p.Role), true)
	w.uint(p.First, true)
	w.uintp(p.Last)
	w.boolean(p.Settled, p.Settled)
	w.value(p.State)
	w.boolean(p.Batchable, p.Batchable)
	return w.done()
}

func decodeDisposition(r *fieldReader) *Disposition {
	r.need(0)
	r.need(1)
	return &Disposition{
		Role:      Role(r.boolean(0)),
		First:     r.uint(1),
		Last:      r.uintp(2),
		Settled:   r.boolean(3),
		State:     r.state(4),
		Batchable: r.boolean(5),
	}
}

// Detach detaches a link endpoint (§2.7.7).
type Detach struct {
	// Handle is mandatory.
	Handle uint32
	// Closed: false is absent.
	Closed bool
	// Error: nil is absent.
	Error *Error
}

// Descriptor returns DescDetach.
func (*Detach) Descriptor() uint64 { return DescDetach }

// FrameType returns FrameAMQP.
func (*Detach) FrameType() uint8 { return FrameAMQP }

func (p *Detach) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescDetach)
	w.uint(p.Handle, true)
	w.boolean(p.Closed, p.Closed)
	w.value(p.Error)
	return w.done()
}

func decodeDetach(r *fieldReader) *Detach {
	r.need(0)
	return &Detach{Handle: r.uint(0), Closed: r.boolean(1), Error: r.errorField(2)}
}

// End ends a session (§2.7.8).
type End struct {
	// Error: nil is absent.
	Error *Error
}

// Descriptor returns DescEnd.
func (*End) Descriptor() uint64 { return DescEnd }

// FrameType returns FrameAMQP.
func (*End) FrameType() uint8 { return FrameAMQP }

func (p *End) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescEnd)
	w.value(p.Error)
	return w.done()
}

// Close closes a connection (§2.7.9).
type Close struct {
	// Error: nil is absent.
	Error *Error
}

// Descriptor returns DescClose.
func (*Close) Descriptor() uint64 { return DescClose }

// FrameType returns FrameAMQP.
func (*Close) FrameType() uint8 { return FrameAMQP }

func (p *Close) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescClose)
	w.value(p.Error)
	return w.done()
}

// decodePerformative turns a decoded described value into the performative
// it names. frameType restricts the set: AMQP frames carry only transport
// performatives and SASL frames only SASL ones.
func decodePerformative(frameType uint8, d Described) (Performative, error) {
	code, ok := descriptorCode(d.Descriptor)
	if !ok {
		return nil, &DecodeError{Offset: -1, Reason: fmt.Sprintf("unknown performative descriptor %v", d.Descriptor)}
	}
	var p Performative
	var r *fieldReader
	switch frameType {
	case FrameAMQP:
		switch code {
		case DescOpen:
			r = readFields("open", d)
			p = decodeOpen(r)
		case DescBegin:
			r = readFields("begin", d)
			p = decodeBegin(r)
		case DescAttach:
			r = readFields("attach", d)
			p = decodeAttach(r)
		case DescFlow:
			r = readFields("flow", d)
			p = decodeFlow(r)
		case DescTransfer:
			r = readFields("transfer", d)
			p = decodeTransfer(r)
		case DescDisposition:
			r = readFields("disposition", d)
			p = decodeDisposition(r)
		case DescDetach:
			r = readFields("detach", d)
			p = decodeDetach(r)
		case DescEnd:
			r = readFields("end", d)
			p = &End{Error: r.errorField(0)}
		case DescClose:
			r = readFields("close", d)
			p = &Close{Error: r.errorField(0)}
		}
	case FrameSASL:
		p, r = decodeSASL(code, d)
	}
	if p == nil {
		return nil, &DecodeError{Offset: -1, Reason: fmt.Sprintf("descriptor 0x%02x is not a performative of frame type %d", code, frameType)}
	}
	if r.err != nil {
		return nil, r.err
	}
	return p, nil
}

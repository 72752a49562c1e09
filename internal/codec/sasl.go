package codec

// SASL frame bodies (§5.3.3). They travel in frames of type FrameSASL.

// SASL performative descriptors (§5.3.3).
const (
	DescSASLMechanisms uint64 = 0x40
	DescSASLInit       uint64 = 0x41
	DescSASLChallenge  uint64 = 0x42
	DescSASLResponse   uint64 = 0x43
	DescSASLOutcome    uint64 = 0x44
)

// SASLCode is the outcome of a SASL exchange (§5.3.3.6).
type SASLCode uint8

// SASL outcome codes.
const (
	SASLCodeOK      SASLCode = 0 // authentication succeeded
	SASLCodeAuth    SASLCode = 1 // bad credentials
	SASLCodeSys     SASLCode = 2 // system error
	SASLCodeSysPerm SASLCode = 3 // unrecoverable system error
	SASLCodeSysTemp SASLCode = 4 // transient system error
)

// SASLMechanisms advertises the server's mechanisms (§5.3.3.1).
type SASLMechanisms struct {
	// Mechanisms is mandatory (a single symbol or an array on input).
	Mechanisms []Symbol
}

// Descriptor returns DescSASLMechanisms.
func (*SASLMechanisms) Descriptor() uint64 { return DescSASLMechanisms }

// FrameType returns FrameSASL.
func (*SASLMechanisms) FrameType() uint8 { return FrameSASL }

func (p *SASLMechanisms) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescSASLMechanisms)
	if p.Mechanisms == nil {
		w.syms([]Symbol{})
	} else {
		w.syms(p.Mechanisms)
	}
	return w.done()
}

// SASLInit selects a mechanism and starts the exchange (§5.3.3.2).
type SASLInit struct {
	// Mechanism is mandatory.
	Mechanism Symbol
	// InitialResponse: nil is absent; a non-nil empty slice is an empty response.
	InitialResponse []byte
	// Hostname: "" is absent.
	Hostname string
}

// Descriptor returns DescSASLInit.
func (*SASLInit) Descriptor() uint64 { return DescSASLInit }

// FrameType returns FrameSASL.
func (*SASLInit) FrameType() uint8 { return FrameSASL }

func (p *SASLInit) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescSASLInit)
	w.sym(p.Mechanism, true)
	w.bin(p.InitialResponse)
	w.str(p.Hostname, p.Hostname != "")
	return w.done()
}

// SASLChallenge carries a server challenge (§5.3.3.3).
type SASLChallenge struct {
	// Challenge is mandatory; nil encodes as empty.
	Challenge []byte
}

// Descriptor returns DescSASLChallenge.
func (*SASLChallenge) Descriptor() uint64 { return DescSASLChallenge }

// FrameType returns FrameSASL.
func (*SASLChallenge) FrameType() uint8 { return FrameSASL }

func (p *SASLChallenge) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescSASLChallenge)
	w.bin(nonNil(p.Challenge))
	return w.done()
}

// SASLResponse carries a client response (§5.3.3.4).
type SASLResponse struct {
	// Response is mandatory; nil encodes as empty.
	Response []byte
}

// Descriptor returns DescSASLResponse.
func (*SASLResponse) Descriptor() uint64 { return DescSASLResponse }

// FrameType returns FrameSASL.
func (*SASLResponse) FrameType() uint8 { return FrameSASL }

func (p *SASLResponse) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescSASLResponse)
	w.bin(nonNil(p.Response))
	return w.done()
}

// SASLOutcome ends the exchange (§5.3.3.5).
type SASLOutcome struct {
	// Code is mandatory.
	Code SASLCode
	// AdditionalData: nil is absent.
	AdditionalData []byte
}

// Descriptor returns DescSASLOutcome.
func (*SASLOutcome) Descriptor() uint64 { return DescSASLOutcome }

// FrameType returns FrameSASL.
func (*SASLOutcome) FrameType() uint8 { return FrameSASL }

func (p *SASLOutcome) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescSASLOutcome)
	w.value(uint8(p.Code))
	w.bin(p.AdditionalData)
	return w.done()
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func decodeSASL(code uint64, d Described) (Performative, *fieldReader) {
	var r *fieldReader
	switch code {
	case DescSASLMechanisms:
		r = readFields("sasl-mechanisms", d)
		r.need(0)
		return &SASLMechanisms{Mechanisms: r.syms(0)}, r
	case DescSASLInit:
		r = readFields("sasl-init", d)
		r.need(0)
		return &SASLInit{Mechanism: r.sym(0), InitialResponse: r.bin(1), Hostname: r.str(2)}, r
	case DescSASLChallenge:
		r = readFields("sasl-challenge", d)
		r.need(0)
		return &SASLChallenge{Challenge: r.bin(0)}, r
	case DescSASLResponse:
		r = readFields("sasl-response", d)
		r.need(0)
		return &SASLResponse{Response: r.bin(0)}, r
	case DescSASLOutcome:
		r = readFields("sasl-outcome", d)
		r.need(0)
		var c SASLCode
		if v := r.ubytep(0); v != nil {
			c = SASLCode(*v)
		}
		return &SASLOutcome{Code: c, AdditionalData: r.bin(1)}, r
	}
	return nil, nil
}

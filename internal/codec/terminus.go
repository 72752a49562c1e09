package codec

import "fmt"

// Terminus descriptors (§3.5, §4.5.1).
const (
	DescSource      uint64 = 0x28
	DescTarget      uint64 = 0x29
	DescCoordinator uint64 = 0x30
)

// Durability is the terminus durability (§3.5.5).
type Durability uint32

// Terminus durabilities.
const (
	DurabilityNone          Durability = 0
	DurabilityConfiguration Durability = 1
	DurabilityUnsettled     Durability = 2
)

// ExpiryPolicy is the terminus expiry policy (§3.5.6).
type ExpiryPolicy Symbol

// Terminus expiry policies.
const (
	ExpiryLinkDetach      ExpiryPolicy = "link-detach"
	ExpirySessionEnd      ExpiryPolicy = "session-end"
	ExpiryConnectionClose ExpiryPolicy = "connection-close"
	ExpiryNever           ExpiryPolicy = "never"
)

// Distribution modes of a source (§3.5.7).
const (
	DistributionMove Symbol = "move"
	DistributionCopy Symbol = "copy"
)

// Source is the source terminus of a link (§3.5.3).
type Source struct {
	// Address: "" is absent (e.g. a dynamic source before the peer names it).
	Address string
	// Durable: 0 (none) is absent.
	Durable Durability
	// ExpiryPolicy: "" is absent (meaning session-end).
	ExpiryPolicy ExpiryPolicy
	// Timeout in seconds: 0 is absent.
	Timeout uint32
	// Dynamic: false is absent.
	Dynamic bool
	// DynamicNodeProperties: nil is absent.
	DynamicNodeProperties Map
	// DistributionMode: "" is absent.
	DistributionMode Symbol
	// Filter maps filter names (Symbol) to filters (usually Described); nil is absent.
	Filter Map
	// DefaultOutcome: nil is absent.
	DefaultOutcome DeliveryState
	// Outcomes, Capabilities: nil is absent. A single symbol is accepted on input.
	Outcomes     []Symbol
	Capabilities []Symbol
}

func (s *Source) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescSource)
	w.str(s.Address, s.Address != "")
	w.uint(uint32(s.Durable), s.Durable != 0)
	w.sym(Symbol(s.ExpiryPolicy), s.ExpiryPolicy != "")
	w.uint(s.Timeout, s.Timeout != 0)
	w.boolean(s.Dynamic, s.Dynamic)
	w.mapv(s.DynamicNodeProperties)
	w.sym(s.DistributionMode, s.DistributionMode != "")
	w.mapv(s.Filter)
	w.value(s.DefaultOutcome)
	w.syms(s.Outcomes)
	w.syms(s.Capabilities)
	return w.done()
}

func sourceFromDescribed(d Described) (*Source, error) {
	if c, _ := descriptorCode(d.Descriptor); c != DescSource {
		return nil, &DecodeError{Offset: -1, Reason: fmt.Sprintf("want source (0x28), got descriptor %v", d.Descriptor)}
	}
	r := readFields("source", d)
	s := &Source{
		Address:               r.address(0),
		Durable:               Durability(r.uint(1)),
		ExpiryPolicy:          ExpiryPolicy(r.sym(2)),
		Timeout:               r.uint(3),
		Dynamic:               r.boolean(4),
		DynamicNodeProperties: r.mapv(5),
		DistributionMode:      r.sym(6),
		Filter:                r.mapv(7),
		DefaultOutcome:        r.state(8),
		Outcomes:              r.syms(9),
		Capabilities:          r.syms(10),
	}
	return s, r.err
}

// Target is the target terminus of a link (§3.5.4).
type Target struct {
	// Address: "" is absent.
	Address string
	// Durable: 0 (none) is absent.
	Durable Durability
	// ExpiryPolicy: "" is absent (meaning session-end).
	ExpiryPolicy ExpiryPolicy
	// Timeout in seconds: 0 is absent.
	Timeout uint32
	// Dynamic: false is absent.
	Dynamic bool
	// DynamicNodeProperties: nil is absent.
	DynamicNodeProperties Map
	// Capabilities: nil is absent. A single symbol is accepted on input.
	Capabilities []Symbol
}

func (t *Target) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescTarget)
	w.str(t.Address, t.Address != "")
	w.uint(uint32(t.Durable), t.Durable != 0)
	w.sym(Symbol(t.ExpiryPolicy), t.ExpiryPolicy != "")
	w.uint(t.Timeout, t.Timeout != 0)
	w.boolean(t.Dynamic, t.Dynamic)
	w.mapv(t.DynamicNodeProperties)
	w.syms(t.Capabilities)
	return w.done()
}

func targetFromDescribed(d Described) (*Target, error) {
	if c, _ := descriptorCode(d.Descriptor); c != DescTarget {
		return nil, &DecodeError{Offset: -1, Reason: fmt.Sprintf("want target (0x29), got descriptor %v", d.Descriptor)}
	}
	r := readFields("target", d)
	t := &Target{
		Address:               r.address(0),
		Durable:               Durability(r.uint(1)),
		ExpiryPolicy:          ExpiryPolicy(r.sym(2)),
		Timeout:               r.uint(3),
		Dynamic:               r.boolean(4),
		DynamicNodeProperties: r.mapv(5),
		Capabilities:          r.syms(6),
	}
	return t, r.err
}

// Coordinator is the target of a link to a transaction coordinator (§4.5.1).
type Coordinator struct {
	// Capabilities: nil is absent (e.g. amqp:local-transactions).
	Capabilities []Symbol
}

func (c *Coordinator) appendAMQP(b []byte) ([]byte, error) {
	w := newFieldWriter(b, DescCoordinator)
	w.syms(c.Capabilities)
	return w.done()
}

func coordinatorFromDescribed(d Described) (*Coordinator, error) {
	r := readFields("coordinator", d)
	c := &Coordinator{Capabilities: r.syms(0)}
	return c, r.err
}

// address reads an address field. The spec types it "*" (address-string
// in practice); a symbol is accepted too.
func (r *fieldReader) address(i int) string {
	switch v := r.get(i).(type) {
	case nil:
		return ""
	case string:
		return v
	case Symbol:
		return string(v)
	default:
		r.fail(i, "want address string, got %T", v)
		return ""
	}
}

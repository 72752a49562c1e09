package codec

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// l8 and l32 build a list8 / list32 encoding around hex-encoded items.
func l8(count int, items string) string {
	n := len(h(items)) + 1
	return fmt.Sprintf(" c0 %02x %02x %s ", n, count, items)
}

func l32(count int, items string) string {
	n := len(h(items)) + 4
	return fmt.Sprintf(" d0 %08x %08x %s ", n, count, items)
}

// sym builds a sym8 encoding.
func sym(s string) string { return fmt.Sprintf(" a3 %02x %x ", len(s), s) }

func ptr[T any](v T) *T { return &v }

// fullPerformatives has every field of every performative set, with
// values that differ from the defaults (including explicit zeros where
// zero differs from absent).
func fullPerformatives() []Performative {
	info := Map{{Key: Symbol("k"), Value: "v"}}
	caps := []Symbol{"a", "b"}
	return []Performative{
		&Open{ContainerID: "container", Hostname: "host", MaxFrameSize: 65536, ChannelMax: ptr(uint16(0)), IdleTimeOut: 30000,
			OutgoingLocales: []Symbol{"en-US"}, IncomingLocales: []Symbol{"fr"}, OfferedCapabilities: caps, DesiredCapabilities: caps, Properties: info},
		&Begin{RemoteChannel: ptr(uint16(0)), NextOutgoingID: 1, IncomingWindow: 2, OutgoingWindow: 3, HandleMax: ptr(uint32(0)),
			OfferedCapabilities: caps, DesiredCapabilities: caps, Properties: info},
		&Attach{Name: "link", Handle: 7, Role: RoleReceiver, SndSettleMode: ptr(SenderSettleModeUnsettled), RcvSettleMode: ptr(ReceiverSettleModeFirst),
			Source: &Source{Address: "q", Durable: DurabilityUnsettled, ExpiryPolicy: ExpiryNever, Timeout: 5, Dynamic: true,
				DynamicNodeProperties: Map{{Key: Symbol("lifetime-policy"), Value: Described{Descriptor: uint64(0x2b), Value: List{}}}}, DistributionMode: DistributionCopy,
				Filter:         Map{{Key: Symbol("sel"), Value: Described{Descriptor: Symbol("apache.org:selector-filter:string"), Value: "a = 1"}}},
				DefaultOutcome: &Modified{DeliveryFailed: true}, Outcomes: []Symbol{"amqp:accepted:list"}, Capabilities: []Symbol{"topic"}},
			Target: &Target{Address: "t", Durable: DurabilityConfiguration, ExpiryPolicy: ExpiryLinkDetach, Timeout: 1, Dynamic: true,
				DynamicNodeProperties: info, Capabilities: []Symbol{"queue"}},
			Unsettled: Map{{Key: []byte{1}, Value: Described{Descriptor: uint64(0x24), Value: List{}}}}, IncompleteUnsettled: true, InitialDeliveryCount: ptr(uint32(0)),
			MaxMessageSize: 1 << 40, OfferedCapabilities: caps, DesiredCapabilities: caps, Properties: info},
		&Attach{Name: "txn", Handle: 0, Role: RoleSender, Coordinator: &Coordinator{Capabilities: []Symbol{"amqp:local-transactions"}}},
		&Flow{NextIncomingID: ptr(uint32(0)), IncomingWindow: 100, NextOutgoingID: 1 << 31, OutgoingWindow: 0xffffffff, Handle: ptr(uint32(0)),
			DeliveryCount: ptr(uint32(0)), LinkCredit: ptr(uint32(0)), Available: ptr(uint32(0)), Drain: true, Echo: true, Properties: info},
		&Transfer{Handle: 1, DeliveryID: ptr(uint32(0)), DeliveryTag: []byte{}, MessageFormat: ptr(uint32(0)), Settled: true, More: true,
			RcvSettleMode: ptr(ReceiverSettleModeSecond), State: &Received{SectionNumber: 0, SectionOffset: 0}, Resume: true, Aborted: true, Batchable: true},
		&Transfer{Handle: 1, State: &TransactionalState{TxnID: []byte("tx"), Outcome: &Accepted{}}},
		&Disposition{Role: RoleReceiver, First: 0, Last: ptr(uint32(0)), Settled: true, State: &Rejected{Error: &Error{Condition: ErrCondNotFound, Description: "d", Info: info}}, Batchable: true},
		&Disposition{Role: RoleSender, First: 3, State: &Released{}},
		&Disposition{Role: RoleReceiver, First: 3, State: &Declared{TxnID: []byte{1, 2}}},
		&Disposition{Role: RoleReceiver, First: 3, State: &UnknownState{Raw: Described{Descriptor: uint64(0x99), Value: List{true}}}},
		&Detach{Handle: 0, Closed: true, Error: &Error{Condition: ErrCondStolen}},
		&End{Error: &Error{Condition: ErrCondErrantLink, Description: "x"}},
		&Close{Error: &Error{Condition: ErrCondConnectionForced, Info: Map{{Key: Symbol("network-host"), Value: "h"}}}},
		&SASLMechanisms{Mechanisms: []Symbol{"PLAIN", "ANONYMOUS"}},
		&SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00user\x00pass"), Hostname: "h"},
		&SASLChallenge{Challenge: []byte("c")},
		&SASLResponse{Response: []byte("r")},
		&SASLOutcome{Code: SASLCodeSysTemp, AdditionalData: []byte("x")},
	}
}

// minimalPerformatives have only their mandatory fields.
func minimalPerformatives() []Performative {
	return []Performative{
		&Open{ContainerID: "c"},
		&Begin{},
		&Attach{Name: "n"},
		&Flow{},
		&Transfer{},
		&Disposition{},
		&Detach{},
		&End{},
		&Close{},
		&SASLMechanisms{Mechanisms: []Symbol{}},
		&SASLInit{Mechanism: "ANONYMOUS"},
		&SASLChallenge{Challenge: []byte{}},
		&SASLResponse{Response: []byte{}},
		&SASLOutcome{},
	}
}

func TestPerformativeRoundTrip(t *testing.T) {
	for _, p := range append(fullPerformatives(), minimalPerformatives()...) {
		f := Frame{Type: p.FrameType(), Channel: 5, Body: p}
		if _, ok := p.(*Transfer); ok {
			f.Payload = []byte("payload")
		}
		enc, err := AppendFrame(nil, f)
		if err != nil {
			t.Fatalf("%T: AppendFrame: %v", p, err)
		}
		got, err := ReadFrame(bytes.NewReader(enc), 0)
		if err != nil {
			t.Fatalf("%T: ReadFrame(% x): %v", p, enc, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("%T round trip:\n got %#v\nwant %#v", p, got.Body, f.Body)
		}
		// Generic decoding sees a described list with the right descriptor.
		v, _, err := Unmarshal(enc[8:])
		if err != nil {
			t.Fatalf("%T: Unmarshal: %v", p, err)
		}
		if d, ok := v.(Described); !ok || d.Descriptor != p.Descriptor() {
			t.Errorf("%T: generic decode = %#v", p, v)
		}
		// Marshal accepts performatives too.
		m, err := Marshal(p)
		if err != nil || !bytes.HasPrefix(enc[8:], m) {
			t.Errorf("%T: Marshal = % x, %v", p, m, err)
		}
	}
}

// TestAbsentFieldsTrimmed checks that absent trailing fields are not on
// the wire and absent middle ones are nulls.
func TestAbsentFieldsTrimmed(t *testing.T) {
	tests := []struct {
		p    Performative
		want string
	}{
		{&Close{}, "00 53 18 45"},
		{&End{}, "00 53 17 45"},
		{&Open{ContainerID: "c"}, "00 53 10 c0 04 01 a1 01 63"},
		{&Open{ContainerID: "c", ChannelMax: ptr(uint16(0))}, "00 53 10 c0 09 04 a1 01 63 40 40 60 0000"},
		{&Flow{IncomingWindow: 1, NextOutgoingID: 2, OutgoingWindow: 3}, "00 53 13 c0 08 04 40 52 01 52 02 52 03"},
		{&Detach{Handle: 1, Closed: true}, "00 53 16 c0 04 02 52 01 41"},
		{&Disposition{Role: RoleReceiver, First: 0, Settled: true, State: &Accepted{}}, "00 53 15 c0 09 05 41 43 40 41 00 53 24 45"},
		{&SASLOutcome{Code: SASLCodeOK}, "00 53 44 c0 03 01 50 00"},
		{&SASLMechanisms{Mechanisms: []Symbol{"PLAIN"}}, "00 53 40 c0 0b 01 e0 08 01 a3 05 504c41494e"},
		{&Transfer{Handle: 0, DeliveryTag: []byte{}}, "00 53 14 c0 05 03 43 40 a0 00"},
	}
	for _, tt := range tests {
		enc, err := Marshal(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, h(tt.want)) {
			t.Errorf("%T = % x\nwant  % x", tt.p, enc, h(tt.want))
		}
	}
}

// TestDecodePerformativeLeniency checks encodings other peers use: symbolic
// descriptors, single symbols for multiple fields, non-compact numbers,
// explicit nulls and an explicit false.
func TestDecodePerformativeLeniency(t *testing.T) {
	tests := []struct {
		name string
		typ  uint8
		body string
		want Performative
	}{
		{"symbolic descriptor", FrameAMQP, "00 " + sym("amqp:close:list") + " 45", &Close{}},
		{"ulong descriptor", FrameAMQP, "00 80 0000000000000018 45", &Close{}},
		{"close list8 empty", FrameAMQP, "00 53 18 c0 01 00", &Close{}},
		{"close explicit null", FrameAMQP, "00 53 18 c0 02 01 40", &Close{}},
		{"open wide forms", FrameAMQP, "00 53 10 " + l32(5, "b1 00000001 63 40 70 00010000 40 70 00000000"), &Open{ContainerID: "c", MaxFrameSize: 65536}},
		{"open single symbol capability", FrameAMQP, "00 53 10 " + l8(8, "a1 01 63 40 40 40 40 40 40 a3 03 616263"), &Open{ContainerID: "c", OfferedCapabilities: []Symbol{"abc"}}},
		{"detach explicit false", FrameAMQP, "00 53 16 c0 03 02 43 42", &Detach{}},
		{"mechanisms single symbol", FrameSASL, "00 53 40 c0 08 01 a3 05 504c41494e", &SASLMechanisms{Mechanisms: []Symbol{"PLAIN"}}},
		{"flow with extra fields", FrameAMQP, "00 53 13 " + l8(14, "40 43 43 43 40 40 40 40 40 40 40 41 41 41"), &Flow{}},
		{"attach symbolic source", FrameAMQP, "00 53 12 " + l8(6, "a1 01 6e 43 41 40 40 00 "+sym("amqp:source:list")+l8(1, "a1 01 71")),
			&Attach{Name: "n", Role: RoleReceiver, Source: &Source{Address: "q"}}},
		{"transfer symbolic state", FrameAMQP, "00 53 14 " + l8(8, "43 40 40 40 40 40 40 00 "+sym("amqp:accepted:list")+" 45"), &Transfer{State: &Accepted{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, payload, err := DecodeFrameBody(tt.typ, h(tt.body))
			if err != nil {
				t.Fatalf("DecodeFrameBody: %v", err)
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("got  %#v\nwant %#v", p, tt.want)
			}
			if len(payload) != 0 {
				t.Errorf("payload % x", payload)
			}
		})
	}
}

func TestDecodePerformativeErrors(t *testing.T) {
	tests := []struct {
		name string
		typ  uint8
		body string
	}{
		{"not described", FrameAMQP, "45"},
		{"truncated", FrameAMQP, "00 53"},
		{"unknown descriptor", FrameAMQP, "00 53 99 45"},
		{"unknown symbolic descriptor", FrameAMQP, "00 a3 01 78 45"},
		{"sasl in amqp frame", FrameAMQP, "00 53 44 c0 03 01 50 00"},
		{"amqp in sasl frame", FrameSASL, "00 53 18 45"},
		{"section in amqp frame", FrameAMQP, "00 53 70 45"},
		{"body not a list", FrameAMQP, "00 53 18 a1 01 61"},
		{"open missing container-id", FrameAMQP, "00 53 10 45"},
		{"open container-id wrong type", FrameAMQP, "00 53 10 c0 02 01 43"},
		{"begin missing windows", FrameAMQP, "00 53 11 c0 02 01 40"},
		{"attach missing role", FrameAMQP, "00 53 12" + l8(2, "a1 01 6e 43")},
		{"attach source not described", FrameAMQP, "00 53 12" + l8(6, "a1 01 6e 43 41 40 40 45")},
		{"attach source wrong descriptor", FrameAMQP, "00 53 12" + l8(6, "a1 01 6e 43 41 40 40 00 53 29 45")},
		{"attach snd-settle-mode wrong type", FrameAMQP, "00 53 12 c0 08 04 a1 01 6e 43 41 52 01"},
		{"attach capability not a symbol", FrameAMQP, "00 53 12" + l8(12, "a1 01 6e 43 41 40 40 40 40 40 40 40 40 43")},
		{"transfer missing handle", FrameAMQP, "00 53 14 45"},
		{"transfer bad state", FrameAMQP, "00 53 14" + l8(8, "43 40 40 40 40 40 40 43")},
		{"transfer rejected bad error", FrameAMQP, "00 53 14 c0 0f 08 43 40 40 40 40 40 40 00 53 25 c0 02 01 43"},
		{"disposition missing first", FrameAMQP, "00 53 15 c0 02 01 41"},
		{"received missing offset", FrameAMQP, "00 53 15 c0 09 05 41 43 40 40 00 53 23 45"},
		{"detach error missing condition", FrameAMQP, "00 53 16 c0 07 03 43 40 00 53 1d 45"},
		{"detach error not an error", FrameAMQP, "00 53 16 c0 07 03 43 40 00 53 24 45"},
		{"payload after close", FrameAMQP, "00 53 18 45 ff"},
		{"mechanisms missing", FrameSASL, "00 53 40 45"},
		{"outcome code wrong type", FrameSASL, "00 53 44 c0 02 01 43"},
		{"init mechanism missing", FrameSASL, "00 53 41 45"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := DecodeFrameBody(tt.typ, h(tt.body))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeFrameBody = %#v, %v; want *DecodeError", p, err)
			}
			t.Log(err)
		})
	}
}

func TestDeliveryStateDecode(t *testing.T) {
	for _, s := range []DeliveryState{
		&Accepted{}, &Released{}, &Received{SectionNumber: 1, SectionOffset: 1 << 40}, &Rejected{}, &Rejected{Error: &Error{Condition: ErrCondInternalError}},
		&Modified{}, &Modified{UndeliverableHere: true, MessageAnnotations: Map{{Key: Symbol("x-opt-a"), Value: int64(1)}}},
		&Declared{TxnID: []byte{9}}, &TransactionalState{TxnID: []byte{9}},
		&UnknownState{Raw: Described{Descriptor: Symbol("vendor:state"), Value: nil}},
	} {
		enc, err := Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := Unmarshal(enc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeDeliveryState(v.(Described))
		if err != nil {
			t.Fatalf("%T: %v", s, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("got %#v, want %#v", got, s)
		}
		if _, ok := s.(*UnknownState); !ok && got.Descriptor() != s.Descriptor() {
			t.Errorf("Descriptor mismatch")
		}
	}
}

func TestErrorType(t *testing.T) {
	var err error = &Error{Condition: ErrCondNotFound, Description: "no queue"}
	if err.Error() != "amqp:not-found: no queue" {
		t.Errorf("Error() = %q", err.Error())
	}
	if (&Error{Condition: ErrCondNotAllowed}).Error() != "amqp:not-allowed" {
		t.Error("Error() without description")
	}
	enc, err := Marshal(Error{Condition: ErrCondNotFound})
	if err != nil || !bytes.Equal(enc, h("00 53 1d c0 11 01 a3 0e 616d71703a6e6f742d666f756e64")) {
		t.Errorf("Marshal(Error) = % x, %v", enc, err)
	}
	enc, err = Marshal((*Error)(nil))
	if err != nil || !bytes.Equal(enc, []byte{0x40}) {
		t.Errorf("Marshal(nil *Error) = % x, %v", enc, err)
	}
}

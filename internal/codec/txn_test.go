package codec

import (
	"bytes"
	"testing"
)

// The coordinator's requests survive encoding, and what is not one is an
// error rather than a guess.
func TestParseCoordinatorRequest(t *testing.T) {
	roundTrip := func(v any) *Message {
		t.Helper()
		b, err := (&Message{Value: v, HasValue: true}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m, err := UnmarshalMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	req, err := ParseCoordinatorRequest(roundTrip(DeclareBody()))
	if err != nil || !req.Declare {
		t.Errorf("declare: %+v, %v", req, err)
	}
	req, err = ParseCoordinatorRequest(roundTrip(DischargeBody([]byte{1, 2}, true)))
	if err != nil || req.Declare || !bytes.Equal(req.TxnID, []byte{1, 2}) || !req.Fail {
		t.Errorf("discharge: %+v, %v", req, err)
	}
	// Proton writes the descriptor as a symbol sometimes; the same request.
	req, err = ParseCoordinatorRequest(roundTrip(Described{Descriptor: Symbol("amqp:discharge:list"), Value: List{[]byte{3}, false}}))
	if err != nil || !bytes.Equal(req.TxnID, []byte{3}) || req.Fail {
		t.Errorf("discharge by symbol: %+v, %v", req, err)
	}
	for name, m := range map[string]*Message{
		"no message":          nil,
		"data body":           {Data: [][]byte{{1}}},
		"string value":        roundTrip("declare"),
		"other descriptor":    roundTrip(Described{Descriptor: uint64(0x33), Value: List{}}),
		"discharge no txn-id": roundTrip(Described{Descriptor: DescDischarge, Value: List{nil, true}}),
		"discharge bad txn":   roundTrip(Described{Descriptor: DescDischarge, Value: List{"id", true}}),
	} {
		if _, err := ParseCoordinatorRequest(m); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

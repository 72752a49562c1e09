package typefix

import (
	"reflect"
	"strings"
	"testing"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/codec"
)

// decodeIncoming rewrites an encoded message as the connection does on the
// way in and decodes it with go-amqp.
func decodeIncoming(t *testing.T, b []byte) *amqp.Message {
	t.Helper()
	in, _ := rewritePayload(b, false, nil)
	if in == nil {
		in = b
	}
	var m amqp.Message
	if err := m.UnmarshalBinary(in); err != nil {
		t.Fatalf("go-amqp cannot decode the rewritten message: %v", err)
	}
	// And the way back out gives the original message (arrays of maps may
	// come back in their 32-bit form).
	if out, ok := rewritePayload(in, true, nil); ok {
		got, err1 := codec.UnmarshalMessage(out)
		want, err2 := codec.UnmarshalMessage(b)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(normalise(got), normalise(want)) {
			t.Fatalf("round trip changed the message:\n got %x\nwant %x", out, b)
		}
	}
	return &m
}

// TestSymbolValues: a symbol where a value goes keeps its type (go-amqp
// alone decodes it as a string); symbols that are map keys or fields go-amqp
// decodes itself are left alone.
func TestSymbolValues(t *testing.T) {
	b := encode(t, &codec.Message{
		MessageAnnotations:    codec.Map{{Key: codec.Symbol("x-opt-s"), Value: codec.Symbol("v")}},
		DeliveryAnnotations:   codec.Map{{Key: codec.Symbol("x-d"), Value: codec.Symbol("")}},
		Properties:            &codec.Properties{ContentType: ptr(codec.Symbol("text/plain")), To: ptr("q")},
		ApplicationProperties: codec.Map{{Key: "s", Value: codec.Symbol("app")}},
		Value: codec.List{
			codec.Symbol("in-list"),
			codec.Map{{Key: codec.Symbol("key"), Value: codec.Symbol("val")}},
			[]codec.Symbol{"a", "b"},
			codec.Described{Descriptor: codec.Symbol("x:d"), Value: codec.Symbol("inner")},
			codec.Symbol(strings.Repeat("y", 300)), // sym32
		},
		HasValue: true,
		Footer:   codec.Map{{Key: codec.Symbol("f"), Value: codec.Symbol("foot")}},
	})
	m := decodeIncoming(t, b)
	check := func(name string, got, want any) {
		t.Helper()
		if r := Restore(got); !reflect.DeepEqual(r, want) {
			t.Errorf("%s: got %#v, want %#v", name, r, want)
		}
	}
	check("annotation", m.Annotations["x-opt-s"], amqp.Symbol("v"))
	check("delivery annotation", m.DeliveryAnnotations["x-d"], amqp.Symbol(""))
	check("application property", m.ApplicationProperties["s"], amqp.Symbol("app"))
	check("footer", m.Footer["f"], amqp.Symbol("foot"))
	if m.Properties == nil || m.Properties.ContentType == nil || *m.Properties.ContentType != "text/plain" {
		t.Errorf("content-type: %#v", m.Properties)
	}
	check("body", m.Value, []any{
		amqp.Symbol("in-list"),
		map[string]any{"key": amqp.Symbol("val")}, // a key stays a string
		[]amqp.Symbol{"a", "b"},
		Described{Descriptor: amqp.Symbol("x:d"), Value: amqp.Symbol("inner")},
		amqp.Symbol(strings.Repeat("y", 300)),
	})
}

// TestUndecodableValues: arrays go-amqp has no decoder for, and values
// described by AMQP's own descriptors, reach the application instead of
// failing the link.
func TestUndecodableValues(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want any
	}{
		{"array of lists", codec.Array{Values: []any{codec.List{int32(1)}, codec.List{"x", codec.Symbol("s")}}},
			Array{Values: []any{[]any{int32(1)}, []any{"x", amqp.Symbol("s")}}}},
		{"array of empty lists", codec.Array{Elem: codec.TypeList0, Values: []any{codec.List{}, codec.List{}}},
			Array{Values: []any{[]any(nil), []any(nil)}}},
		{"array of arrays", codec.Array{Values: []any{[]int32{1, 2}, []int32{3}}},
			Array{Values: []any{[]int32{1, 2}, []int32{3}}}},
		{"described elements", codec.Array{Descriptor: codec.Symbol("x:pt"), Values: []any{int32(1), int32(2)}},
			Array{Descriptor: amqp.Symbol("x:pt"), Values: []any{int32(1), int32(2)}}},
		{"array of nulls", codec.Array{Elem: codec.TypeNull, Values: []any{nil, nil}}, Array{Values: []any{nil, nil}}},
		{"empty array of nulls", codec.Array{Elem: codec.TypeNull}, Array{Values: []any{}}},
		{"array of ubyte", codec.Array{Values: []any{uint8(1), uint8(255)}}, Array{Values: []any{uint8(1), uint8(255)}}},
		{"accepted outcome as a value", codec.Described{Descriptor: uint64(0x24), Value: codec.List{}},
			Described{Descriptor: uint64(0x24), Value: []any(nil)}},
		{"open performative as a value", codec.Described{Descriptor: uint64(0x10), Value: codec.List{"container"}},
			Described{Descriptor: uint64(0x10), Value: []any{"container"}}},
		{"user ulong descriptor", codec.Described{Descriptor: uint64(0x0000468c_00000001), Value: "x"},
			Described{Descriptor: uint64(0x0000468c_00000001), Value: "x"}},
		{"in a map in an array", codec.Array{Values: []any{codec.Map{{Key: "a", Value: codec.Array{Elem: codec.TypeNull, Values: []any{nil}}}}}},
			[]map[any]any{{"a": Array{Values: []any{nil}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encode(t, &codec.Message{
				Value:              codec.List{tt.v},
				MessageAnnotations: codec.Map{{Key: codec.Symbol("x-v"), Value: tt.v}},
				HasValue:           true,
			})
			m := decodeIncoming(t, b)
			if got := Restore(m.Value); !reflect.DeepEqual(got, []any{tt.want}) {
				t.Errorf("body: got %#v, want %#v", got, []any{tt.want})
			}
			if got := Restore(m.Annotations["x-v"]); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("annotation: got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestToWire: what ToWire returns for amq's own types, go-amqp encodes, and
// the outgoing rewrite turns into the AMQP encoding the project's codec
// gives the same value.
func TestToWire(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want any // as codec.Unmarshal decodes it
	}{
		{"described, symbol descriptor", Described{Descriptor: amqp.Symbol("x:pt"), Value: []any{int32(1), codec.Char('c')}},
			codec.Described{Descriptor: codec.Symbol("x:pt"), Value: codec.List{int32(1), codec.Char('c')}}},
		{"described, string descriptor", &Described{Descriptor: "x:s", Value: nil},
			codec.Described{Descriptor: codec.Symbol("x:s"), Value: nil}},
		{"described, ulong descriptor 0", Described{Descriptor: uint64(0), Value: "v"},
			codec.Described{Descriptor: uint64(0), Value: "v"}},
		{"described, AMQP descriptor", Described{Descriptor: uint64(0x24), Value: []any{}},
			codec.Described{Descriptor: uint64(0x24), Value: codec.List{}}},
		{"array of ubyte", Array{Values: []any{uint8(1), uint8(2)}},
			codec.Array{Elem: codec.TypeUbyte, Values: []any{uint8(1), uint8(2)}}},
		{"array of lists", Array{Values: []any{[]any{amqp.Symbol("s")}, []any{}}},
			codec.Array{Elem: codec.TypeList32, Values: []any{codec.List{codec.Symbol("s")}, codec.List{}}}},
		{"described elements", &Array{Descriptor: uint64(7), Values: []any{"a", "b"}},
			codec.Array{Descriptor: uint64(7), Elem: codec.TypeStr8, Values: []any{"a", "b"}}},
		{"array of uuid", Array{Values: []any{amqp.UUID{1}}},
			[]codec.UUID{{1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, changed, err := ToWire([]any{tt.v})
			if err != nil || !changed {
				t.Fatalf("ToWire: %v, changed %v", err, changed)
			}
			gm := &amqp.Message{Value: w}
			b, err := gm.MarshalBinary()
			if err != nil {
				t.Fatalf("go-amqp cannot encode it: %v", err)
			}
			out, ok := rewritePayload(b, true, nil)
			if !ok {
				out = b
			}
			m, err := codec.UnmarshalMessage(out)
			if err != nil {
				t.Fatal(err)
			}
			got := m.Value.(codec.List)[0]
			if a, ok := got.(codec.Array); ok && a.Elem != 0 {
				if w, ok := tt.want.(codec.Array); ok && w.Elem != a.Elem && sameFamily(w.Elem, a.Elem) {
					a.Elem = w.Elem
					got = a
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("peer gets %#v, want %#v", got, tt.want)
			}
		})
	}
}

// sameFamily: list8 and list32, str8 and str32 are the same element type.
func sameFamily(a, b codec.TypeCode) bool {
	return a&0x0f == b&0x0f && a&0xf0 >= 0xa0 && b&0xf0 >= 0xa0
}

func TestToWireErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    any
		want string
	}{
		{"no descriptor", Described{Value: 1}, "needs a descriptor"},
		{"empty symbol", Described{Descriptor: amqp.Symbol(""), Value: 1}, "symbol is empty"},
		{"bad descriptor type", Described{Descriptor: 3.5, Value: 1}, "must be an amq.Symbol or a uint64"},
		{"mixed array", Array{Values: []any{int32(1), "x"}}, "values of one type"},
		{"nested bad descriptor", map[string]any{"k": []any{Described{Descriptor: int8(1)}}}, "must be an amq.Symbol or a uint64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ToWire(tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// normalise forgets the width of arrays' element constructors (map8 and
// map32 are the same type).
func normalise(v any) any {
	switch x := v.(type) {
	case *codec.Message:
		c := *x
		c.Value = normalise(c.Value)
		c.MessageAnnotations = normalise(c.MessageAnnotations).(codec.Map)
		return c
	case codec.Array:
		if x.Elem&0xf0 >= 0xa0 {
			x.Elem &^= 0x10
		}
		vals := make([]any, len(x.Values))
		for i, e := range x.Values {
			vals[i] = normalise(e)
		}
		x.Values = vals
		return x
	case codec.List:
		out := make(codec.List, len(x))
		for i, e := range x {
			out[i] = normalise(e)
		}
		return out
	case codec.Map:
		out := make(codec.Map, len(x))
		for i, e := range x {
			out[i] = codec.MapEntry{Key: e.Key, Value: normalise(e.Value)}
		}
		return out
	}
	return v
}

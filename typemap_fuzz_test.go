package amq

import (
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

// FuzzTypeMapRoundTrip feeds what a peer could send through the client's
// side of the type map: any value the codec decodes becomes a Go value
// without panicking (a Go map cannot hold a binary key, for one), and that
// Go value sends back: toCodec accepts it and the codec encodes it.
func FuzzTypeMapRoundTrip(f *testing.F) {
	for _, v := range []any{
		codec.Map{{Key: []byte{1}, Value: "v"}, {Key: codec.Symbol("s"), Value: int32(1)}},
		codec.Map{{Key: "k", Value: int32(1)}, {Key: "k", Value: int32(2)}},
		codec.Map{{Key: codec.List{int32(1)}, Value: codec.Map{{Key: codec.Map{}, Value: nil}}}},
		codec.Array{Elem: codec.TypeMap32, Values: []any{codec.Map{{Key: []byte{1}, Value: "v"}}, codec.Map{}}},
		codec.Array{Elem: codec.TypeUbyte, Values: []any{}},
		codec.Described{Descriptor: codec.Symbol("x:k"), Value: codec.Map{{Key: codec.Described{Descriptor: uint64(1), Value: []byte{2}}, Value: "v"}}},
		codec.List{codec.Array{Elem: codec.TypeList32, Values: []any{codec.List{}}}, codec.Char('x')},
	} {
		b, err := codec.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, _, err := codec.Unmarshal(data)
		if err != nil {
			return
		}
		g := fromCodec(v, 0)
		back, err := toCodec(g, 0)
		if err != nil {
			t.Fatalf("the Go value %#v of %#v does not send back: %v", g, v, err)
		}
		if _, err := codec.Marshal(back); err != nil {
			t.Fatalf("%#v (from %#v) does not encode: %v", back, v, err)
		}
	})
}

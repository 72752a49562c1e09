package amq_test

import (
	"fmt"

	"github.com/amqgo/amq"
)

func ExampleDescribed() {
	// A value with a descriptor naming its meaning, as Proton's Described.
	point := amq.Described{Descriptor: amq.Symbol("com.example:point"), Value: []any{int32(3), int32(4)}}
	got := exampleRoundTrip(amq.NewMessage(point))
	d := got.Body.(amq.Described)
	fmt.Println(d.Descriptor, d.Value)
	// Output: com.example:point [3 4]
}

func ExampleArray() {
	// []uint8 is AMQP binary; an array of ubyte is an amq.Array.
	bytes := amq.Array{Values: []any{uint8(1), uint8(2), uint8(3)}}
	// An array whose elements are lists has no typed slice either.
	rows := amq.Array{Values: []any{[]any{"a", int64(1)}, []any{"b", int64(2)}}}
	got := exampleRoundTrip(amq.NewMessage([]any{bytes, rows}))
	for _, v := range got.Body.([]any) {
		fmt.Println(v.(amq.Array).Values...)
	}
	// Output:
	// 1 2 3
	// [a 1] [b 2]
}

func ExampleMap() {
	// A map whose keys Go cannot put in a map (here a binary key) arrives
	// as an amq.Map: ordered, every key of its AMQP type.
	sent := amq.Map{
		{Key: []byte{0xca, 0xfe}, Value: "binary key"},
		{Key: amq.Symbol("colour"), Value: "symbol key"},
		{Key: int64(7), Value: "long key"},
	}
	got := exampleRoundTrip(amq.NewMessage(sent)).Body.(amq.Map)
	for _, e := range got {
		fmt.Printf("%T %v: %v\n", e.Key, e.Key, e.Value)
	}
	v, _ := got.Get([]byte{0xca, 0xfe})
	fmt.Println(v)
	// Output:
	// []uint8 [202 254]: binary key
	// amqptype.Symbol colour: symbol key
	// int64 7: long key
	// binary key
}

func ExampleMapEntry() {
	// Entries keep their order, so a map can be sent with its keys in the
	// order a peer expects.
	var m amq.Map
	m.Set("first", int32(1))
	m.Set("second", int32(2))
	m = append(m, amq.MapEntry{Key: []any{"list", "key"}, Value: true})
	got := exampleRoundTrip(amq.NewMessage(m)).Body.(amq.Map)
	for _, e := range got {
		fmt.Println(e.Key, e.Value)
	}
	// Output:
	// first 1
	// second 2
	// [list key] true
}

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

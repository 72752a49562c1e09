package amq_test

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

// TestTypeMapRoundTrip sends one message per row of the type table (as the
// body, as an application property where the spec allows it, and nested in
// a list and a map) through the embedded broker and checks type and value.
func TestTypeMapRoundTrip(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "types", nil)
	require.NoError(t, err)
	s, err := c.NewSender(ctx, "types", nil)
	require.NoError(t, err)

	d128 := amq.Decimal128{0x30, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a}
	ts := time.UnixMilli(1_700_000_000_123).UTC()
	tests := []struct {
		name   string
		v      any
		simple bool // allowed as an application property value
	}{
		{"null", nil, true},
		{"boolean", true, true},
		{"ubyte", uint8(255), true},
		{"ushort", uint16(65535), true},
		{"uint", uint32(math.MaxUint32), true},
		{"ulong", uint64(math.MaxUint64), true},
		{"byte", int8(-128), true},
		{"short", int16(math.MinInt16), true},
		{"int", int32(math.MinInt32), true},
		{"long", int64(math.MaxInt64), true},
		{"float", float32(1.5), true},
		{"float +Inf", float32(math.Inf(1)), true},
		{"double", math.MaxFloat64, true},
		{"double -Inf", math.Inf(-1), true},
		{"float max", float32(math.MaxFloat32), true},
		{"float smallest", float32(math.SmallestNonzeroFloat32), true},
		{"double smallest", math.SmallestNonzeroFloat64, true},
		{"ulong zero", uint64(0), true},
		{"long min", int64(math.MinInt64), true},
		{"char", amq.Char('€'), true},
		{"decimal32", amq.Decimal32{0x22, 0x50, 0, 0x07}, true},
		{"decimal64", amq.Decimal64{0x22, 0x38, 0, 0, 0, 0, 0, 0x2a}, true},
		{"decimal128", d128, true},
		{"timestamp", ts, true},
		{"timestamp epoch", time.UnixMilli(0).UTC(), true},
		{"timestamp before the epoch", time.UnixMilli(-1).UTC(), true},
		{"timestamp year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC), true},
		{"timestamp year 1", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"uuid", amq.UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, true},
		{"binary (not UTF-8)", []byte{0xff, 0xfe, 0x00, 0x80}, true},
		{"string", "grüße, 世界", true},
		{"empty string", "", true},
		{"long string", strings.Repeat("é", 100_000), true},
		{"long binary", bytes.Repeat([]byte{0, 0xff}, 50_000), true},
		{"deep nesting", []any{map[string]any{"l": []any{[]int16{-1, 1}, map[any]any{int32(1): []any{amq.Decimal32{1}, amq.Symbol("s")}}}}}, false},
		{"list", []any{int64(1), "two", amq.Char('3'), []any{true}}, false},
		{"empty list", []any(nil), false}, // go-amqp decodes an empty list as a nil []any
		{"map", map[string]any{"k": amq.Decimal64{1}, "nested": map[string]any{"x": int32(1)}}, false},
		{"array of int", []int32{1, 2, 3}, false},
		{"array of string", []string{"a", "b"}, false},
		{"array of char", []amq.Char{'a', 'b'}, false},
		{"array of decimal64", []amq.Decimal64{{1}, {2}}, false},
		{"symbol", amq.Symbol("amq:sym"), true},
		{"empty symbol", amq.Symbol(""), true},
		{"list of symbols", []any{amq.Symbol("a"), "b", map[string]any{"k": amq.Symbol("v")}}, false},
		{"array of symbol", []amq.Symbol{"a", "b"}, false},
		{"array of uuid", []amq.UUID{{1}, {2}}, false},
		{"described, symbol descriptor", amq.Described{Descriptor: amq.Symbol("com.example:point"), Value: []any{int32(1), amq.Char('y')}}, false},
		{"described, ulong descriptor", amq.Described{Descriptor: uint64(0x0000_468c_0000_0001), Value: "v"}, false},
		{"described by AMQP (accepted)", amq.Described{Descriptor: uint64(0x24), Value: []any(nil)}, false},
		{"array of ubyte", amq.Array{Values: []any{uint8(0), uint8(255)}}, false},
		{"array of lists", amq.Array{Values: []any{[]any{int32(1)}, []any{amq.Symbol("s")}}}, false},
		{"array of arrays", amq.Array{Values: []any{[]int64{1}, []int64{2, 3}}}, false},
		{"array of nulls", amq.Array{Values: []any{nil, nil}}, false},
		{"array of described", amq.Array{Descriptor: amq.Symbol("x:pt"), Values: []any{int32(1), int32(2)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := amq.NewMessage(tt.v)
			if tt.simple {
				m.Properties = map[string]any{"v": tt.v}
			}
			m.Annotations = map[string]any{"x-opt-v": []any{tt.v}}
			require.NoError(t, s.Send(ctx, m))
			d, err := r.Receive(ctx)
			require.NoError(t, err)
			same := func(want, got any, where string) {
				t.Helper()
				if wt, ok := want.(time.Time); ok {
					// An AMQP timestamp has no zone: compare the instant.
					gt, ok := got.(time.Time)
					assert.True(t, ok && wt.Equal(gt), "%s: got %v", where, got)
					return
				}
				if want != nil {
					assert.IsType(t, want, got, where)
				}
				assert.Equal(t, want, got, where)
			}
			same(tt.v, d.Message.Body, "as the body")
			if tt.simple {
				same(tt.v, d.Message.Properties["v"], "as an application property")
			}
			nested, ok := d.Message.Annotations["x-opt-v"].([]any)
			require.True(t, ok)
			require.Len(t, nested, 1)
			same(tt.v, nested[0], "nested in an annotation")
		})
	}
	t.Run("NaN", func(t *testing.T) {
		require.NoError(t, s.Send(ctx, amq.NewMessage(math.NaN())))
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		assert.True(t, math.IsNaN(d.Message.Body.(float64)))
	})
}

// TestTypeMapSendErrors: a value that cannot be encoded fails the send with
// a clear error, before anything is written.
func TestTypeMapSendErrors(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	s, err := c.NewSender(ctx, "types-errors", nil)
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		msg  *amq.Message
		want string
	}{
		{"described without descriptor", amq.NewMessage(amq.Described{Value: 1}), "message body: a Described needs a descriptor"},
		{"mixed array", amq.NewMessage(amq.Array{Values: []any{int32(1), "x"}}), "holds values of one type"},
		{"bad annotation", &amq.Message{Body: "x", Annotations: map[string]any{"x-a": amq.Described{Descriptor: 1.5}}}, `annotation "x-a"`},
		{"bad property", &amq.Message{Body: "x", Properties: map[string]any{"p": amq.Described{}}}, "message property"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Send(ctx, tt.msg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, err = s.SendAsync(ctx, tt.msg)
			require.Error(t, err)
		})
	}
	assert.Equal(t, 0, b.QueueDepth("types-errors"))
}

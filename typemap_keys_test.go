package amq_test

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// An AMQP map may have keys of any type, and the same key twice. A peer
// sends one map per key type (as the body, inside a list and in an array
// of maps); amq hands each out as a Go value that keeps every key with its
// type, and sending that value back gives the peer the map it sent, entry
// for entry. No such map ends the link (they once did: "invalid map key").
func TestMapKeysOfEveryType(t *testing.T) {
	desc := codec.Described{Descriptor: codec.Symbol("x:key"), Value: "k"}
	tests := []struct {
		name string
		m    codec.Map
		want any // the Go value amq hands out for m as the body
	}{
		{"string keys", codec.Map{{Key: "a", Value: int32(1)}, {Key: "b", Value: int32(2)}},
			map[string]any{"a": int32(1), "b": int32(2)}},
		{"symbol keys", codec.Map{{Key: codec.Symbol("a"), Value: int64(1)}},
			map[amq.Symbol]any{"a": int64(1)}},
		{"string and symbol keys with the same text", codec.Map{{Key: "a", Value: int64(1)}, {Key: codec.Symbol("a"), Value: int64(2)}},
			map[any]any{"a": int64(1), amq.Symbol("a"): int64(2)}},
		{"scalar keys", codec.Map{
			{Key: int64(1), Value: "long"}, {Key: uint8(1), Value: "ubyte"}, {Key: true, Value: "boolean"},
			{Key: nil, Value: "null"}, {Key: 1.5, Value: "double"}, {Key: codec.Char('c'), Value: "char"},
			{Key: codec.UUID{1}, Value: "uuid"}, {Key: time.UnixMilli(5).UTC(), Value: "timestamp"},
			{Key: codec.Decimal64{1}, Value: "decimal64"}, {Key: desc, Value: "described"},
		}, map[any]any{
			int64(1): "long", uint8(1): "ubyte", true: "boolean", nil: "null", 1.5: "double",
			amq.Char('c'): "char", amq.UUID{1}: "uuid", time.UnixMilli(5).UTC(): "timestamp",
			amq.Decimal64{1}: "decimal64", amq.Described{Descriptor: amq.Symbol("x:key"), Value: "k"}: "described",
		}},
		{"binary key", codec.Map{{Key: []byte{0, 0xff}, Value: "v"}, {Key: "s", Value: "w"}},
			amq.Map{{Key: []byte{0, 0xff}, Value: "v"}, {Key: "s", Value: "w"}}},
		{"list key", codec.Map{{Key: codec.List{int32(1), "x"}, Value: "v"}},
			amq.Map{{Key: []any{int32(1), "x"}, Value: "v"}}},
		{"map key", codec.Map{{Key: codec.Map{{Key: "k", Value: "v"}}, Value: int32(1)}},
			amq.Map{{Key: map[string]any{"k": "v"}, Value: int32(1)}}},
		{"array key", codec.Map{{Key: []int32{1, 2}, Value: "v"}},
			amq.Map{{Key: []int32{1, 2}, Value: "v"}}},
		{"described binary key", codec.Map{{Key: codec.Described{Descriptor: uint64(7), Value: []byte{1}}, Value: "v"}},
			amq.Map{{Key: amq.Described{Descriptor: uint64(7), Value: []byte{1}}, Value: "v"}}},
		{"the same key twice", codec.Map{{Key: "k", Value: int32(1)}, {Key: "k", Value: int32(2)}},
			amq.Map{{Key: "k", Value: int32(1)}, {Key: "k", Value: int32(2)}}},
		{"NaN key", codec.Map{{Key: math.NaN(), Value: "v"}}, nil}, // checked below
	}

	out := make(chan *codec.Message, 64)
	back := make(chan *codec.Message, 64)
	h := server.HandlerFuncs{
		ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
			for {
				select {
				case m := <-out:
					if _, err := s.Send(ctx, m, true); err != nil {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		},
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				m, err := d.Message()
				if err != nil {
					_ = d.Reject(&codec.Error{Condition: codec.ErrCondDecodeError, Description: err.Error()})
					continue
				}
				_ = d.Accept()
				back <- m
			}
		},
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	c := dial(t, srv.URL(), nil)
	ctx := testCtx(t)
	r, err := c.NewReceiver(ctx, "maps", nil)
	require.NoError(t, err)
	s, err := c.NewSender(ctx, "back", nil)
	require.NoError(t, err)

	roundTrip := func(t *testing.T, v any) (any, any) {
		t.Helper()
		out <- &codec.Message{Value: v, HasValue: true}
		d, err := r.Receive(ctx)
		require.NoError(t, err, "the link must survive any map")
		require.NoError(t, s.Send(ctx, amq.NewMessage(d.Message.Body)))
		select {
		case m := <-back:
			return d.Message.Body, m.Value
		case <-ctx.Done():
			t.Fatal("the map did not come back")
			return nil, nil
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, echoed := roundTrip(t, tt.m)
			if tt.want != nil {
				assert.IsType(t, tt.want, got)
				assert.Equal(t, tt.want, got)
			}
			if tt.name == "NaN key" {
				m, ok := got.(map[any]any)
				require.True(t, ok, "got %T", got)
				require.Len(t, m, 1)
				for k := range m {
					assert.True(t, math.IsNaN(k.(float64)))
				}
				return
			}
			assertSameMap(t, tt.m, echoed)

			t.Run("in a list", func(t *testing.T) {
				got, echoed := roundTrip(t, codec.List{tt.m})
				require.IsType(t, []any{}, got)
				assert.Equal(t, tt.want, got.([]any)[0])
				require.IsType(t, codec.List{}, echoed)
				assertSameMap(t, tt.m, echoed.(codec.List)[0])
			})
			t.Run("in an array of maps", func(t *testing.T) {
				other := codec.Map{{Key: "plain", Value: int32(0)}}
				_, echoed := roundTrip(t, codec.Array{Elem: codec.TypeMap32, Values: []any{other, tt.m}})
				require.IsType(t, codec.Array{}, echoed)
				a := echoed.(codec.Array)
				assert.Contains(t, []codec.TypeCode{codec.TypeMap8, codec.TypeMap32}, a.Elem)
				require.Len(t, a.Values, 2)
				assertSameMap(t, other, a.Values[0])
				assertSameMap(t, tt.m, a.Values[1])
			})
		})
	}
	t.Run("array of maps, one with a binary key", func(t *testing.T) {
		bin := codec.Map{{Key: []byte{1}, Value: "v"}}
		got, _ := roundTrip(t, codec.Array{Elem: codec.TypeMap32, Values: []any{codec.Map{{Key: "a", Value: "b"}}, bin}})
		assert.Equal(t, amq.Array{Values: []any{amq.Map{{Key: "a", Value: "b"}}, amq.Map{{Key: []byte{1}, Value: "v"}}}}, got)
	})
}

// assertSameMap checks that got is the map want, entry for entry: keys and
// values of the same AMQP types, in the same order (the client may order
// the entries of a Go map it sends, so an entry is looked up by key when
// want has no Map-only key).
func assertSameMap(t *testing.T, want codec.Map, got any) {
	t.Helper()
	m, ok := got.(codec.Map)
	require.True(t, ok, "got %T %#v", got, got)
	require.Len(t, m, len(want))
	ordered := false
	for _, e := range want {
		if e.Key != nil && !reflect.ValueOf(e.Key).Comparable() {
			ordered = true // amq hands the map out as an ordered amq.Map
		}
	}
	if ordered || hasDuplicateKeys(want) {
		assert.Equal(t, want, m)
		return
	}
	for _, e := range want {
		v, ok := m.Get(e.Key)
		if assert.True(t, ok, "key %T %v missing from %#v", e.Key, e.Key, m) {
			assert.Equal(t, e.Value, v, "key %T %v", e.Key, e.Key)
		}
	}
}

func hasDuplicateKeys(m codec.Map) bool {
	for i := range m {
		for j := range i {
			if _, ok := (codec.Map{m[j]}).Get(m[i].Key); ok {
				return true
			}
		}
	}
	return false
}

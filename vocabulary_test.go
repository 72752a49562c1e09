package amq_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqptype"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/server"
)

// TestOneVocabulary: the client and the server share one set of AMQP
// types, defined in package amqptype, and %T names them so.
func TestOneVocabulary(t *testing.T) {
	var (
		_ server.Symbol = amq.Symbol("")
		_ server.Map    = amqptype.Map(nil)
		_ amq.Described = amqptype.Described{}
	)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{amq.Symbol("s"), "amqptype.Symbol"},
		{amq.Char('x'), "amqptype.Char"},
		{amq.UUID{}, "amqptype.UUID"},
		{amq.Decimal64{}, "amqptype.Decimal64"},
		{amq.Described{}, "amqptype.Described"},
		{amq.Array{}, "amqptype.Array"},
		{server.Map{}, "amqptype.Map"},
		{&server.Error{}, "*amqptype.Error"},
	} {
		assert.Equal(t, tc.want, fmt.Sprintf("%T", tc.v))
	}
}

// TestEmptyArrayKeepsItsElementType: an empty array has no value to tell
// its element type by; Elem carries it both ways (an array of maps, even
// empty, is a []map[any]any).
func TestEmptyArrayKeepsItsElementType(t *testing.T) {
	b := amqtest.NewBroker(t)
	c := dial(t, b.URL(), nil)
	ctx := testCtx(t)
	// The width of the element constructor is the encoder's choice:
	// list8 or list32 are the same AMQP type.
	kinds := []map[amqptype.TypeCode]bool{
		{amqptype.TypeUbyte: true},
		{amqptype.TypeList8: true, amqptype.TypeList32: true, amqptype.TypeList0: true},
	}
	sent := []amqptype.TypeCode{amqptype.TypeUbyte, amqptype.TypeList32, amqptype.TypeMap32}
	for _, elem := range sent {
		require.NoError(t, c.Send(ctx, amq.NewMessage(amq.Array{Elem: elem}).SetTo("empty-arrays")))
	}
	r, err := c.NewReceiver(ctx, "empty-arrays", nil)
	require.NoError(t, err)
	for i := range sent {
		d, err := r.Receive(ctx)
		require.NoError(t, err)
		if i == 2 {
			assert.Equal(t, []map[any]any{}, d.Message.Body)
			continue
		}
		a, ok := d.Message.Body.(amq.Array)
		require.True(t, ok, "body %T %#v", d.Message.Body, d.Message.Body)
		assert.Empty(t, a.Values)
		assert.True(t, kinds[i][a.Elem], "element type %#x, want one of %v", a.Elem, kinds[i])
	}
}

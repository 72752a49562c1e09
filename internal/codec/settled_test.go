package codec

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func frameOf(t *testing.T, channel uint16, p Performative) []byte {
	t.Helper()
	b, err := AppendFrame(nil, Frame{Type: FrameAMQP, Channel: channel, Body: p})
	require.NoError(t, err)
	return b
}

func TestParseSettledDispositionTakesOnlySettledReceiverDispositions(t *testing.T) {
	last := uint32(9)
	d, ok := ParseSettledDisposition(frameOf(t, 3, &Disposition{Role: RoleReceiver, First: 5, Settled: true, State: &Accepted{}}))
	require.True(t, ok)
	assert.Equal(t, uint16(3), d.Channel)
	assert.Equal(t, uint32(5), d.First)
	assert.Equal(t, uint32(5), d.Last, "no last: the range is first alone")
	assert.NotEmpty(t, d.State)

	d, ok = ParseSettledDisposition(frameOf(t, 0, &Disposition{Role: RoleReceiver, First: 5, Last: &last, Settled: true}))
	require.True(t, ok)
	assert.Equal(t, uint32(9), d.Last)
	assert.Nil(t, d.State)

	id := uint32(1)
	accept := frameOf(t, 0, &Disposition{Role: RoleReceiver, First: 1, Settled: true, State: &Accepted{}})
	for name, frame := range map[string][]byte{
		"from a sender":       frameOf(t, 0, &Disposition{Role: RoleSender, First: 1, Settled: true, State: &Accepted{}}),
		"unsettled":           frameOf(t, 0, &Disposition{Role: RoleReceiver, First: 1, State: &Accepted{}}),
		"batchable":           frameOf(t, 0, &Disposition{Role: RoleReceiver, First: 1, Settled: true, State: &Accepted{}, Batchable: true}),
		"a flow":              frameOf(t, 0, &Flow{IncomingWindow: 10, NextOutgoingID: 1, OutgoingWindow: 10}),
		"a transfer":          frameOf(t, 0, &Transfer{Handle: 0, DeliveryID: &id, Settled: true}),
		"two frames":          append(append([]byte(nil), accept...), accept...),
		"a truncated frame":   accept[:len(accept)-1],
		"a frame header":      accept[:8],
		"the protocol header": []byte("AMQP\x00\x01\x00\x00"),
		"a SASL frame":        []byte{0, 0, 0, 8, 2, FrameSASL, 0, 0},
	} {
		_, ok := ParseSettledDisposition(frame)
		assert.False(t, ok, name)
	}
}

func TestAppendSettledDispositionDecodesAsTheRange(t *testing.T) {
	long := &Rejected{Error: &Error{Condition: "amqp:internal-error", Description: strings.Repeat("x", 300)}}
	for _, tc := range []struct {
		first, last uint32
		state       DeliveryState
	}{
		{0, 0, &Accepted{}},
		{1, 200, &Accepted{}},
		{255, 256, &Released{}},
		{70000, math.MaxUint32, &Modified{DeliveryFailed: true}},
		{7, 8, long}, // past 255 bytes: list32
		{3, 4, nil},
	} {
		var state []byte
		if tc.state != nil {
			d, ok := ParseSettledDisposition(frameOf(t, 0, &Disposition{Role: RoleReceiver, First: 0, Settled: true, State: tc.state}))
			require.True(t, ok)
			state = d.State
		}
		frame := AppendSettledDisposition([]byte("prefix"), SettledDisposition{Channel: 258, First: tc.first, Last: tc.last, State: state})
		require.True(t, bytes.HasPrefix(frame, []byte("prefix")))
		frame = frame[len("prefix"):]

		f, err := ReadFrame(bytes.NewReader(frame), 1<<20)
		require.NoError(t, err)
		assert.Equal(t, uint16(258), f.Channel)
		want := &Disposition{Role: RoleReceiver, First: tc.first, Last: &tc.last, Settled: true, State: tc.state}
		assert.Equal(t, want, f.Body)

		back, ok := ParseSettledDisposition(frame)
		require.True(t, ok)
		assert.Equal(t, SettledDisposition{Channel: 258, First: tc.first, Last: tc.last, State: state}, back)
	}
}

package amq

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/internal/codec"
)

// dispositionFrame is a receiver's settled disposition of one delivery, as
// go-amqp writes it.
func dispositionFrame(t *testing.T, channel uint16, id uint32, state codec.DeliveryState) []byte {
	t.Helper()
	b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Channel: channel,
		Body: &codec.Disposition{Role: codec.RoleReceiver, First: id, Settled: true, State: state}})
	require.NoError(t, err)
	return b
}

// writtenFrames decodes what rc holds.
func writtenFrames(t *testing.T, rc *recordConn) []codec.Frame {
	t.Helper()
	rc.mu.Lock()
	r := bytes.NewReader(append([]byte(nil), rc.written...))
	rc.mu.Unlock()
	var frames []codec.Frame
	for {
		f, err := codec.ReadFrame(r, 1<<20)
		if err == io.EOF {
			return frames
		}
		require.NoError(t, err)
		frames = append(frames, f)
	}
}

// rangeDisposition is the disposition expected on the wire: one frame
// as written (no last) or merged (first..last).
func rangeDisposition(channel uint16, first, last uint32, state codec.DeliveryState) codec.Frame {
	d := &codec.Disposition{Role: codec.RoleReceiver, First: first, Settled: true, State: state}
	if last != first {
		d.Last = &last
	}
	return codec.Frame{Type: codec.FrameAMQP, Channel: channel, Body: d}
}

func TestCoalescingConnMergesAcceptsAndSendsThemWithTheNextFrame(t *testing.T) {
	rc := &recordConn{}
	cc := newCoalescingConn(rc)
	defer cc.Close()
	cc.lazyDelay = time.Hour // only the eager frame below sends them

	write := func(p []byte) {
		n, err := cc.Write(p)
		require.NoError(t, err)
		require.Equal(t, len(p), n)
	}
	for id := range uint32(10) {
		write(dispositionFrame(t, 1, id, &codec.Accepted{}))
	}
	write(dispositionFrame(t, 1, 10, &codec.Released{})) // another outcome
	write(dispositionFrame(t, 1, 12, &codec.Accepted{})) // not next to 10
	write(dispositionFrame(t, 2, 13, &codec.Accepted{})) // another session
	write(dispositionFrame(t, 2, 14, &codec.Accepted{}))
	assert.Empty(t, writtenFrames(t, rc), "settled dispositions wait")

	flow, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Channel: 1,
		Body: &codec.Flow{IncomingWindow: 5000, NextOutgoingID: 1, OutgoingWindow: 5000}})
	require.NoError(t, err)
	write(flow)

	got := writtenFrames(t, rc)
	require.Len(t, got, 5)
	assert.Equal(t, rangeDisposition(1, 0, 9, &codec.Accepted{}), got[0])
	assert.Equal(t, rangeDisposition(1, 10, 10, &codec.Released{}), got[1])
	assert.Equal(t, rangeDisposition(1, 12, 12, &codec.Accepted{}), got[2])
	assert.Equal(t, rangeDisposition(2, 13, 14, &codec.Accepted{}), got[3])
	assert.IsType(t, &codec.Flow{}, got[4].Body, "in the order written")
}

func TestCoalescingConnSendsALoneAcceptWithinTheDelay(t *testing.T) {
	rc := &recordConn{}
	cc := newCoalescingConn(rc)
	defer cc.Close()
	_, err := cc.Write(dispositionFrame(t, 0, 7, &codec.Accepted{}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(writtenFrames(t, rc)) == 1 },
		10*time.Second, time.Millisecond, "the lazy timer flushes it")
	assert.Equal(t, rangeDisposition(0, 7, 7, &codec.Accepted{}), writtenFrames(t, rc)[0])
}

func TestCoalescingConnCloseSendsWaitingAccepts(t *testing.T) {
	rc := &recordConn{}
	cc := newCoalescingConn(rc)
	cc.lazyDelay = time.Hour
	_, err := cc.Write(dispositionFrame(t, 0, 7, &codec.Accepted{}))
	require.NoError(t, err)
	require.NoError(t, cc.Close())
	assert.Len(t, writtenFrames(t, rc), 1)
}

func TestCoalescingConnFullOfAcceptsMakesRoom(t *testing.T) {
	rc := &recordConn{}
	cc := newCoalescingConn(rc)
	defer cc.Close()
	cc.lazyDelay = time.Hour
	// Alternate sessions, so that nothing merges: past maxCoalesce bytes a
	// Write waits for the flusher, which must not wait for the timer.
	var want int
	for id := uint32(0); want <= 2*maxCoalesce; id++ {
		p := dispositionFrame(t, uint16(id%2), id, &codec.Accepted{})
		_, err := cc.Write(p)
		require.NoError(t, err)
		want += len(p)
	}
	require.NoError(t, cc.Close())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.Len(t, rc.written, want)
}

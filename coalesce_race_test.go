package amq

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/internal/codec"
)

// exclusiveConn records what is written to it and counts the Writes that
// overlapped another: the coalescing writer must never write to the
// socket from two goroutines at once, or frames could reach the wire out
// of order.
type exclusiveConn struct {
	recordConn
	active  atomic.Int32
	overlap atomic.Int32
}

func (e *exclusiveConn) Write(p []byte) (int, error) {
	if e.active.Add(1) > 1 {
		e.overlap.Add(1)
	}
	defer e.active.Add(-1)
	runtime.Gosched() // a socket write takes a while: let others run into it
	return e.recordConn.Write(p)
}

var _ net.Conn = (*exclusiveConn)(nil)

// TestCoalescingConnNeverWritesTwiceAtOnce: lazy accepts whose delay runs
// out wake the flusher, which yields before writing them (gather); an
// eager frame written after a pause goes straight to the socket meanwhile.
// The flusher must then not write the buffer while that write is in
// progress, and the eager frames must reach the wire in the order written.
func TestCoalescingConnNeverWritesTwiceAtOnce(t *testing.T) {
	ec := &exclusiveConn{}
	cc := newCoalescingConn(ec)
	cc.lazyDelay = 0 // every accept is due at once: the flusher runs often

	const eager = 400
	var wg sync.WaitGroup
	wg.Add(2)
	stop := make(chan struct{})
	go func() { // a consumer's accepts
		defer wg.Done()
		for id := uint32(0); ; id++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := cc.Write(dispositionFrame(t, 1, id, &codec.Accepted{})); err != nil {
				return
			}
			runtime.Gosched()
		}
	}()
	go func() { // a blocking sender: one frame, then a pause
		defer wg.Done()
		defer close(stop)
		for i := range uint32(eager) {
			b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Channel: 2,
				Body: &codec.Flow{Handle: &i, IncomingWindow: 1, OutgoingWindow: 1}})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := cc.Write(b); err != nil {
				t.Error(err)
				return
			}
			// Past writeThroughGap, so the next frame goes straight to
			// the socket.
			for start := time.Now(); time.Since(start) <= 2*writeThroughGap; {
				runtime.Gosched()
			}
		}
	}()
	wg.Wait()
	require.NoError(t, cc.Close())

	require.Zero(t, ec.overlap.Load(), "writes to the socket overlapped")
	var next uint32
	for _, f := range writtenFrames(t, &ec.recordConn) {
		if fl, ok := f.Body.(*codec.Flow); ok {
			require.Equal(t, next, *fl.Handle, "eager frames out of order")
			next++
		}
	}
	require.Equal(t, uint32(eager), next, "every eager frame written")
}

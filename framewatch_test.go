package amq

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/internal/codec"
)

func TestFrameWatchSeesDetachAndForgetsEndedSessions(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := server.Read(buf); err != nil {
				return
			}
		}
	}()
	w := newFrameWatch(client)
	write := func(ch uint16, p codec.Performative) {
		t.Helper()
		b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Channel: ch, Body: p})
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	_, err := w.Write([]byte("AMQP\x00\x01\x00\x00")) // the protocol header is not a frame
	require.NoError(t, err)

	write(3, &codec.Attach{Name: "link-a", Handle: 0, Role: codec.RoleSender})
	detached := w.detachWritten("link-a")
	select {
	case <-detached:
		t.Fatal("reported before the detach was written")
	default:
	}
	write(3, &codec.Detach{Handle: 0, Closed: true})
	select {
	case <-detached:
	default:
		t.Fatal("the written detach was not seen")
	}

	write(3, &codec.End{})
	w.mu.Lock()
	assert.Empty(t, w.channels, "an ended session's link is forgotten")
	assert.Empty(t, w.names)
	w.mu.Unlock()

	unknown := w.detachWritten("never-attached")
	select {
	case <-unknown:
	default:
		t.Fatal("a link never attached here has nothing to wait for")
	}
}

package frametrace_test

import (
	"fmt"
	"io"
	"net"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/frametrace"
)

// Wrap a connection and every frame crossing it becomes a line. Here the
// sink prints to stdout; a real caller passes StderrWriter() when
// Enabled() says PN_TRACE_FRM is set.
func ExampleWrap() {
	client, peer := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, peer) }()

	c := frametrace.Wrap(client, "conn-1", func(line string) { fmt.Println(line) })
	_, _ = c.Write(codec.ProtoAMQP[:])
	_ = codec.WriteFrame(c, codec.Frame{Body: &codec.Open{ContainerID: "app", Hostname: "localhost", IdleTimeOut: 60000}})
	_ = codec.WriteFrame(c, codec.Frame{}) // a heartbeat
	_ = c.Close()
	// Output:
	// [conn-1]: -> AMQP
	// [conn-1]: AMQP:FRAME:0 -> @open(16) [container-id="app", hostname="localhost", idle-time-out=0xea60]
	// [conn-1]: AMQP:FRAME:0 -> (EMPTY FRAME)
}

// Enabled reads PN_TRACE_FRM, the variable Qpid Proton reads.
func ExampleEnabled() {
	var nc net.Conn // the connection about to be handed to go-amqp
	if frametrace.Enabled() {
		nc = frametrace.Wrap(nc, "conn-1", frametrace.StderrWriter())
	}
	_ = nc
}

package broker

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// FuzzBrokerConnection sends the broker, after the AMQP protocol header,
// whatever bytes the fuzzer makes, on a loopback connection, then closes
// its writing side. Whatever the bytes (frames in any order, on any
// channel and handle, with any fields and payloads), the broker must not
// panic (a panic in its goroutines ends the fuzzing process), must answer
// the end of the stream by closing the connection within the bound below,
// and must still serve a well-behaved client afterwards. Seeds are valid
// conversations: sending, receiving, settling, transactions, detaching.
func FuzzBrokerConnection(f *testing.F) {
	b, err := Listen("amqp://127.0.0.1:0", &Options{
		MaxNodes:         64,
		MaxQueueMessages: 256,
		MaxTotalBytes:    4 << 20,
		Server:           &server.Options{AllowAnonymous: true},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = b.Close() })
	addr := b.Server().Addr().String()
	for _, seed := range conversationSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		converse(t, addr, data)
		// One conversation must not spoil the next: a plain one still
		// gets its open answered.
		converse(t, addr, mustFrames(t, &codec.Open{ContainerID: "after"}))
	})
}

// connectionBound is how long the broker may take to close a connection
// whose peer has sent everything and closed its side.
const connectionBound = 10 * time.Second

// converse writes the AMQP header and data, closes the writing side and
// reads until the broker closes the connection.
func converse(t *testing.T, addr string, data []byte) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, connectionBound)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(connectionBound))
	wrote := make(chan error, 1)
	go func() {
		_, err := nc.Write(append([]byte("AMQP\x00\x01\x00\x00"), data...))
		if err == nil {
			err = nc.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	_, err = io.Copy(io.Discard, nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the broker kept the connection open %v after its peer had closed its side", connectionBound)
	}
	// A write the broker cut short (it closed after a bad frame) is
	// expected; the read above is what is checked.
	<-wrote
}

// mustFrames encodes frames on channel 0, in order.
func mustFrames(t testing.TB, bodies ...codec.Performative) []byte {
	t.Helper()
	var out []byte
	for _, body := range bodies {
		var err error
		out, err = codec.AppendFrame(out, codec.Frame{Type: codec.FrameAMQP, Body: body})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// conversationSeeds are well-formed conversations a client could have
// with the broker, for the fuzzer to start from.
func conversationSeeds(t testing.TB) [][]byte {
	t.Helper()
	u32 := func(v uint32) *uint32 { return &v }
	frame := func(out []byte, body codec.Performative, payload []byte) []byte {
		out, err := codec.AppendFrame(out, codec.Frame{Type: codec.FrameAMQP, Body: body, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A message with one data section: described 0x75, binary "hello".
	hello := []byte{0x00, 0x53, 0x75, 0xa0, 0x05, 'h', 'e', 'l', 'l', 'o'}
	// An amqp-value section holding a declare (0x31) with no fields.
	declare := []byte{0x00, 0x53, 0x77, 0x00, 0x53, 0x31, 0x45}
	open := func() []byte {
		out := frame(nil, &codec.Open{ContainerID: "fuzz", MaxFrameSize: 4096}, nil)
		return frame(out, &codec.Begin{NextOutgoingID: 0, IncomingWindow: 100, OutgoingWindow: 100}, nil)
	}

	var seeds [][]byte
	// Send two messages to a queue, settle nothing, detach, end, close.
	s := open()
	s = frame(s, &codec.Attach{Name: "s", Handle: 0, Role: codec.RoleSender, Source: &codec.Source{}, Target: &codec.Target{Address: "q"}, InitialDeliveryCount: u32(0)}, nil)
	s = frame(s, &codec.Transfer{Handle: 0, DeliveryID: u32(0), DeliveryTag: []byte{0}, MessageFormat: u32(0)}, hello)
	s = frame(s, &codec.Transfer{Handle: 0, DeliveryID: u32(1), DeliveryTag: []byte{1}, MessageFormat: u32(0), More: true}, hello[:4])
	s = frame(s, &codec.Transfer{Handle: 0}, hello[4:])
	s = frame(s, &codec.Detach{Handle: 0, Closed: true}, nil)
	s = frame(s, &codec.End{}, nil)
	seeds = append(seeds, frame(s, &codec.Close{}, nil))

	// Receive from the queue with credit, accept a range, drain.
	r := open()
	r = frame(r, &codec.Attach{Name: "r", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Address: "q"}, Target: &codec.Target{}}, nil)
	r = frame(r, &codec.Flow{NextIncomingID: u32(0), IncomingWindow: 100, OutgoingWindow: 100, Handle: u32(0), DeliveryCount: u32(0), LinkCredit: u32(10)}, nil)
	r = frame(r, &codec.Disposition{Role: codec.RoleReceiver, First: 0, Last: u32(5), Settled: true, State: &codec.Accepted{}}, nil)
	r = frame(r, &codec.Flow{NextIncomingID: u32(0), IncomingWindow: 100, OutgoingWindow: 100, Handle: u32(0), DeliveryCount: u32(0), LinkCredit: u32(10), Drain: true, Echo: true}, nil)
	seeds = append(seeds, frame(r, &codec.Detach{Handle: 0}, nil))

	// A transaction: the coordinator, a declare, a send in it, discharge.
	x := open()
	x = frame(x, &codec.Attach{Name: "tx", Handle: 0, Role: codec.RoleSender, Source: &codec.Source{}, Coordinator: &codec.Coordinator{}, InitialDeliveryCount: u32(0)}, nil)
	x = frame(x, &codec.Transfer{Handle: 0, DeliveryID: u32(0), DeliveryTag: []byte{0}, MessageFormat: u32(0)}, declare)
	x = frame(x, &codec.Attach{Name: "s", Handle: 1, Role: codec.RoleSender, Source: &codec.Source{}, Target: &codec.Target{Address: "q"}, InitialDeliveryCount: u32(0)}, nil)
	x = frame(x, &codec.Transfer{Handle: 1, DeliveryID: u32(1), DeliveryTag: []byte{1}, MessageFormat: u32(0), State: &codec.TransactionalState{TxnID: []byte{0, 0, 0, 1}}}, hello)
	seeds = append(seeds, x)

	// Dynamic node, durable subscription with a selector, then nothing.
	d := open()
	d = frame(d, &codec.Attach{Name: "dyn", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Dynamic: true}, Target: &codec.Target{}}, nil)
	d = frame(d, &codec.Attach{Name: "sub", Handle: 1, Role: codec.RoleReceiver, Source: &codec.Source{Address: "t", Durable: codec.DurabilityUnsettled, ExpiryPolicy: codec.ExpiryNever, Capabilities: []codec.Symbol{"topic"}}, Target: &codec.Target{}}, nil)
	seeds = append(seeds, d)

	// Odd ones: a heartbeat, a frame on a channel never begun, a
	// transfer on a handle never attached.
	seeds = append(seeds, []byte{0, 0, 0, 8, 2, 0, 0, 0})
	seeds = append(seeds, frame(frame(nil, &codec.Open{ContainerID: "fuzz"}, nil), &codec.End{}, nil))
	seeds = append(seeds, frame(open(), &codec.Transfer{Handle: 7, DeliveryID: u32(0), DeliveryTag: []byte{0}}, hello))
	return seeds
}

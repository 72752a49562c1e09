package frametrace

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/amqgo/amq/internal/codec"
)

// clientStream is what a client writes: SASL PLAIN, open, a session, a
// sending link, a message in two transfer frames, a pre-settled one with a
// long payload, a heartbeat, and the close sequence.
func clientStream(t testing.TB) []byte {
	msg, err := (&codec.Message{Data: [][]byte{[]byte(strings.Repeat("0123456789", 5))}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{t: t}
	s.header(codec.ProtoSASL).
		frame(0, &codec.SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00user\x00s3cret"), Hostname: "127.0.0.1"}).
		header(codec.ProtoAMQP).
		frame(0, &codec.Open{ContainerID: "client-1", Hostname: "127.0.0.1", MaxFrameSize: 65536, ChannelMax: ptr[uint16](32767), IdleTimeOut: 60000}).
		frame(0, &codec.Begin{NextOutgoingID: 0, IncomingWindow: 5000, OutgoingWindow: 5000}).
		frame(0, &codec.Attach{
			Name: "sender-1", Handle: 0, Role: codec.RoleSender,
			SndSettleMode: ptr(codec.SenderSettleModeUnsettled), RcvSettleMode: ptr(codec.ReceiverSettleModeFirst),
			Source: &codec.Source{Address: "client"}, Target: &codec.Target{Address: "queue1", Capabilities: []codec.Symbol{"queue"}},
			InitialDeliveryCount: ptr[uint32](0),
		}).
		frame(0, &codec.Transfer{Handle: 0, DeliveryID: ptr[uint32](0), DeliveryTag: []byte{0, 0, 0, 0}, MessageFormat: ptr[uint32](0), More: true}, msg[:20]...).
		frame(0, &codec.Transfer{Handle: 0}, msg[20:]...).
		frame(0, &codec.Transfer{Handle: 0, DeliveryID: ptr[uint32](1), DeliveryTag: []byte{1}, MessageFormat: ptr[uint32](0), Settled: true}, bytes.Repeat([]byte("a"), 100)...).
		frame(0, nil).
		frame(0, &codec.Detach{Handle: 0, Closed: true}).
		frame(0, &codec.End{}).
		frame(0, &codec.Close{})
	return s.b
}

var clientLines = []string{
	`[c1]: -> SASL`,
	`[c1]: SASL:FRAME:0 -> @sasl-init(65) [mechanism=:PLAIN, initial-response=<redacted>, hostname="127.0.0.1"]`,
	`[c1]: -> AMQP`,
	`[c1]: AMQP:FRAME:0 -> @open(16) [container-id="client-1", hostname="127.0.0.1", max-frame-size=0x10000, channel-max=0x7fff, idle-time-out=0xea60]`,
	`[c1]: AMQP:FRAME:0 -> @begin(17) [next-outgoing-id=0x0, incoming-window=0x1388, outgoing-window=0x1388]`,
	`[c1]: AMQP:FRAME:0 -> @attach(18) [name="sender-1", handle=0x0, role=false, snd-settle-mode=0x0, rcv-settle-mode=0x0, source=@source(40) [address="client"], target=@target(41) [address="queue1", capabilities=@PN_SYMBOL[:queue]], initial-delivery-count=0x0]`,
	`[c1]: AMQP:FRAME:0 -> @transfer(20) [handle=0x0, delivery-id=0x0, delivery-tag=b"\x00\x00\x00\x00", message-format=0x0, more=true] (20) "\x00Su\xa02012345678901234"`,
	`[c1]: AMQP:FRAME:0 -> @transfer(20) [handle=0x0] (35) "56789012345678901234567890123456789"`,
	`[c1]: AMQP:FRAME:0 -> @transfer(20) [handle=0x0, delivery-id=0x1, delivery-tag=b"\x01", message-format=0x0, settled=true] (100) "` + strings.Repeat("a", 64) + `"...`,
	`[c1]: AMQP:FRAME:0 -> (EMPTY FRAME)`,
	`[c1]: AMQP:FRAME:0 -> @detach(22) [handle=0x0, closed=true]`,
	`[c1]: AMQP:FRAME:0 -> @end(23) []`,
	`[c1]: AMQP:FRAME:0 -> @close(24) []`,
}

// serverStream is the server's side of the same conversation.
func serverStream(t testing.TB) []byte {
	s := &stream{t: t}
	s.header(codec.ProtoSASL).
		frame(0, &codec.SASLMechanisms{Mechanisms: []codec.Symbol{"ANONYMOUS", "PLAIN"}}).
		frame(0, &codec.SASLOutcome{Code: codec.SASLCodeOK}).
		header(codec.ProtoAMQP).
		frame(0, &codec.Open{ContainerID: "server", MaxFrameSize: 16384}).
		frame(1, &codec.Begin{RemoteChannel: ptr[uint16](0), NextOutgoingID: 1, IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: ptr[uint32](1023)}).
		frame(1, &codec.Attach{Name: "sender-1", Handle: 0, Role: codec.RoleReceiver, Source: &codec.Source{Address: "client"}, Target: &codec.Target{Address: "queue1"}}).
		frame(1, &codec.Flow{NextIncomingID: ptr[uint32](0), IncomingWindow: 5000, NextOutgoingID: 1, OutgoingWindow: 5000, Handle: ptr[uint32](0), DeliveryCount: ptr[uint32](0), LinkCredit: ptr[uint32](100)}).
		frame(1, &codec.Disposition{Role: codec.RoleReceiver, First: 0, Settled: true, State: &codec.Accepted{}}).
		frame(1, &codec.Disposition{Role: codec.RoleReceiver, First: 1, Last: ptr[uint32](2), Settled: true,
			State: &codec.Rejected{Error: &codec.Error{Condition: codec.ErrCondNotAllowed, Description: "no \"quotes\" \x01"}}}).
		frame(1, &codec.Detach{Handle: 0, Closed: true, Error: &codec.Error{Condition: codec.ErrCondDetachForced, Description: "bye"}}).
		frame(1, &codec.End{}).
		frame(0, &codec.Close{Error: &codec.Error{Condition: codec.ErrCondConnectionForced, Description: "shutting down"}})
	return s.b
}

var serverLines = []string{
	`[c1]: <- SASL`,
	`[c1]: SASL:FRAME:0 <- @sasl-mechanisms(64) [sasl-server-mechanisms=@PN_SYMBOL[:ANONYMOUS, :PLAIN]]`,
	`[c1]: SASL:FRAME:0 <- @sasl-outcome(68) [code=0x0]`,
	`[c1]: <- AMQP`,
	`[c1]: AMQP:FRAME:0 <- @open(16) [container-id="server", max-frame-size=0x4000]`,
	`[c1]: AMQP:FRAME:1 <- @begin(17) [remote-channel=0x0, next-outgoing-id=0x1, incoming-window=0x1388, outgoing-window=0x1388, handle-max=0x3ff]`,
	`[c1]: AMQP:FRAME:1 <- @attach(18) [name="sender-1", handle=0x0, role=true, source=@source(40) [address="client"], target=@target(41) [address="queue1"]]`,
	`[c1]: AMQP:FRAME:1 <- @flow(19) [next-incoming-id=0x0, incoming-window=0x1388, next-outgoing-id=0x1, outgoing-window=0x1388, handle=0x0, delivery-count=0x0, link-credit=0x64]`,
	`[c1]: AMQP:FRAME:1 <- @disposition(21) [role=true, first=0x0, settled=true, state=@accepted(36) []]`,
	`[c1]: AMQP:FRAME:1 <- @disposition(21) [role=true, first=0x1, last=0x2, settled=true, state=@rejected(37) [error=@error(29) [condition=:"amqp:not-allowed", description="no \"quotes\" \x01"]]]`,
	`[c1]: AMQP:FRAME:1 <- @detach(22) [handle=0x0, closed=true, error=@error(29) [condition=:"amqp:link:detach-forced", description="bye"]]`,
	`[c1]: AMQP:FRAME:1 <- @end(23) []`,
	`[c1]: AMQP:FRAME:0 <- @close(24) [error=@error(29) [condition=:"amqp:connection:forced", description="shutting down"]]`,
}

// TestPipeExactLines runs both streams through a wrapped end of net.Pipe
// in many chunkings (a byte at a time, odd sizes, several frames per call)
// and checks the lines and that the bytes pass unchanged.
func TestPipeExactLines(t *testing.T) {
	cs, ss := clientStream(t), serverStream(t)
	for _, chunk := range []int{1, 3, 7, 64, 1 << 20} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			var got lines
			raw, peer := net.Pipe()
			c := Wrap(raw, "c1", got.add)

			// Client writes in chunks; the peer reads with an odd buffer.
			done := make(chan []byte)
			go func() {
				b := make([]byte, len(cs))
				_, err := io.ReadFull(peer, b)
				if err != nil {
					t.Errorf("peer read: %v", err)
				}
				done <- b
			}()
			writeChunks(t, c, cs, chunk)
			if b := <-done; !bytes.Equal(b, cs) {
				t.Fatal("written bytes changed by tracing")
			}

			// Peer writes the whole stream; the client reads chunk bytes at a time.
			go func() {
				writeChunks(t, peer, ss, len(ss))
				peer.Close()
			}()
			if b := readAll(c, chunk); !bytes.Equal(b, ss) {
				t.Fatal("read bytes changed by tracing")
			}
			c.Close()

			want := append(append([]string(nil), clientLines...), serverLines...)
			compareLines(t, got.get(), want)
		})
	}
}

func compareLines(t *testing.T, got, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("line %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func TestSymbolicDescriptorsAndValues(t *testing.T) {
	// A performative with a symbolic descriptor, and every value type in
	// open's properties map.
	props, err := codec.Marshal(codec.Described{Descriptor: codec.Symbol("amqp:open:list"), Value: codec.List{
		"c", nil, nil, nil, nil, nil, nil, nil, nil,
		codec.Map{
			{Key: codec.Symbol("i"), Value: int32(-5)},
			{Key: codec.Symbol("f"), Value: 1.5},
			{Key: codec.Symbol("u"), Value: codec.UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
			{Key: codec.Symbol("l"), Value: codec.List{uint8(1), uint16(2), int64(3), codec.Char('x'), nil}},
			{Key: "s p", Value: codec.Described{Descriptor: uint64(0x1234), Value: "x"}},
			{Key: codec.Symbol("x-opt"), Value: []int32{1, 2}},
			{Key: codec.Symbol("a"), Value: codec.Array{Elem: codec.TypeUbyte, Values: []any{uint8(7)}}},
			{Key: codec.Symbol("u8"), Value: "h\u00e9llo\n"},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	frame := append([]byte{0, 0, 0, 0, 2, 0, 0, 0}, props...)
	frame[3] = byte(len(frame))
	var got lines
	m := &memConn{r: append(codec.ProtoAMQP[:], frame...), chunk: 5}
	readAll(Wrap(m, "x", got.add), 3)
	want := []string{
		`[x]: <- AMQP`,
		`[x]: AMQP:FRAME:0 <- @open(16) [container-id="c", properties={:i=-5, :f=1.5, :u=UUID(01020304-0506-0708-090a-0b0c0d0e0f10), :l=[0x1, 0x2, 3, U+0078, null], "s p"=@0x1234 "x", :x-opt=@PN_INT[1, 2], :a=@PN_UBYTE[0x7], :u8="héllo\x0a"}]`,
	}
	compareLines(t, got.get(), want)
}

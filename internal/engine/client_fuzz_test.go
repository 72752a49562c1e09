package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
)

// FuzzClientConnection plays a server that opens a connection, a session,
// a link to the client's receiver (handle 0, the server sending) and one
// from its sender (handle 1, with credit), as a well-behaved peer does,
// and then sends whatever frames the fuzzer makes and closes the
// connection. The client is busy meanwhile: receiving and accepting, and
// sending one message and waiting for its outcome. Whatever the frames
// (transfers beyond credit or on unknown handles, dispositions of
// deliveries never sent, flows, detaches, ends, closes, broken bytes),
// the client must not panic, and the connection and every call waiting on
// it must end within the bound below once the peer has closed.
func FuzzClientConnection(f *testing.F) {
	for _, seed := range clientFuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cn, pn := net.Pipe()
		defer cn.Close()
		defer pn.Close()
		script := make(chan error, 1)
		go func() { script <- scriptedServer(pn, data) }()

		ctx, cancel := context.WithTimeout(context.Background(), fuzzBound)
		defer cancel()
		c, err := engine.Dial(ctx, cn, connIDs.Add(1), clientConfig(), engine.OpenOptions{})
		if err != nil {
			t.Fatalf("dial: %v (script: %v)", err, scriptErr(script))
		}
		s, err := engine.NewSession(ctx, c)
		if err != nil {
			t.Fatalf("begin: %v (script: %v)", err, scriptErr(script))
		}
		r, err := s.AttachReceiver(ctx, &engine.AttachOptions{Name: "r", Source: &codec.Source{Address: "q"}, Target: &codec.Target{}, CreditWindow: 10})
		if err != nil {
			t.Fatalf("attach receiver: %v (script: %v)", err, scriptErr(script))
		}
		// The script writes the data as soon as it has answered this
		// attach: what the data does to the connection may reach the
		// client before AttachSender returns, and fail it.
		snd, sndErr := s.AttachSender(ctx, &engine.AttachOptions{Name: "s", Source: &codec.Source{}, Target: &codec.Target{Address: "q"}})

		received := make(chan struct{})
		go func() {
			defer close(received)
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				_, _ = d.Message()
				_ = d.Accept()
			}
		}()
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			if sndErr != nil {
				return
			}
			d, err := snd.SendRaw(ctx, fuzzHello, false)
			if err == nil {
				_, _ = d.Wait(ctx)
			}
		}()

		// The script has sent everything and closed the connection.
		for what, done := range map[string]<-chan struct{}{"the connection": c.Done(), "Receive": received, "Send": sent} {
			select {
			case <-done:
			case <-time.After(fuzzBound):
				t.Fatalf("%s did not end within %v of the peer closing", what, fuzzBound)
			}
		}
	})
}

// fuzzBound bounds each wait of FuzzClientConnection.
const fuzzBound = 10 * time.Second

// fuzzHello is a message with one data section: "hello".
var fuzzHello = []byte{0x00, 0x53, 0x75, 0xa0, 0x05, 'h', 'e', 'l', 'l', 'o'}

func scriptErr(script <-chan error) error {
	select {
	case err := <-script:
		return err
	case <-time.After(fuzzBound):
		return fmt.Errorf("still running after %v", fuzzBound)
	}
}

// scriptedServer answers the client's header, open, begin and two
// attaches, grants the client's sender 10 credits, then writes data and
// closes the connection, reading (and dropping) whatever the client
// writes meanwhile.
func scriptedServer(nc net.Conn, data []byte) (err error) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	send := func(body codec.Performative) error {
		b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Body: body})
		if err == nil {
			_, err = nc.Write(b)
		}
		return err
	}
	next := func() (codec.Performative, error) {
		for {
			fr, err := codec.ReadFrame(br, 1<<20)
			if err != nil || fr.Body != nil {
				return fr.Body, err
			}
		}
	}
	if _, err := codec.ReadProtoHeader(br); err != nil {
		return err
	}
	if _, err := nc.Write([]byte("AMQP\x00\x01\x00\x00")); err != nil {
		return err
	}
	if _, err := next(); err != nil {
		return err
	}
	if err := send(&codec.Open{ContainerID: "fuzz-server"}); err != nil {
		return err
	}
	if _, err := next(); err != nil {
		return err
	}
	zero, dc, credit, one := uint16(0), uint32(0), uint32(10), uint32(1)
	if err := send(&codec.Begin{RemoteChannel: &zero, IncomingWindow: 1 << 20, OutgoingWindow: 1 << 20}); err != nil {
		return err
	}
	for attached := 0; attached < 2; {
		body, err := next()
		if err != nil {
			return err
		}
		a, ok := body.(*codec.Attach)
		if !ok {
			continue // the receiver's flow
		}
		attached++
		if a.Role == codec.RoleReceiver {
			err = send(&codec.Attach{Name: a.Name, Handle: 0, Role: codec.RoleSender, Source: a.Source, Target: a.Target, InitialDeliveryCount: &dc})
		} else {
			err = send(&codec.Attach{Name: a.Name, Handle: 1, Role: codec.RoleReceiver, Source: a.Source, Target: a.Target})
			if err == nil {
				err = send(&codec.Flow{NextIncomingID: &dc, IncomingWindow: 1 << 20, OutgoingWindow: 1 << 20, Handle: &one, DeliveryCount: &dc, LinkCredit: &credit})
			}
		}
		if err != nil {
			return err
		}
	}
	go func() { _, _ = io.Copy(io.Discard, br) }()
	_, err = nc.Write(data)
	return err
}

// clientFuzzSeeds are what a server might send after the script: the
// handles are the script's (0 sends to the client, 1 receives from it).
func clientFuzzSeeds(t testing.TB) [][]byte {
	t.Helper()
	u32 := func(v uint32) *uint32 { return &v }
	frame := func(out []byte, body codec.Performative, payload []byte) []byte {
		out, err := codec.AppendFrame(out, codec.Frame{Type: codec.FrameAMQP, Body: body, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var seeds [][]byte
	// Two messages (one in two frames), the outcome of the client's send,
	// a detach with an error, an end, a close.
	a := frame(nil, &codec.Transfer{Handle: 0, DeliveryID: u32(0), DeliveryTag: []byte{0}, MessageFormat: u32(0)}, fuzzHello)
	a = frame(a, &codec.Transfer{Handle: 0, DeliveryID: u32(1), DeliveryTag: []byte{1}, MessageFormat: u32(0), More: true}, fuzzHello[:3])
	a = frame(a, &codec.Transfer{Handle: 0}, fuzzHello[3:])
	a = frame(a, &codec.Disposition{Role: codec.RoleReceiver, First: 0, Settled: true, State: &codec.Accepted{}}, nil)
	a = frame(a, &codec.Detach{Handle: 0, Closed: true, Error: &codec.Error{Condition: "amqp:internal-error", Description: "bye"}}, nil)
	a = frame(a, &codec.End{}, nil)
	seeds = append(seeds, frame(a, &codec.Close{}, nil))
	// More transfers than the credit, then a drain and an echo.
	var b []byte
	for i := range uint32(12) {
		b = frame(b, &codec.Transfer{Handle: 0, DeliveryID: u32(i), DeliveryTag: []byte{byte(i)}, MessageFormat: u32(0)}, fuzzHello)
	}
	b = frame(b, &codec.Flow{NextIncomingID: u32(0), IncomingWindow: 10, OutgoingWindow: 10, Handle: u32(1), DeliveryCount: u32(0), LinkCredit: u32(0), Drain: true, Echo: true}, nil)
	seeds = append(seeds, b)
	// Outcomes of deliveries never sent; a rejected send; an aborted and
	// a settled transfer.
	c := frame(nil, &codec.Disposition{Role: codec.RoleReceiver, First: 5, Last: u32(1 << 30), Settled: true, State: &codec.Released{}}, nil)
	c = frame(c, &codec.Disposition{Role: codec.RoleReceiver, First: 0, Settled: true, State: &codec.Rejected{Error: &codec.Error{Condition: "amqp:not-allowed"}}}, nil)
	c = frame(c, &codec.Transfer{Handle: 0, DeliveryID: u32(0), DeliveryTag: []byte{0}, More: true}, fuzzHello[:2])
	c = frame(c, &codec.Transfer{Handle: 0, Aborted: true}, nil)
	c = frame(c, &codec.Transfer{Handle: 0, DeliveryID: u32(1), DeliveryTag: []byte{1}, Settled: true}, fuzzHello)
	seeds = append(seeds, c)
	// Nothing at all; a heartbeat; a begin of the server's own.
	seeds = append(seeds, nil, []byte{0, 0, 0, 8, 2, 0, 0, 0})
	seeds = append(seeds, frame(nil, &codec.Begin{IncomingWindow: 1, OutgoingWindow: 1}, nil))
	return seeds
}

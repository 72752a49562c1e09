package codec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// peer is a minimal AMQP server written with this package only. Driving it
// with the go-amqp client cross-checks every performative (and SASL) against
// an independent implementation, both ways.
type peer struct {
	t        *testing.T
	conn     net.Conn
	toSend   *Message           // sent on the first receiver link that gets credit
	received chan *Message      // messages the client sent
	settled  chan DeliveryState // dispositions the client sent
	frames   chan Performative  // every frame body received, for inspection
	attaches map[uint32]*Attach // client's attaches by handle
	sent     bool
}

func (p *peer) write(ch uint16, body Performative, payload []byte) {
	f := Frame{Type: body.FrameType(), Channel: ch, Body: body, Payload: payload}
	if err := WriteFrame(p.conn, f); err != nil {
		p.t.Errorf("peer write %T: %v", body, err)
	}
}

func (p *peer) serve() error {
	// SASL layer (§5.3).
	id, err := ReadProtoHeader(p.conn)
	if err != nil || id != ProtoIDSASL {
		return errors.Join(err, errors.New("want SASL header"))
	}
	p.conn.Write(ProtoSASL[:])
	p.write(0, &SASLMechanisms{Mechanisms: []Symbol{"ANONYMOUS", "PLAIN"}}, nil)
	f, err := ReadFrame(p.conn, 512)
	if err != nil {
		return err
	}
	init, ok := f.Body.(*SASLInit)
	if !ok || f.Type != FrameSASL || (init.Mechanism != "PLAIN" && init.Mechanism != "ANONYMOUS") {
		return errors.New("want sasl-init")
	}
	p.frames <- init
	p.write(0, &SASLOutcome{Code: SASLCodeOK}, nil)
	if id, err := ReadProtoHeader(p.conn); err != nil || id != ProtoIDAMQP {
		return errors.Join(err, errors.New("want AMQP header"))
	}
	p.conn.Write(ProtoAMQP[:])

	for {
		f, err := ReadFrame(p.conn, 65536)
		if err != nil {
			return err
		}
		if f.Body == nil {
			continue // heartbeat
		}
		p.frames <- f.Body
		switch b := f.Body.(type) {
		case *Open:
			p.write(0, &Open{ContainerID: "codec-peer", MaxFrameSize: 65536, ChannelMax: ptr(uint16(9)), IdleTimeOut: 60000,
				OfferedCapabilities: []Symbol{"ANONYMOUS-RELAY"}, Properties: Map{{Key: Symbol("product"), Value: "codec-test"}}}, nil)
		case *Begin:
			p.write(f.Channel, &Begin{RemoteChannel: ptr(f.Channel), NextOutgoingID: 0, IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: ptr(uint32(255))}, nil)
		case *Attach:
			p.attaches[b.Handle] = b
			reply := &Attach{Name: b.Name, Handle: b.Handle, Role: !b.Role, SndSettleMode: b.SndSettleMode, RcvSettleMode: b.RcvSettleMode,
				Source: b.Source, Target: b.Target, MaxMessageSize: 1 << 20}
			if b.Role == RoleReceiver {
				reply.InitialDeliveryCount = ptr(uint32(0))
			}
			p.write(f.Channel, reply, nil)
			if b.Role == RoleSender {
				p.write(f.Channel, &Flow{NextIncomingID: ptr(uint32(0)), IncomingWindow: 5000, NextOutgoingID: 0, OutgoingWindow: 5000,
					Handle: ptr(b.Handle), DeliveryCount: ptr(uint32(0)), LinkCredit: ptr(uint32(10))}, nil)
			}
		case *Flow:
			if b.Handle != nil && b.LinkCredit != nil && *b.LinkCredit > 0 && !p.sent && p.toSend != nil {
				p.sent = true
				payload, err := p.toSend.MarshalBinary()
				if err != nil {
					return err
				}
				p.write(f.Channel, &Transfer{Handle: *b.Handle, DeliveryID: ptr(uint32(0)), DeliveryTag: []byte("tag-0"), MessageFormat: ptr(uint32(0))}, payload)
			}
		case *Transfer:
			m, err := UnmarshalMessage(f.Payload)
			if err != nil {
				return err
			}
			p.received <- m
			if !b.Settled {
				p.write(f.Channel, &Disposition{Role: RoleReceiver, First: *b.DeliveryID, Settled: true, State: &Accepted{}}, nil)
			}
		case *Disposition:
			p.settled <- b.State
		case *Detach:
			p.write(f.Channel, &Detach{Handle: b.Handle, Closed: b.Closed}, nil)
		case *End:
			p.write(f.Channel, &End{}, nil)
		case *Close:
			p.write(0, &Close{}, nil)
			return nil
		}
	}
}

func TestGoAMQPClientAgainstCodecPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	defer ln.Close()
	now := ts(1700000000000)
	p := &peer{
		t: t,
		toSend: &Message{
			Header:                &Header{Durable: true, Priority: ptr(uint8(6))},
			MessageAnnotations:    Map{{Key: Symbol("x-opt-jms-msg-type"), Value: int8(5)}},
			Properties:            &Properties{MessageID: "m-1", To: ptr("q"), CreationTime: &now, ContentType: ptr(Symbol("text/plain"))},
			ApplicationProperties: Map{{Key: "color", Value: "red"}, {Key: "n", Value: int64(7)}},
			Value:                 "from codec", HasValue: true,
		},
		received: make(chan *Message, 10),
		settled:  make(chan DeliveryState, 10),
		frames:   make(chan Performative, 100),
		attaches: map[uint32]*Attach{},
	}
	serveErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			serveErr <- err
			return
		}
		defer c.Close()
		p.conn = c
		serveErr <- p.serve()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := amqp.Dial(ctx, "amqp://"+ln.Addr().String(), &amqp.ConnOptions{
		SASLType: amqp.SASLTypePlain("user", "secret"), ContainerID: "go-amqp-client", HostName: "example.org",
		Properties: map[string]any{"client": "go-amqp"},
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}

	// go-amqp sends, the codec peer decodes.
	snd, err := sess.NewSender(ctx, "q", &amqp.SenderOptions{TargetCapabilities: []string{"queue"}, Name: "sender-link"})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	subject := "greeting"
	out := &amqp.Message{
		Properties:            &amqp.MessageProperties{MessageID: uint64(1), Subject: &subject},
		ApplicationProperties: map[string]any{"k": "v"},
		Data:                  [][]byte{[]byte("hello from go-amqp")},
	}
	if err := snd.Send(ctx, out, nil); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := <-p.received
	want := &Message{
		Properties:            &Properties{MessageID: uint64(1), Subject: &subject},
		ApplicationProperties: Map{{Key: "k", Value: "v"}},
		Data:                  [][]byte{[]byte("hello from go-amqp")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("peer received %#v\nwant %#v", got, want)
	}

	// The codec peer sends, go-amqp decodes.
	rcv, err := sess.NewReceiver(ctx, "q", &amqp.ReceiverOptions{Credit: 1, SourceDurability: amqp.DurabilityUnsettledState, SourceExpiryPolicy: amqp.ExpiryPolicyNever,
		Filters: []amqp.LinkFilter{amqp.NewSelectorFilter("color = 'red'")}})
	if err != nil {
		t.Fatalf("NewReceiver: %v", err)
	}
	in, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if in.Value != "from codec" || in.Header.Priority != 6 || !in.Header.Durable || in.Properties.MessageID != "m-1" ||
		*in.Properties.To != "q" || !in.Properties.CreationTime.Equal(now) || *in.Properties.ContentType != "text/plain" ||
		in.ApplicationProperties["color"] != "red" || in.ApplicationProperties["n"] != int64(7) ||
		in.Annotations["x-opt-jms-msg-type"] != int8(5) || string(in.DeliveryTag) != "tag-0" {
		t.Errorf("go-amqp received %#v", in)
	}
	if err := rcv.AcceptMessage(ctx, in); err != nil {
		t.Fatalf("AcceptMessage: %v", err)
	}
	if s := <-p.settled; !reflect.DeepEqual(s, &Accepted{}) {
		t.Errorf("client settled with %#v", s)
	}

	if err := rcv.Close(ctx); err != nil {
		t.Errorf("receiver Close: %v", err)
	}
	if err := snd.Close(ctx); err != nil {
		t.Errorf("sender Close: %v", err)
	}
	if err := sess.Close(ctx); err != nil {
		t.Errorf("session Close: %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("conn Close: %v", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("peer: %v", err)
	}

	// What go-amqp put on the wire decoded into the right fields.
	close(p.frames)
	var sawOpen, sawInit, sawFlow bool
	for f := range p.frames {
		switch b := f.(type) {
		case *SASLInit:
			sawInit = b.Mechanism == "PLAIN" && bytes.Equal(b.InitialResponse, []byte("\x00user\x00secret"))
		case *Open:
			v, _ := b.Properties.Get(Symbol("client"))
			sawOpen = b.ContainerID == "go-amqp-client" && b.Hostname == "example.org" && v == "go-amqp"
		case *Flow:
			sawFlow = sawFlow || (b.LinkCredit != nil && *b.LinkCredit == 1)
		}
	}
	if !sawOpen || !sawInit || !sawFlow {
		t.Errorf("open %v, sasl-init %v, flow %v", sawOpen, sawInit, sawFlow)
	}
	snda, rcva := p.attaches[0], p.attaches[1]
	if snda == nil || rcva == nil {
		t.Fatalf("attaches: %#v", p.attaches)
	}
	if snda.Name != "sender-link" || snda.Role != RoleSender || snda.Target == nil || snda.Target.Address != "q" ||
		!reflect.DeepEqual(snda.Target.Capabilities, []Symbol{"queue"}) {
		t.Errorf("sender attach %#v target %#v", snda, snda.Target)
	}
	if rcva.Role != RoleReceiver || rcva.Source == nil || rcva.Source.Address != "q" ||
		rcva.Source.Durable != DurabilityUnsettled || rcva.Source.ExpiryPolicy != ExpiryNever {
		t.Errorf("receiver attach %#v source %#v", rcva, rcva.Source)
	}
	sel, ok := rcva.Source.Filter.Get(Symbol("apache.org:selector-filter:string"))
	if d, _ := sel.(Described); !ok || d.Value != "color = 'red'" {
		t.Errorf("receiver attach %#v source %#v", rcva, rcva.Source)
	}
}

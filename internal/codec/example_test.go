package codec_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/amqgo/amq/internal/codec"
)

func ExampleMarshal() {
	b, _ := codec.Marshal(codec.List{uint32(1), "hi", codec.Symbol("queue"), nil})
	fmt.Printf("% x\n", b)
	v, n, _ := codec.Unmarshal(b)
	fmt.Printf("%#v %d\n", v, n)
	// Output:
	// c0 0f 04 52 01 a1 02 68 69 a3 05 71 75 65 75 65 40
	// amqptype.List{0x1, "hi", "queue", interface {}(nil)} 17
}

func ExampleMap() {
	var m codec.Map
	m.Set(codec.Symbol("x-opt-partition"), int32(3))
	m.Set("x-opt-partition", "a string key is another key")
	v, ok := m.Get(codec.Symbol("x-opt-partition"))
	fmt.Println(v, ok, len(m))
	// Output: 3 true 2
}

func ExampleReadFrame() {
	var conn bytes.Buffer // stands for a net.Conn
	_ = codec.WriteFrame(&conn, codec.Frame{Channel: 1, Body: &codec.Attach{
		Name: "link-1", Handle: 0, Role: codec.RoleReceiver,
		Source: &codec.Source{Address: "queue1", Capabilities: []codec.Symbol{"queue"}},
		Target: &codec.Target{},
	}})
	f, err := codec.ReadFrame(&conn, 65536)
	if err != nil {
		// A *codec.FramingError or *codec.DecodeError carries the AMQP
		// condition to close the connection with.
		var c interface{ Condition() codec.Symbol }
		if errors.As(err, &c) {
			fmt.Println(c.Condition())
		}
		return
	}
	switch b := f.Body.(type) {
	case *codec.Attach:
		fmt.Println(f.Channel, b.Name, b.Role == codec.RoleReceiver, b.Source.Address, b.Source.Capabilities)
	case nil:
		fmt.Println("heartbeat")
	}
	// Output: 1 link-1 true queue1 [queue]
}

func ExampleReadFrame_framingError() {
	_, err := codec.ReadFrame(bytes.NewReader([]byte{0, 0, 0, 4, 2, 0, 0, 0}), 512)
	var fe *codec.FramingError
	fmt.Println(errors.As(err, &fe), fe.Condition())
	// Output: true amqp:connection:framing-error
}

func ExampleReadProtoHeader() {
	id, err := codec.ReadProtoHeader(bytes.NewReader(codec.ProtoSASL[:]))
	fmt.Println(id == codec.ProtoIDSASL, err)
	_, err = codec.ReadProtoHeader(bytes.NewReader([]byte("GET / HT")))
	fmt.Println(err)
	// Output:
	// true <nil>
	// amqp codec: unsupported protocol header "GET / HT"
}

func ExampleDecodeFrameBody() {
	frame, _ := codec.AppendFrame(nil, codec.Frame{
		Body:    &codec.Transfer{Handle: 0, DeliveryTag: []byte{1}},
		Payload: []byte{0x00, 0x53, 0x77, 0xa1, 0x02, 'h', 'i'}, // amqp-value "hi"
	})
	// The body starts at the data offset (4 * doff).
	p, payload, _ := codec.DecodeFrameBody(codec.FrameAMQP, frame[4*frame[4]:])
	m, _ := codec.UnmarshalMessage(payload)
	fmt.Printf("%T %v\n", p, m.Value)
	// Output: *codec.Transfer hi
}

func ExampleUnmarshalMessage() {
	to := "queue1"
	b, _ := (&codec.Message{
		Properties:            &codec.Properties{To: &to},
		ApplicationProperties: codec.Map{{Key: "k", Value: int64(1)}},
		Data:                  [][]byte{[]byte("payload")},
	}).MarshalBinary()
	m, _ := codec.UnmarshalMessage(b)
	fmt.Println(*m.Properties.To, m.Properties.Subject == nil, m.ApplicationProperties, string(m.Data[0]))
	// Output: queue1 true [{k 1}] payload
}

func ExampleAppendMessage() {
	buf := make([]byte, 0, 256) // reuse a buffer across messages
	buf, _ = codec.AppendMessage(buf[:0], &codec.Message{Value: codec.Symbol("v"), HasValue: true})
	fmt.Printf("% x\n", buf)
	// Output: 00 53 77 a3 01 76
}

func ExampleError() {
	var err error = &codec.Error{Condition: codec.ErrCondNotFound, Description: "no such queue: q9"}
	var ae *codec.Error
	fmt.Println(errors.As(err, &ae), ae.Condition, err)
	// Output: true amqp:not-found amqp:not-found: no such queue: q9
}

package typefix_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/typefix"
)

func frame(t *testing.T, ch uint16, p codec.Performative) []byte {
	t.Helper()
	b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Channel: ch, Body: p})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// detaches reads the frames after the protocol header in b and returns
// the detaches among them.
func detaches(t *testing.T, b []byte) []*codec.Detach {
	t.Helper()
	r := bytes.NewReader(b)
	if _, err := codec.ReadProtoHeader(r); err != nil {
		t.Fatal(err)
	}
	var out []*codec.Detach
	for r.Len() > 0 {
		f, err := codec.ReadFrame(r, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := f.Body.(*codec.Detach); ok {
			out = append(out, d)
		}
	}
	return out
}

const header = "AMQP\x00\x01\x00\x00"

// A peer's non-closing detach reaches go-amqp as a closing one with
// amqp:link:detach-forced (or the peer's own error), and go-amqp's closing
// answer reaches the peer as a non-closing one.
func TestPeerNonClosingDetach(t *testing.T) {
	for _, tc := range []struct {
		name     string
		peerErr  *codec.Error
		wantCond codec.Symbol
	}{
		{"no error", nil, codec.ErrCondDetachForced},
		{"peer's error", &codec.Error{Condition: codec.ErrCondResourceDeleted, Description: "gone"}, codec.ErrCondResourceDeleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// go-amqp's link is on its channel 0 with handle 3; the peer
			// answers on its channel 5 with handle 7.
			in := append([]byte(header), frame(t, 5, &codec.Attach{Name: "l", Handle: 7, Role: codec.RoleReceiver})...)
			in = append(in, frame(t, 5, &codec.Detach{Handle: 7, Error: tc.peerErr})...)
			pc := &pipeConn{r: bytes.NewReader(in)}
			c := typefix.Wrap(pc)
			write(t, c, []byte(header))
			write(t, c, frame(t, 0, &codec.Attach{Name: "l", Handle: 3, Role: codec.RoleSender}))

			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			ds := detaches(t, got)
			if len(ds) != 1 || !ds[0].Closed || ds[0].Error == nil || ds[0].Error.Condition != tc.wantCond {
				t.Fatalf("go-amqp got %+v, want one closing detach with %s", ds, tc.wantCond)
			}

			write(t, c, frame(t, 0, &codec.Detach{Handle: 3, Closed: true}))
			ds = detaches(t, pc.w.Bytes())
			if len(ds) != 1 || ds[0].Closed || ds[0].Handle != 3 || ds[0].Error != nil {
				t.Fatalf("the peer got %+v, want one non-closing detach of handle 3 without error", ds)
			}
		})
	}
}

// A non-closing detach answering go-amqp's closing one (RabbitMQ 3.10)
// reaches go-amqp as closing, with no error added; go-amqp's detach and a
// peer's closing detach pass as they are.
func TestAnswerToClosingDetach(t *testing.T) {
	in := append([]byte(header), frame(t, 1, &codec.Attach{Name: "l", Handle: 0, Role: codec.RoleReceiver})...)
	in = append(in, frame(t, 1, &codec.Detach{Handle: 0})...)
	in = append(in, frame(t, 1, &codec.Attach{Name: "m", Handle: 1, Role: codec.RoleReceiver})...)
	in = append(in, frame(t, 1, &codec.Detach{Handle: 1, Closed: true})...)
	pc := &pipeConn{r: bytes.NewReader(in)}
	c := typefix.Wrap(pc)
	write(t, c, []byte(header))
	write(t, c, frame(t, 0, &codec.Attach{Name: "l", Handle: 0, Role: codec.RoleSender}))
	write(t, c, frame(t, 0, &codec.Attach{Name: "m", Handle: 1, Role: codec.RoleSender}))
	ours := frame(t, 0, &codec.Detach{Handle: 0, Closed: true})
	write(t, c, ours)

	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	ds := detaches(t, got)
	if len(ds) != 2 || !ds[0].Closed || ds[0].Error != nil || !ds[1].Closed || ds[1].Error != nil {
		t.Fatalf("go-amqp got %+v, want two closing detaches without error", ds)
	}
	theirs := frame(t, 0, &codec.Detach{Handle: 1, Closed: true})
	write(t, c, theirs)
	want := append(append([]byte(header), frame(t, 0, &codec.Attach{Name: "l", Handle: 0, Role: codec.RoleSender})...), frame(t, 0, &codec.Attach{Name: "m", Handle: 1, Role: codec.RoleSender})...)
	want = append(append(want, ours...), theirs...)
	if !bytes.Equal(pc.w.Bytes(), want) {
		t.Fatalf("go-amqp's frames were changed:\n got %x\nwant %x", pc.w.Bytes(), want)
	}
}

func write(t *testing.T, c io.Writer, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// A link the peer closed first (a refused attach) and go-amqp answered
// leaves nothing behind: a new link of the same name that the peer then
// detaches without closing is handled as the peer's own detach.
func TestNameReusedAfterPeerClosed(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	// peer sends frames as the peer would: each only after what it answers.
	peer := func(ps ...[]byte) {
		go func() {
			for _, p := range ps {
				_, _ = pw.Write(p)
			}
		}()
	}
	pc := &pipeConn{r: pr}
	c := typefix.Wrap(pc)
	readDetach := func() *codec.Detach {
		t.Helper()
		for {
			f, err := codec.ReadFrame(c, 0)
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := f.Body.(*codec.Detach); ok {
				return d
			}
		}
	}

	write(t, c, []byte(header))
	peer([]byte(header))
	if _, err := codec.ReadProtoHeader(c); err != nil {
		t.Fatal(err)
	}
	write(t, c, frame(t, 0, &codec.Attach{Name: "sub", Handle: 0, Role: codec.RoleReceiver}))
	peer(frame(t, 0, &codec.Attach{Name: "sub", Handle: 0, Role: codec.RoleSender}),
		frame(t, 0, &codec.Detach{Handle: 0, Closed: true, Error: &codec.Error{Condition: codec.ErrCondNotFound}}))
	if d := readDetach(); !d.Closed || d.Error == nil || d.Error.Condition != codec.ErrCondNotFound {
		t.Fatalf("go-amqp got %+v, want the peer's closing detach as it is", d)
	}
	write(t, c, frame(t, 0, &codec.Detach{Handle: 0, Closed: true}))

	// The same name again, on the same connection.
	write(t, c, frame(t, 0, &codec.Attach{Name: "sub", Handle: 0, Role: codec.RoleReceiver}))
	peer(frame(t, 0, &codec.Attach{Name: "sub", Handle: 0, Role: codec.RoleSender}), frame(t, 0, &codec.Detach{Handle: 0}))
	if d := readDetach(); !d.Closed || d.Error == nil || d.Error.Condition != codec.ErrCondDetachForced {
		t.Fatalf("go-amqp got %+v, want a closing detach with amqp:link:detach-forced", d)
	}
	pc.w.Reset()
	write(t, c, frame(t, 0, &codec.Detach{Handle: 0, Closed: true}))
	ds := detaches(t, append([]byte(header), pc.w.Bytes()...))
	if len(ds) != 1 || ds[0].Closed {
		t.Fatalf("the peer got %+v, want a non-closing detach", ds)
	}
}

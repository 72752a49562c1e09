package server

import (
	"fmt"
	"testing"

	amqp "github.com/Azure/go-amqp"
)

func TestSendReceiveAnonymous(t *testing.T) {
	q := newQueues()
	srv := startServer(t, &Options{Handler: q.handler(), AllowAnonymous: true})
	ctx := testCtx(t)
	for _, sasl := range []struct {
		name string
		typ  amqp.SASLType
	}{{"bare", nil}, {"anonymous", amqp.SASLTypeAnonymous()}} {
		t.Run(sasl.name, func(t *testing.T) {
			c := dial(t, srv.URL(), &amqp.ConnOptions{SASLType: sasl.typ})
			s := newSession(t, c)
			addr := "q-" + sasl.name
			snd, err := s.NewSender(ctx, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				if err := snd.Send(ctx, amqp.NewMessage([]byte(fmt.Sprint(i))), nil); err != nil {
					t.Fatal(err)
				}
			}
			rcv, err := s.NewReceiver(ctx, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				m, err := rcv.Receive(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(m.GetData()); got != fmt.Sprint(i) {
					t.Fatalf("message %d: got %q", i, got)
				}
				if err := rcv.AcceptMessage(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

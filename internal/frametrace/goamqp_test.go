package frametrace

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/server"
)

// TestGoAMQP runs go-amqp through the wrapper against the project's server:
// SASL, open, a session, a sender and a receiver, a message each way, and
// the close sequence all show up, and the password never does.
func TestGoAMQP(t *testing.T) {
	creds, err := server.NewCredentials(map[string]string{"alice": "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		AllowAnonymous: true,
		Credentials:    creds,
		Handler: server.HandlerFuncs{
			ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
				for {
					d, err := r.Receive(ctx)
					if err != nil {
						return
					}
					_ = d.Accept()
				}
			},
			ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
				d, err := s.Send(ctx, &codec.Message{Value: "greeting", HasValue: true}, false)
				if err != nil {
					return
				}
				_, _ = d.Wait(ctx)
				<-ctx.Done()
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	for _, tc := range []struct {
		name string
		sasl amqp.SASLType
		// serverClose: the server closes the connection. Otherwise the
		// client does, and go-amqp drops the socket right after writing
		// its close, without reading the server's.
		serverClose bool
		want        []string
	}{
		{"ANONYMOUS", amqp.SASLTypeAnonymous(), false, []string{
			`-> @sasl-init(65) [mechanism=:ANONYMOUS, initial-response=b"anonymous"]`,
			"-> @close(24) []",
		}},
		{"PLAIN", amqp.SASLTypePlain("alice", "s3cret"), true, []string{
			`-> @sasl-init(65) [mechanism=:PLAIN, initial-response=<redacted>]`,
			`<- @close(24) [error=@error(29) [condition=:"amqp:connection:forced", description="test over"]]`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var got lines
			nc, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			conn, err := amqp.NewConn(ctx, Wrap(nc, "go-amqp", got.add), &amqp.ConnOptions{SASLType: tc.sasl, HostName: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			sess, err := conn.NewSession(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			snd, err := sess.NewSender(ctx, "queue1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := snd.Send(ctx, amqp.NewMessage([]byte("hello")), nil); err != nil {
				t.Fatal(err)
			}
			rcv, err := sess.NewReceiver(ctx, "greetings", nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := rcv.Receive(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := rcv.AcceptMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			if err := snd.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := rcv.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := sess.Close(ctx); err != nil {
				t.Fatal(err)
			}
			last := "-> @close(24)"
			if tc.serverClose {
				last = "<- @close(24)"
				srv.CloseConnections(codec.ErrCondConnectionForced, "test over")
				select {
				case <-conn.Done():
				case <-ctx.Done():
					t.Fatal("connection not closed by the server")
				}
			} else if err := conn.Close(); err != nil {
				t.Fatal(err)
			}

			wants := []string{
				"[go-amqp]: -> SASL", "[go-amqp]: <- SASL",
				"SASL:FRAME:0 <- @sasl-mechanisms(64) [sasl-server-mechanisms=@PN_SYMBOL[",
				"SASL:FRAME:0 <- @sasl-outcome(68) [code=0x0]",
				"[go-amqp]: -> AMQP", "[go-amqp]: <- AMQP",
				"-> @open(16) [container-id=", "<- @open(16) [container-id=",
				"-> @begin(17)", "<- @begin(17) [remote-channel=0x0",
				`-> @attach(18) [name="`, "<- @attach(18)",
				"<- @flow(19)", "-> @flow(19)",
				`-> @transfer(20) [handle=0x0, delivery-id=0x0, delivery-tag=b"`,
				`<- @transfer(20)`, `"\x00Sw\xa1\x08greeting"`,
				"<- @disposition(21) [role=true, first=0x0, settled=true, state=@accepted(36) []]",
				"-> @disposition(21) [role=true, first=0x0",
				"-> @detach(22) [handle=0x0, closed=true]", "<- @detach(22) [handle=0x0, closed=true]",
				"-> @end(23)", "<- @end(23)",
			}
			wants = append(wants, tc.want...)
			// Both of go-amqp's goroutines have exited when Close or Done
			// returns; the wait only guards against a slow scheduler.
			deadline := time.Now().Add(10 * time.Second)
			var all string
			for {
				all = strings.Join(got.get(), "\n")
				if strings.Contains(all, last) || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, w := range wants {
				if !strings.Contains(all, w) {
					t.Errorf("trace lacks %q", w)
				}
			}
			assertAbsent(t, got.get(), "s3cret")
			for _, l := range got.get() {
				if !strings.HasPrefix(l, "[go-amqp]: ") || strings.Contains(l, "undecodable") {
					t.Errorf("bad line %q", l)
				}
			}
			if t.Failed() || testing.Verbose() {
				t.Log("\n" + all)
			}
		})
	}
}

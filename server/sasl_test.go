package server

import (
	"context"
	"errors"
	"testing"

	amqp "github.com/Azure/go-amqp"
	"github.com/amqgo/amq/internal/codec"
	"github.com/xdg-go/scram"
)

func credentials(t *testing.T) *Credentials {
	t.Helper()
	c, err := NewCredentials(map[string]string{"alice": "s3cret", "bob": "hunter2"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSASLPlain(t *testing.T) {
	users := make(chan string, 1)
	h := HandlerFuncs{AttachFunc: func(_ context.Context, l *Link) error { users <- l.Conn().User(); return nil }}
	srv := startServer(t, &Options{Credentials: credentials(t), Handler: h})
	ctx := testCtx(t)
	c := dial(t, srv.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "s3cret")})
	s := newSession(t, c)
	if _, err := s.NewSender(ctx, "x", nil); err != nil {
		t.Fatal(err)
	}
	if user := <-users; user != "alice" {
		t.Fatalf("User() = %q, want alice", user)
	}

	_, err := amqp.Dial(ctx, srv.URL(), &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "wrong")})
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	t.Logf("wrong password: %v", err)
	// The raw exchange shows the sasl code.
	r := rawDial(t, srv)
	if o := r.saslPlainOrAnon("PLAIN", []byte("\x00alice\x00wrong")); o.Code != codec.SASLCodeAuth {
		t.Fatalf("code = %d, want auth (1)", o.Code)
	}
}

func TestSASLRequiredRefusesBareAndAnonymous(t *testing.T) {
	srv := startServer(t, &Options{Credentials: credentials(t), RequireSASL: true})
	r := rawDial(t, srv)
	if id := r.header(codec.ProtoIDAMQP); id != codec.ProtoIDSASL {
		t.Fatalf("bare AMQP header answered with %d, want SASL (3)", id)
	}
	r2 := rawDial(t, srv)
	if o := r2.saslPlainOrAnon("ANONYMOUS", nil); o.Code != codec.SASLCodeAuth {
		t.Fatalf("ANONYMOUS not offered but accepted: code %d", o.Code)
	}
	// TLS header: answered with ours, then closed.
	r3 := rawDial(t, srv)
	if id := r3.header(codec.ProtoIDTLS); id != codec.ProtoIDSASL {
		t.Fatalf("TLS header answered with %d", id)
	}
}

func TestSASLSCRAM(t *testing.T) {
	for _, tc := range []struct {
		mech string
		h    scram.HashGeneratorFcn
	}{{"SCRAM-SHA-1", scram.SHA1}, {"SCRAM-SHA-256", scram.SHA256}, {"SCRAM-SHA-512", scram.SHA512}} {
		t.Run(tc.mech, func(t *testing.T) {
			srv := startServer(t, &Options{Credentials: credentials(t)})
			if err := scramLogin(t, srv, tc.mech, tc.h, "bob", "hunter2"); err != nil {
				t.Fatal(err)
			}
			if err := scramLogin(t, srv, tc.mech, tc.h, "bob", "nope"); !errors.Is(err, errSASLAuth) {
				t.Fatalf("wrong password: err = %v, want auth failure", err)
			}
			if err := scramLogin(t, srv, tc.mech, tc.h, "mallory", "x"); !errors.Is(err, errSASLAuth) {
				t.Fatalf("unknown user: err = %v, want auth failure", err)
			}
		})
	}
}

var errSASLAuth = errors.New("sasl auth failed")

// scramLogin authenticates with the xdg-go/scram client over raw frames, then
// opens the connection.
func scramLogin(t *testing.T, srv *Server, mech string, h scram.HashGeneratorFcn, user, pass string) error {
	t.Helper()
	cl, err := h.NewClient(user, pass, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := cl.NewConversation()
	r := rawDial(t, srv)
	if id := r.header(codec.ProtoIDSASL); id != codec.ProtoIDSASL {
		t.Fatalf("header %d", id)
	}
	mechs := expect[*codec.SASLMechanisms](r)
	found := false
	for _, m := range mechs.Mechanisms {
		found = found || string(m) == mech
	}
	if !found {
		t.Fatalf("%s not offered: %v", mech, mechs.Mechanisms)
	}
	first, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	r.send(0, &codec.SASLInit{Mechanism: codec.Symbol(mech), InitialResponse: []byte(first)}, nil)
	for {
		f := r.next()
		switch b := f.Body.(type) {
		case *codec.SASLChallenge:
			resp, err := conv.Step(string(b.Challenge))
			if err != nil {
				t.Fatal(err)
			}
			r.send(0, &codec.SASLResponse{Response: []byte(resp)}, nil)
		case *codec.SASLOutcome:
			if b.Code != codec.SASLCodeOK {
				return errSASLAuth
			}
			// The server's signature proves it knows the credentials too.
			if _, err := conv.Step(string(b.AdditionalData)); err != nil || !conv.Valid() {
				t.Fatalf("server signature not valid: %v", err)
			}
			r.open(0)
			return nil
		default:
			t.Fatalf("unexpected %T", f.Body)
		}
	}
}

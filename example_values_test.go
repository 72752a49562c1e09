package amq_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/broker"
	"github.com/amqgo/amq/server"
)

// exampleRoundTrip sends msg through an in-process broker and returns the
// message as a receiver gets it.
func exampleRoundTrip(msg *amq.Message) *amq.Message {
	url, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(ctx, msg.SetTo("roundtrip")); err != nil {
		log.Fatal(err)
	}
	r, err := c.NewReceiver(ctx, "roundtrip", nil)
	if err != nil {
		log.Fatal(err)
	}
	d, err := r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	return d.Message
}

func ExampleNewMessage() {
	for _, m := range []*amq.Message{
		amq.NewMessage("text"),                           // amqp-value string
		amq.NewMessage([]byte("bytes")),                  // one data section
		amq.NewMessage(map[string]any{"k": int64(1)}),    // amqp-value map
		amq.NewMessage(amq.SequenceSections{{"a", "b"}}), // sequence sections
	} {
		got := exampleRoundTrip(m)
		fmt.Printf("%T %v\n", got.Body, got.Body)
	}
	// Output:
	// string text
	// []uint8 [98 121 116 101 115]
	// map[string]interface {} map[k:1]
	// amq.SequenceSections [[a b]]
}

func ExampleMessage() {
	req := amq.NewMessage("ping")
	req.ID = "req-1"
	req.Subject = "health"
	req.ReplyTo = "replies"
	req.Priority = 9
	req.Properties = map[string]any{"region": "eu"} // application properties, for selectors

	got := exampleRoundTrip(req)
	fmt.Println(got.Body, got.ID, got.Subject, got.ReplyTo, got.Priority, got.Properties["region"])
	// Output: ping req-1 health replies 9 eu
}

func ExampleMessage_SetTo() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	// Client.Send routes each message by its To address.
	for _, to := range []string{"emails", "sms"} {
		if err := c.Send(ctx, amq.NewMessage("hi").SetTo(to)); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(amq.NewMessage("hi").SetTo("emails").To)
	// Output: emails
}

func ExampleMessage_JMSType() {
	fmt.Println(amq.NewMessage("text").JMSType())
	fmt.Println(amq.NewMessage([]byte{1, 2}).JMSType())
	fmt.Println(amq.NewMessage([]any{1, 2}).JMSType())
	fmt.Println(amq.NewMessage(nil).JMSType())
	// Output:
	// TextMessage
	// BytesMessage
	// ObjectMessage
	// TextMessage
}

func ExampleJMSMessageType() {
	// A JMS consumer sees this []byte body as a TextMessage holding JSON.
	m := amq.NewMessage([]byte(`{"id": 7}`)).SetJMSType(amq.JMSTextMessage)
	got := exampleRoundTrip(m)
	switch got.JMSType() {
	case amq.JMSTextMessage:
		fmt.Println("text:", string(got.Body.([]byte)))
	case amq.JMSBytesMessage:
		fmt.Println("bytes")
	}
	// Output: text: {"id": 7}
}

func ExampleJMSMessageType_String() {
	fmt.Println(amq.JMSMapMessage, amq.JMSObjectMessage)
	// Output: MapMessage ObjectMessage
}

func ExampleDataSections() {
	// Several data sections, e.g. the chunks of a large payload.
	got := exampleRoundTrip(amq.NewMessage(amq.DataSections{[]byte("part 1"), []byte("part 2")}))
	for _, section := range got.Body.(amq.DataSections) {
		fmt.Println(string(section))
	}
	// Output:
	// part 1
	// part 2
}

func ExampleSequenceSections() {
	got := exampleRoundTrip(amq.NewMessage(amq.SequenceSections{{"id", "name"}, {int64(1), "alice"}}))
	for _, row := range got.Body.(amq.SequenceSections) {
		fmt.Println(row...)
	}
	// Output:
	// id name
	// 1 alice
}

func ExampleChar() {
	// A rune travels as an AMQP int; Char as an AMQP char.
	got := exampleRoundTrip(amq.NewMessage(map[string]any{"grade": amq.Char('A'), "count": 'A'}))
	body := got.Body.(map[string]any)
	fmt.Printf("%c %v\n", body["grade"].(amq.Char), body["count"])
	// Output: A 65
}

func ExampleDecimal32() {
	// 12.34 in IEEE 754-2008 decimal32 (BID): coefficient 1234, exponent -2.
	price := amq.Decimal32{0x31, 0x80, 0x04, 0xd2}
	got := exampleRoundTrip(amq.NewMessage(price))
	fmt.Println(got.Body.(amq.Decimal32) == price)
	// Output: true
}

func ExampleDecimal64() {
	// 12.34 in IEEE 754-2008 decimal64 (BID): coefficient 1234, exponent -2.
	price := amq.Decimal64{0x31, 0x80, 0, 0, 0, 0, 0x04, 0xd2}
	m := amq.NewMessage("quote")
	m.Properties = map[string]any{"price": price}
	got := exampleRoundTrip(m)
	fmt.Println(got.Properties["price"] == price)
	// Output: true
}

func ExampleDecimal128() {
	// 12.34 in IEEE 754-2008 decimal128 (BID): coefficient 1234, exponent -2.
	total := amq.Decimal128{0x30, 0x3c, 14: 0x04, 15: 0xd2}
	got := exampleRoundTrip(amq.NewMessage(map[string]any{"total": total}))
	fmt.Println(got.Body.(map[string]any)["total"] == total)
	// Output: true
}

func ExampleUUID() {
	m := amq.NewMessage("order")
	m.ID = amq.UUID{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	got := exampleRoundTrip(m)
	fmt.Println(got.ID)
	// Output: 6ba7b810-9dad-11d1-80b4-00c04fd430c8
}

func ExampleSymbol() {
	m := amq.NewMessage("event")
	m.Annotations = map[string]any{"x-opt-origin": amq.Symbol("billing")}
	got := exampleRoundTrip(m)
	origin, isSymbol := got.Annotations["x-opt-origin"].(amq.Symbol)
	fmt.Println(origin, isSymbol)
	// Output: billing true
}

func ExampleConnectConfigPaths() {
	defer os.Setenv("MESSAGING_CONNECT_FILE", os.Getenv("MESSAGING_CONNECT_FILE"))
	os.Unsetenv("MESSAGING_CONNECT_FILE")
	for _, p := range amq.ConnectConfigPaths() {
		fmt.Println(filepath.Base(p))
	}
	os.Setenv("MESSAGING_CONNECT_FILE", "/etc/myapp/connect.json")
	fmt.Println(amq.ConnectConfigPaths())
	// Output:
	// connect.json
	// connect.json
	// connect.json
	// [/etc/myapp/connect.json]
}

func ExampleFindConnectConfig() {
	dir, err := os.MkdirTemp("", "amq-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "connect.json")
	if err := os.WriteFile(path, []byte(`{"host": "broker.example.com", "scheme": "amqp"}`), 0o600); err != nil {
		log.Fatal(err)
	}
	defer os.Setenv("MESSAGING_CONNECT_FILE", os.Getenv("MESSAGING_CONNECT_FILE"))
	os.Setenv("MESSAGING_CONNECT_FILE", path)

	cc, err := amq.FindConnectConfig()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cc.URL, cc.Path == path)
	// Output: amqp://broker.example.com:5672 true
}

func ExampleConnectConfig() {
	url, stop := exampleBroker()
	defer stop()
	_, port, _ := net.SplitHostPort(url[len("amqp://"):])
	dir, err := os.MkdirTemp("", "amq-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "connect.json")
	config := fmt.Sprintf(`{"scheme": "amqp", "host": "127.0.0.1", "port": %s}`, port)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		log.Fatal(err)
	}

	cc, err := amq.LoadConnectConfig(path)
	if err != nil {
		log.Fatal(err)
	}
	c, err := amq.Dial(context.Background(), cc.URL, &cc.Options)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.URL() == url)
	// Output: true
}

func ExampleError() {
	creds, err := server.NewCredentials(map[string]string{"alice": "secret"})
	if err != nil {
		log.Fatal(err)
	}
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{Server: &server.Options{Credentials: creds}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	_, err = amq.Dial(context.Background(), b.URL(), &amq.ConnectOptions{User: "alice", Password: "wrong"})
	var amqErr *amq.Error
	if errors.As(err, &amqErr) {
		fmt.Println(amqErr.Scope, amq.Retryable(err)) // fix the credentials, not retry
	}
	// Output: sasl false
}

func ExampleError_Error() {
	err := &amq.Error{
		Scope:       amq.ScopeLink,
		Op:          "attach sender",
		Address:     "orders",
		Condition:   "amqp:not-found",
		Description: "no such queue",
	}
	fmt.Println(err)
	// Output: amq: attach sender "orders": link error amqp:not-found: no such queue
}

func ExampleError_Unwrap() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more

	_, err = amq.Dial(context.Background(), "amqp://"+addr, nil)
	// The *amq.Error keeps the network error as its cause.
	fmt.Println(errors.Is(err, syscall.ECONNREFUSED))
	// Output: true
}

func ExampleScope() {
	handle := func(err error) string {
		var amqErr *amq.Error
		if !errors.As(err, &amqErr) {
			return "not an amq error"
		}
		switch amqErr.Scope {
		case amq.ScopeTransport, amq.ScopeConnection:
			return "connection problem: retry later"
		case amq.ScopeSASL:
			return "check the credentials"
		case amq.ScopeLink:
			return "check the address " + amqErr.Address
		}
		return amqErr.Error()
	}
	fmt.Println(handle(&amq.Error{Scope: amq.ScopeSASL, Condition: "amqp:unauthorized-access"}))
	fmt.Println(handle(&amq.Error{Scope: amq.ScopeLink, Address: "orderz", Condition: "amqp:not-found"}))
	// Output:
	// check the credentials
	// check the address orderz
}

// exampleOutcomeServer starts a server that settles every message it
// receives with the outcome settle chooses.
func exampleOutcomeServer(settle func(*server.IncomingDelivery) error) (url string, stop func()) {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		AllowAnonymous: true,
		Handler: server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				_ = settle(d)
			}
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	return srv.URL(), func() { srv.Close() }
}

func ExampleReleasedError() {
	url, stop := exampleOutcomeServer((*server.IncomingDelivery).Release) // a busy peer
	defer stop()
	ctx := context.Background()
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	err = c.Send(ctx, amq.NewMessage("job").SetTo("jobs"))
	var released *amq.ReleasedError
	fmt.Println(errors.As(err, &released), amq.Retryable(err)) // safe to send again
	// Output: true true
}

func ExampleReleasedError_Error() {
	fmt.Println(&amq.ReleasedError{})
	// Output: amq: message released by the peer
}

func ExampleReleasedError_Is() {
	var err error = &amq.ReleasedError{}
	fmt.Println(errors.Is(err, amq.ErrNotAccepted))
	// Output: true
}

func ExampleModifiedError() {
	url, stop := exampleOutcomeServer(func(d *server.IncomingDelivery) error {
		return d.Modify(true, true, nil) // failed, and not here again
	})
	defer stop()
	ctx := context.Background()
	c, err := amq.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	err = c.Send(ctx, amq.NewMessage("job").SetTo("jobs"))
	var modified *amq.ModifiedError
	if errors.As(err, &modified) {
		fmt.Println(modified.DeliveryFailed, modified.UndeliverableHere)
	}
	// Output: true true
}

func ExampleModifiedError_Error() {
	fmt.Println(&amq.ModifiedError{DeliveryFailed: true})
	// Output: amq: message modified by the peer (delivery-failed=true, undeliverable-here=false)
}

func ExampleModifiedError_Is() {
	var err error = &amq.ModifiedError{UndeliverableHere: true}
	fmt.Println(errors.Is(err, amq.ErrNotAccepted))
	// Output: true
}

func ExampleRejectedError_Error() {
	fmt.Println(&amq.RejectedError{Condition: "amqp:decode-error", Description: "bad JSON"})
	// Output: amq: message rejected: amqp:decode-error: bad JSON
}

func ExampleRejectedError_Is() {
	err := fmt.Errorf("saving order: %w", &amq.RejectedError{Condition: "amqp:precondition-failed"})
	fmt.Println(errors.Is(err, amq.ErrNotAccepted))
	// Output: true
}

func ExampleModifyOptions() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	r, d := exampleDelivery(c, "jobs", "job")
	// Give the message back with a note for whoever gets it next.
	err := d.Modify(ctx, &amq.ModifyOptions{
		DeliveryFailed: true,
		Annotations:    map[string]any{"x-opt-last-error": "database down"},
	})
	if err != nil {
		log.Fatal(err)
	}
	d, err = r.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Message.DeliveryCount, d.Message.Annotations["x-opt-last-error"])
	_ = d.Accept(ctx)
	// Output: 1 database down
}

// exampleAttachClient connects to a new server that prints the terminus
// of every link attached to it; done closes both.
func exampleAttachClient() (c *amq.Client, done func()) {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		AllowAnonymous: true,
		Handler: server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
			if s := l.Source(); l.Role() == server.RoleSender && s != nil {
				fmt.Printf("source %s: durable=%d expiry=%s capabilities=%v\n", s.Address, s.Durable, s.ExpiryPolicy, s.Capabilities)
			}
			if t := l.Target(); l.Role() == server.RoleReceiver && t != nil {
				fmt.Printf("target %s: durable=%d expiry=%s capabilities=%v\n", t.Address, t.Durable, t.ExpiryPolicy, t.Capabilities)
			}
			return nil
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err = amq.Dial(context.Background(), srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	return c, func() { c.Close(); srv.Close() }
}

func ExampleDurability() {
	c, done := exampleAttachClient()
	defer done()
	ctx := context.Background()
	_, err := c.NewReceiver(ctx, "audit", &amq.ReceiverOptions{Durability: amq.DurabilityConfiguration})
	if err != nil {
		log.Fatal(err)
	}
	// Output: source audit: durable=1 expiry= capabilities=[]
}

func ExampleExpiryPolicy() {
	c, done := exampleAttachClient()
	defer done()
	ctx := context.Background()
	// Keep the subscription for as long as the connection lasts.
	_, err := c.NewReceiver(ctx, "prices", &amq.ReceiverOptions{ExpiryPolicy: amq.ExpiryConnectionClose})
	if err != nil {
		log.Fatal(err)
	}
	// Output: source prices: durable=0 expiry=connection-close capabilities=[]
}

func ExampleSenderOptions() {
	c, done := exampleAttachClient()
	defer done()
	ctx := context.Background()
	s, err := c.NewSender(ctx, "notifications", &amq.SenderOptions{
		Name:         "notifier-1",
		Capabilities: []string{"topic"},
		Durability:   amq.DurabilityUnsettledState,
		ExpiryPolicy: amq.ExpiryNever,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	// Output: target notifications: durable=2 expiry=never capabilities=[topic]
}

func ExampleSASLOptions() {
	creds, err := server.NewCredentials(map[string]string{"alice": "secret"})
	if err != nil {
		log.Fatal(err)
	}
	b, err := broker.Listen("amqp://127.0.0.1:0", &broker.Options{Server: &server.Options{Credentials: creds}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	c, err := amq.Dial(context.Background(), b.URL(), &amq.ConnectOptions{
		User:     "alice",
		Password: "secret",
		SASL:     amq.SASLOptions{Mechanisms: []string{"SCRAM-SHA-256"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	conn := b.Server().Conns()[0] // the broker's view of the connection
	fmt.Println(conn.User(), conn.Mechanism())
	// Output: alice SCRAM-SHA-256
}

// exampleCertificate returns a self-signed certificate for 127.0.0.1, as a
// server TLS configuration and as PEM for the client to trust.
func exampleCertificate() (*tls.Config, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func ExampleTLSOptions() {
	serverTLS, caPEM := exampleCertificate()
	b, err := broker.Listen("amqps://127.0.0.1:0", &broker.Options{Server: &server.Options{AllowAnonymous: true, TLSConfig: serverTLS}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	dir, err := os.MkdirTemp("", "amq-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		log.Fatal(err)
	}

	// Trust the broker's certificate authority instead of the system roots.
	c, err := amq.Dial(context.Background(), b.URL(), &amq.ConnectOptions{TLS: amq.TLSOptions{CA: caFile}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.URL()[:8], b.Server().Conns()[0].TLSState() != nil)
	// Output: amqps:// true
}

func ExampleState() {
	url, stop := exampleBroker()
	defer stop()
	states := make(chan amq.State, 8)
	c, err := amq.Dial(context.Background(), url, &amq.ConnectOptions{
		OnStateChange: func(ev amq.StateEvent) { states <- ev.State },
	})
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	for st := range states {
		fmt.Println(st)
		if st == amq.StateClosed {
			break
		}
	}
	// Output:
	// connected
	// closed
}

func ExampleState_String() {
	fmt.Println(amq.StateReconnecting, amq.StateFailed)
	// Output: reconnecting failed
}

func ExampleStateEvent() {
	url, stop := exampleBroker()
	defer stop()
	events := make(chan amq.StateEvent, 8)
	c, err := amq.Dial(context.Background(), url, &amq.ConnectOptions{
		OnStateChange: func(ev amq.StateEvent) { events <- ev },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ev := <-events
	fmt.Println(ev.State, ev.URL == url, ev.Err, !ev.Time.IsZero())
	// Output: connected true <nil> true
}

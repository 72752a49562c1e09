package amqtest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/server"
)

func ExampleBroker_URL() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t)

	fmt.Println(strings.HasPrefix(b.URL(), "amqp://127.0.0.1:"))
	c, err := amq.Dial(context.Background(), b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("connected")
	// Output:
	// true
	// connected
}

func ExampleBroker_QueueDepth() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t)
	ctx := context.Background()
	c, err := amq.Dial(ctx, b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	for _, body := range []string{"a", "b"} {
		if err := c.Send(ctx, amq.NewMessage(body).SetTo("letters")); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(b.QueueDepth("letters"), b.QueueDepth("unknown"))
	// Output: 2 0
}

func ExampleBroker_Stop() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	b.Stop() // the broker is down: connections are refused
	_, err := amq.Dial(ctx, b.URL(), nil)
	fmt.Println("while stopped:", err != nil)

	b.Restart()
	c, err := amq.Dial(ctx, b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("after restart: connected")
	// Output:
	// while stopped: true
	// after restart: connected
}

func ExampleBroker_Close() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t)

	b.Close() // usually left to t.Cleanup
	_, err := amq.Dial(context.Background(), b.URL(), nil)
	fmt.Println(err != nil)
	// Output: true
}

// ExampleBroker_DropConnectionsForced closes the connections as a broker
// administrator would, with amqp:connection:forced: clients take it as
// "reconnect".
func ExampleBroker_DropConnectionsForced() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	states := make(chan amq.State, 16)
	c, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{
		OnStateChange: func(ev amq.StateEvent) { states <- ev.State },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(<-states)

	b.DropConnectionsForced()
	fmt.Println(<-states)
	for st := range states {
		if st == amq.StateConnected {
			fmt.Println(st)
			break
		}
	}
	if err := c.Send(ctx, amq.NewMessage("still works").SetTo("q")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("waiting:", b.QueueDepth("q"))
	// Output:
	// connected
	// disconnected
	// connected
	// waiting: 1
}

// ExampleBroker_Broker serves the same broker on a second listener: what is
// sent through one is queued for the other.
func ExampleBroker_Broker() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t)
	second, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		Handler:        b.Broker().Handler(),
		AllowAnonymous: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer second.Close()

	ctx := context.Background()
	c, err := amq.Dial(ctx, second.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Send(ctx, amq.NewMessage("via the second port").SetTo("q")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.QueueDepth("q"))
	// Output: 1
}

func ExampleOption() {
	t := &exampleT{}
	defer t.finish()
	opts := []amqtest.Option{
		amqtest.WithUser("app", "secret"),
		amqtest.WithMaxQueueMessages(1000),
	}
	b := amqtest.NewBroker(t, opts...)

	c, err := amq.Dial(context.Background(), b.URL(), &amq.ConnectOptions{User: "app", Password: "secret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("connected as app")
	// Output: connected as app
}

func ExampleWithUser() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t, amqtest.WithUser("alice", "secret"))
	ctx := context.Background()

	_, err := amq.Dial(ctx, b.URL(), nil) // anonymous: refused once a user exists
	fmt.Println("anonymous:", err != nil)

	c, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{User: "alice", Password: "secret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("alice: connected")
	// Output:
	// anonymous: true
	// alice: connected
}

func ExampleWithAnonymous() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t, amqtest.WithUser("alice", "secret"), amqtest.WithAnonymous(true))

	c, err := amq.Dial(context.Background(), b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("anonymous: connected")
	// Output: anonymous: connected
}

func ExampleWithMaxQueueMessages() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t, amqtest.WithMaxQueueMessages(1))
	ctx := context.Background()
	c, err := amq.Dial(ctx, b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	for i := 1; i <= 2; i++ {
		err := c.Send(ctx, amq.NewMessage(i).SetTo("small"))
		var rej *amq.RejectedError
		if errors.As(err, &rej) {
			fmt.Println(i, rej.Condition)
			continue
		}
		fmt.Println(i, err)
	}
	// Output:
	// 1 <nil>
	// 2 amqp:resource-limit-exceeded
}

func ExampleWithMaxQueueBytes() {
	t := &exampleT{}
	defer t.finish()
	b := amqtest.NewBroker(t, amqtest.WithMaxQueueBytes(1024))
	ctx := context.Background()
	c, err := amq.Dial(ctx, b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	fmt.Println(c.Send(ctx, amq.NewMessage("small").SetTo("q")))
	err = c.Send(ctx, amq.NewMessage(make([]byte, 4096)).SetTo("q"))
	var rej *amq.RejectedError
	fmt.Println(errors.As(err, &rej) && rej.Condition == "amqp:resource-limit-exceeded")
	// Output:
	// <nil>
	// true
}

func ExampleWithLogger() {
	t := &exampleT{}
	defer t.finish()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := amqtest.NewBroker(t, amqtest.WithLogger(logger))

	c, err := amq.Dial(context.Background(), b.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Close()
	b.Close()
	fmt.Println(logs.Len() > 0)
	// Output: true
}

func ExampleWithTLS() {
	t := &exampleT{}
	defer t.finish()
	cert, roots := exampleCertificate() // in a test: your test certificate
	b := amqtest.NewBroker(t, amqtest.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))

	c, err := amq.Dial(context.Background(), b.URL(), &amq.ConnectOptions{
		TLS: amq.TLSOptions{Config: &tls.Config{RootCAs: roots}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(strings.HasPrefix(b.URL(), "amqps://"))
	// Output: true
}

// exampleCertificate returns a self-signed certificate for 127.0.0.1 and a
// pool that trusts it.
func exampleCertificate() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
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
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

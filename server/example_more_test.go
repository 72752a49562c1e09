package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/server"
)

// exampleServer starts a server with h on a free loopback port; in your
// code, listen on the address your clients dial.
func exampleServer(h server.Handler) *server.Server {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Handler: h, AllowAnonymous: true})
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

// exampleClient connects an amq client to url.
func exampleClient(url string, opts *amq.ConnectOptions) *amq.Client {
	c, err := amq.Dial(context.Background(), url, opts)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// exampleSession connects a go-amqp client to url, for the examples that
// need protocol details amq does not expose, and returns a session.
func exampleSession(url string, opts *amqp.ConnOptions) (*amqp.Session, func()) {
	ctx := context.Background()
	conn, err := amqp.Dial(ctx, url, opts)
	if err != nil {
		log.Fatal(err)
	}
	s, err := conn.NewSession(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	return s, func() { conn.Close() }
}

func ExampleServer_URL() {
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{AllowAnonymous: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	// Port 0 picked a free port; URL is ready to dial.
	fmt.Println(strings.HasPrefix(srv.URL(), "amqp://127.0.0.1:"))
	// Output: true
}

func ExampleServer_Addr() {
	srv := exampleServer(nil)
	defer srv.Close()
	addr := srv.Addr().(*net.TCPAddr)
	fmt.Println(addr.IP, addr.Port > 0)
	// Output: 127.0.0.1 true
}

func ExampleServer_Close() {
	srv := exampleServer(nil)
	c := exampleClient(srv.URL(), &amq.ConnectOptions{Reconnect: amq.NoReconnect})
	defer c.Close()

	srv.Close() // stops listening and closes every connection
	<-c.Done()
	_, err := amq.Dial(context.Background(), srv.URL(), nil)
	fmt.Println(c.Err() != nil, err != nil)
	// Output: true true
}

func ExampleServer_Conns() {
	srv := exampleServer(nil)
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{ContainerID: "billing"})
	defer c.Close()

	for _, conn := range srv.Conns() {
		fmt.Println(conn.ContainerID(), conn.RemoteAddr().(*net.TCPAddr).IP)
	}
	// Output: billing 127.0.0.1
}

func ExampleServer_NumConns() {
	srv := exampleServer(nil)
	defer srv.Close()
	for range 3 {
		defer exampleClient(srv.URL(), nil).Close()
	}
	fmt.Println(srv.NumConns())
	// Output: 3
}

func ExampleServer_CloseConnections() {
	srv := exampleServer(nil)
	defer srv.Close()
	states := make(chan amq.State, 16)
	c := exampleClient(srv.URL(), &amq.ConnectOptions{
		OnStateChange: func(ev amq.StateEvent) { states <- ev.State },
	})
	defer c.Close()
	fmt.Println(<-states)

	// amqp:connection:forced tells clients to reconnect, e.g. to move them
	// to another server before maintenance.
	srv.CloseConnections(server.CondConnectionForced, "maintenance")
	fmt.Println(<-states)
	for st := range states {
		if st == amq.StateConnected {
			fmt.Println(st)
			break
		}
	}
	// Output:
	// connected
	// disconnected
	// connected
}

func ExampleOptions() {
	creds, err := server.NewCredentials(map[string]string{"alice": "secret"})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		Credentials:    creds,
		Mechanisms:     []string{"SCRAM-SHA-256"},
		RequireSASL:    true,
		ContainerID:    "my-server",
		MaxConnections: 1,
		IdleTimeout:    30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	alice := &amq.ConnectOptions{User: "alice", Password: "secret"}
	c := exampleClient(srv.URL(), alice)
	defer c.Close()
	fmt.Println(srv.Conns()[0].Mechanism())

	_, err = amq.Dial(context.Background(), srv.URL(), alice) // one connection at most
	fmt.Println(err != nil)
	// Output:
	// SCRAM-SHA-256
	// true
}

func ExampleNewCredentials() {
	creds, err := server.NewCredentials(map[string]string{"alice": "secret", "bob": "hunter2"})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Credentials: creds})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	c := exampleClient(srv.URL(), &amq.ConnectOptions{User: "bob", Password: "hunter2"})
	defer c.Close()
	fmt.Println(srv.Conns()[0].User())
	// Output: bob
}

func ExampleCredentials_Set() {
	creds, err := server.NewCredentials(nil)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Credentials: creds})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// Users can be added while the server runs.
	if err := creds.Set("carol", "s3cret"); err != nil {
		log.Fatal(err)
	}
	c := exampleClient(srv.URL(), &amq.ConnectOptions{User: "carol", Password: "s3cret"})
	defer c.Close()
	fmt.Println(srv.Conns()[0].User())
	// Output: carol
}

func ExampleCredentials_Delete() {
	creds, err := server.NewCredentials(map[string]string{"dave": "secret"})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Credentials: creds})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	creds.Delete("dave") // existing connections stay; new ones are refused
	_, err = amq.Dial(context.Background(), srv.URL(), &amq.ConnectOptions{User: "dave", Password: "secret"})
	var amqErr *amq.Error
	fmt.Println(errors.As(err, &amqErr) && amqErr.Scope == amq.ScopeSASL)
	// Output: true
}

func ExampleConn_ContainerID() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		fmt.Println(l.Conn().ContainerID(), "attaches", l.Address())
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{ContainerID: "shop"})
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "orders", nil); err != nil {
		log.Fatal(err)
	}
	// Output: shop attaches orders
}

func ExampleConn_Hostname() {
	srv := exampleServer(nil)
	defer srv.Close()
	// The hostname of the open frame names a virtual host.
	_, closeConn := exampleSession(srv.URL(), &amqp.ConnOptions{HostName: "tenant-a", SASLType: amqp.SASLTypeAnonymous()})
	defer closeConn()
	fmt.Println(srv.Conns()[0].Hostname())
	// Output: tenant-a
}

func ExampleConn_Mechanism() {
	creds, err := server.NewCredentials(map[string]string{"alice": "secret"})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{Credentials: creds, AllowAnonymous: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	anonymous := exampleClient(srv.URL(), nil)
	defer anonymous.Close()
	fmt.Println(srv.Conns()[0].Mechanism())
	// Output: ANONYMOUS
}

func ExampleConn_User() {
	creds, err := server.NewCredentials(map[string]string{"alice": "secret"})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
		Credentials: creds,
		Handler: server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
			// Authorise each link by the authenticated user.
			if l.Conn().User() != "admin" && strings.HasPrefix(l.Address(), "admin.") {
				return &server.Error{Condition: server.CondUnauthorizedAccess, Description: l.Conn().User() + " may not use " + l.Address()}
			}
			return nil
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{User: "alice", Password: "secret"})
	defer c.Close()

	_, err = c.NewSender(context.Background(), "admin.commands", nil)
	var amqErr *amq.Error
	if errors.As(err, &amqErr) {
		fmt.Println(amqErr.Condition, amqErr.Description)
	}
	// Output: amqp:unauthorized-access alice may not use admin.commands
}

func ExampleConn_Properties() {
	srv := exampleServer(nil)
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{Properties: map[string]any{"product": "shop"}})
	defer c.Close()
	product, _ := srv.Conns()[0].Properties().Get(server.Symbol("product"))
	fmt.Println(product)
	// Output: shop
}

func ExampleConn_RemoteAddr() {
	srv := exampleServer(nil)
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	fmt.Println(srv.Conns()[0].RemoteAddr().(*net.TCPAddr).IP.IsLoopback())
	// Output: true
}

func ExampleConn_LocalAddr() {
	srv := exampleServer(nil)
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	// The listener's address: useful when one server listens on several.
	fmt.Println(srv.Conns()[0].LocalAddr().String() == srv.Addr().String())
	// Output: true
}

func ExampleConn_TLSState() {
	cert, roots := exampleCertificate()
	srv, err := server.Listen("amqps://127.0.0.1:0", &server.Options{
		AllowAnonymous: true,
		TLSConfig:      &tls.Config{Certificates: []tls.Certificate{cert}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{TLS: amq.TLSOptions{Config: &tls.Config{RootCAs: roots}}})
	defer c.Close()

	state := srv.Conns()[0].TLSState()
	fmt.Println(state != nil && state.HandshakeComplete)
	// Output: true
}

func ExampleConn_Close() {
	srv := exampleServer(nil)
	defer srv.Close()
	c := exampleClient(srv.URL(), &amq.ConnectOptions{Reconnect: amq.NoReconnect})
	defer c.Close()

	conn := srv.Conns()[0]
	_ = conn.Close(&server.Error{Condition: server.CondConnectionForced, Description: "idle too long"})
	<-conn.Done()
	<-c.Done() // without reconnect the client ends; c.Err says why
	fmt.Println("client ended:", c.Err() != nil)
	// Output: client ended: true
}

func ExampleConn_Done() {
	srv := exampleServer(nil)
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)

	conn := srv.Conns()[0]
	c.Close()
	<-conn.Done() // e.g. to release what the connection held
	fmt.Println("connection of", conn.RemoteAddr().(*net.TCPAddr).IP, "ended")
	// Output: connection of 127.0.0.1 ended
}

func ExampleConn_Err() {
	srv := exampleServer(nil)
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)

	conn := srv.Conns()[0]
	c.Close()
	<-conn.Done()
	fmt.Println(conn.Err()) // nil: the client closed cleanly
	// Output: <nil>
}

func ExampleDiscard() {
	var received atomic.Int64
	srv := exampleServer(server.HandlerFuncs{ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
		if r.Link().Address() != "metrics" {
			server.Discard(ctx, r) // accept and drop what nobody wants
			return
		}
		for {
			d, err := r.Receive(ctx)
			if err != nil {
				return
			}
			received.Add(1)
			_ = d.Accept()
		}
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	fmt.Println(c.Send(ctx, amq.NewMessage("cpu 0.5").SetTo("metrics")))
	fmt.Println(c.Send(ctx, amq.NewMessage("noise").SetTo("elsewhere")))
	fmt.Println(received.Load())
	// Output:
	// <nil>
	// <nil>
	// 1
}

// ExampleHandlerFuncs_Attach wraps a Handler to log every attach, leaving
// the decision to the wrapped one.
func ExampleHandlerFuncs_Attach() {
	inner := server.HandlerFuncs{} // accepts every link
	srv := exampleServer(server.HandlerFuncs{
		AttachFunc: func(ctx context.Context, l *server.Link) error {
			fmt.Println("attach", l.Role(), l.Address())
			return inner.Attach(ctx, l)
		},
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	if _, err := c.NewSender(context.Background(), "in", nil); err != nil {
		log.Fatal(err)
	}
	if _, err := c.NewReceiver(context.Background(), "out", nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// attach receiver in
	// attach sender out
}

// ExampleHandlerFuncs_ServeReceiver counts messages, then leaves them to
// the default, which accepts and drops them.
func ExampleHandlerFuncs_ServeReceiver() {
	var links atomic.Int64
	srv := exampleServer(server.HandlerFuncs{
		ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
			links.Add(1)
			server.HandlerFuncs{}.ServeReceiver(ctx, r)
		},
	})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	for _, to := range []string{"a", "b", "a"} {
		if err := c.Send(ctx, amq.NewMessage("x").SetTo(to)); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(links.Load(), "links") // Client.Send keeps one link per address
	// Output: 2 links
}

// ExampleHandlerFuncs_ServeSender sends a greeting, then leaves the link to
// the default sender, which sends nothing more and keeps the link attached
// until the peer detaches it.
func ExampleHandlerFuncs_ServeSender() {
	srv := exampleServer(server.HandlerFuncs{
		ServeSenderFunc: func(ctx context.Context, s *server.Sender) {
			_, _ = s.Send(ctx, &server.Message{Value: "welcome", HasValue: true}, true)
			server.HandlerFuncs{}.ServeSender(ctx, s)
		},
	})
	defer srv.Close()
	exampleReceiveFrom(srv.URL(), "lobby", nil)
	// Output: welcome
}

func ExampleRole() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		switch l.Role() {
		case server.RoleSender:
			fmt.Println("the peer consumes from", l.Address())
		case server.RoleReceiver:
			fmt.Println("the peer produces to", l.Address())
		}
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	ctx := context.Background()
	if _, err := c.NewReceiver(ctx, "jobs", nil); err != nil {
		log.Fatal(err)
	}
	if _, err := c.NewSender(ctx, "results", nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// the peer consumes from jobs
	// the peer produces to results
}

func ExampleRole_String() {
	fmt.Println(server.RoleSender, server.RoleReceiver)
	// Output: sender receiver
}

func ExampleSenderSettleMode() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if l.SenderSettleMode() == server.SenderSettleSettled {
			fmt.Println(l.Address(), "is at-most-once: no outcomes to send")
		}
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	settled := amqp.SenderSettleModeSettled
	if _, err := session.NewSender(context.Background(), "telemetry", &amqp.SenderOptions{SettlementMode: &settled}); err != nil {
		log.Fatal(err)
	}
	// Output: telemetry is at-most-once: no outcomes to send
}

func ExampleReceiverSettleMode() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if l.ReceiverSettleMode() == server.ReceiverSettleSecond {
			fmt.Println(l.Address(), "wants two-step settlement")
		}
		return nil
	}})
	defer srv.Close()
	session, closeConn := exampleSession(srv.URL(), nil)
	defer closeConn()
	second := amqp.ReceiverSettleModeSecond
	if _, err := session.NewSender(context.Background(), "payments", &amqp.SenderOptions{RequestedReceiverSettleMode: &second}); err != nil {
		log.Fatal(err)
	}
	// Output: payments wants two-step settlement
}

func ExampleError() {
	srv := exampleServer(server.HandlerFuncs{AttachFunc: func(ctx context.Context, l *server.Link) error {
		if l.Address() != "orders" {
			return &server.Error{Condition: server.CondNotFound, Description: "no node " + l.Address()}
		}
		return nil
	}})
	defer srv.Close()
	c := exampleClient(srv.URL(), nil)
	defer c.Close()
	_, err := c.NewSender(context.Background(), "ordres", nil)
	var amqErr *amq.Error
	if errors.As(err, &amqErr) {
		fmt.Println(amqErr.Condition, amqErr.Description)
	}
	// Output: amqp:not-found no node ordres
}

// exampleCertificate returns a self-signed certificate for 127.0.0.1 and a
// pool that trusts it.
func exampleCertificate() (tls.Certificate, *x509.CertPool) {
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
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

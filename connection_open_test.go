package amq_test

import (
	"context"
	"crypto/tls"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/engine"
	"github.com/amqgo/amq/server"
)

// listenOpen starts a server that accepts anonymous connections, for
// tests that look at what the client's open said.
func listenOpen(t *testing.T, opts server.Options) *server.Server {
	t.Helper()
	opts.AllowAnonymous = true
	srv, err := server.Listen("amqp://127.0.0.1:0", &opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// onlyConn returns the server's one live connection.
func onlyConn(t *testing.T, srv *server.Server) *server.Conn {
	t.Helper()
	conns := srv.Conns()
	require.Len(t, conns, 1)
	return conns[0]
}

func dialOpen(t *testing.T, url string, opts *amq.ConnectOptions) *amq.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amq.Dial(ctx, url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestVirtualHostIsOpenHostname(t *testing.T) {
	srv := listenOpen(t, server.Options{})
	c := dialOpen(t, srv.URL(), &amq.ConnectOptions{VirtualHost: "vhost:tenant-a"})
	assert.Equal(t, "vhost:tenant-a", onlyConn(t, srv).Hostname())
	require.NoError(t, c.Close())

	// Without it, the open names the URL's host. (A server of its own: the
	// first may still list the closed connection.)
	srv2 := listenOpen(t, server.Options{})
	dialOpen(t, srv2.URL(), nil)
	assert.Equal(t, "127.0.0.1", onlyConn(t, srv2).Hostname())
}

func TestVirtualHostIsTLSServerName(t *testing.T) {
	pki := newTestPKI(t)
	var mu sync.Mutex
	var names []string
	tc := pki.serverTLS.Clone()
	tc.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		names = append(names, hi.ServerName)
		mu.Unlock()
		return nil, nil
	}
	b := amqtest.NewBroker(t, amqtest.WithTLS(tc))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The certificate is for 127.0.0.1: verified against the virtual
	// host's name, it does not match.
	_, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{
		VirtualHost: "broker.example",
		TLS:         amq.TLSOptions{CA: pki.caFile},
		Reconnect:   amq.NoReconnect,
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broker.example")

	// A ServerName in TLSOptions.Config wins over the virtual host.
	c, err := amq.Dial(ctx, b.URL(), &amq.ConnectOptions{
		VirtualHost: "broker.example",
		TLS:         amq.TLSOptions{CA: pki.caFile, Config: &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}},
	})
	require.NoError(t, err)
	require.NoError(t, c.Close())

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, names)
	assert.Equal(t, "broker.example", names[0], "SNI of the first handshake")
}

func TestOpenCapabilities(t *testing.T) {
	srv := listenOpen(t, server.Options{
		OfferedCapabilities: []server.Symbol{"ANONYMOUS-RELAY", "DELAYED_DELIVERY"},
		DesiredCapabilities: []server.Symbol{"SHARED-SUBS"},
	})
	opts := &amq.ConnectOptions{
		OfferedCapabilities: []string{"SHARED-SUBS"},
		DesiredCapabilities: []string{"ANONYMOUS-RELAY"},
	}
	c := dialOpen(t, srv.URL(), opts)
	opts.OfferedCapabilities[0] = "changed after Dial"

	offered, desired := engine.PeerCapabilities(onlyConn(t, srv))
	assert.Equal(t, []codec.Symbol{"SHARED-SUBS"}, offered)
	assert.Equal(t, []codec.Symbol{"ANONYMOUS-RELAY"}, desired)
	assert.Equal(t, []string{"ANONYMOUS-RELAY", "DELAYED_DELIVERY"}, c.PeerOfferedCapabilities())
	assert.Equal(t, []string{"SHARED-SUBS"}, c.PeerDesiredCapabilities())
}

func TestOpenCapabilitiesNone(t *testing.T) {
	srv := listenOpen(t, server.Options{})
	c := dialOpen(t, srv.URL(), nil)
	offered, desired := engine.PeerCapabilities(onlyConn(t, srv))
	assert.Nil(t, offered)
	assert.Nil(t, desired)
	assert.Nil(t, c.PeerOfferedCapabilities())
	assert.Nil(t, c.PeerDesiredCapabilities())
}

func TestBrokerOffersAnonymousRelay(t *testing.T) {
	c := dialOpen(t, amqtest.NewBroker(t).URL(), nil)
	assert.Contains(t, c.PeerOfferedCapabilities(), "ANONYMOUS-RELAY")
}

func TestEmptyCapabilityRefused(t *testing.T) {
	for _, opts := range []*amq.ConnectOptions{
		{OfferedCapabilities: []string{"A", ""}},
		{DesiredCapabilities: []string{""}},
	} {
		_, err := amq.Dial(context.Background(), "amqp://127.0.0.1:1", opts)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Capabilities")
	}
}

// After a reconnect, the peer's capabilities are the new connection's.
func TestPeerCapabilitiesFollowReconnect(t *testing.T) {
	first := listenOpen(t, server.Options{OfferedCapabilities: []server.Symbol{"FIRST"}})
	second := listenOpen(t, server.Options{OfferedCapabilities: []server.Symbol{"SECOND"}})
	connected := make(chan struct{}, 4)
	c := dialOpen(t, "", &amq.ConnectOptions{
		URLs: []string{first.URL(), second.URL()},
		OnStateChange: func(ev amq.StateEvent) {
			if ev.State == amq.StateConnected {
				connected <- struct{}{}
			}
		},
	})
	require.Equal(t, []string{"FIRST"}, c.PeerOfferedCapabilities())

	<-connected // Dial's
	require.NoError(t, first.Close())
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect")
	}
	assert.Equal(t, []string{"SECOND"}, c.PeerOfferedCapabilities())
}

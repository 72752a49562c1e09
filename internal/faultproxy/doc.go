// Package faultproxy provides a loopback TCP proxy that injects network
// faults on command. It is meant for tests of reconnect and failover logic:
// put a [Proxy] between a client and a broker, point the client at
// [Proxy.URL], and then drop, stall, pause, refuse, delay or redirect the
// traffic while the test runs.
//
// # Faults
//
//   - [Proxy.CutAll] resets every live proxied connection on both sides (the
//     sockets are closed with SO_LINGER 0, so peers see ECONNRESET or EOF
//     promptly). New connections are still accepted afterwards.
//   - [Proxy.Blackhole] keeps connections open but silently drops every byte
//     in both directions, including FIN, so only an idle timeout or
//     heartbeat can detect the fault. New connections are accepted and held
//     open without ever contacting the target. Turning the black hole off
//     cuts every connection that was black-holed (they never recover) and
//     lets new connections forward normally again.
//   - [Proxy.Refuse] models "broker process down, host up": the listener
//     stays bound (so the port cannot be taken by anything else), but every
//     new connection is accepted and immediately reset, which the client
//     observes as ECONNRESET or EOF before any byte arrives. Existing
//     connections are unaffected.
//   - [Proxy.Delay] adds a fixed latency to every chunk forwarded in either
//     direction. Chunks are pipelined, so the delay is latency, not a
//     throughput cap, and byte order is always preserved.
//   - [Proxy.SetTarget] sends later connections to another backend; existing
//     connections keep their backend.
//   - [Proxy.Pause] stops reading from the clients, so that TCP
//     back-pressure stalls their writes (a client sending a large message
//     blocks mid-message, deterministically, once the kernel buffers are
//     full); turning it off forwards everything, nothing lost. Traffic to
//     the clients flows on.
//
// [Proxy.Conns] and [Proxy.Accepted] let tests observe how many connections
// are live and how many connection attempts (reconnects) reached the proxy.
//
// The proxy only listens on 127.0.0.1. All methods are safe for concurrent
// use. [Proxy.Close] stops the listener, resets every connection and waits
// until every goroutine the proxy started has returned; every blocking
// operation inside the proxy is bounded by a connection close, a context
// cancellation or a timeout, so Close returns promptly.
package faultproxy

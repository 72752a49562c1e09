// Package integration holds amq's table-driven tests against real AMQP 1.0
// peers: ActiveMQ Artemis (instances the harness creates, starts, kills and
// restarts, and a shared-store primary/backup pair), RabbitMQ with its
// rabbitmq_amqp1_0 plugin, the Qpid Proton C example broker, a broker
// written on Qpid Proton Python (peers/proton_broker.py), Proton Python 0.37
// and 0.40 (the reference's own send.py and receive.py in peers/reference,
// a type matrix, an interop client, a transactional client in
// peers/proton_tx.py), Qpid JMS (peers/jms), rhea, and amq's own embedded
// broker. AMQP over WebSockets (amqpws://, websocket_test.go) is tested
// against Artemis's acceptor, across transports (in over a WebSocket, out
// over TCP and the other way), and with rhea's WebSocket client (npm ws)
// through Artemis and the embedded broker, both ways, and a rhea server on
// ws. The embedded broker over WebSockets is a peer of its own,
// embedded-ws, that every per-peer test runs against (raw go-amqp through
// internal/goamqpws), and the reconnect soak runs over amqpws:// against
// it and against Artemis (embedded-ws, artemis-ws).
//
// The tests carry the build tag "integration":
//
//	go test -race -tags integration -count=1 ./integration/...
//
// .ci/run installs the peers and starts RabbitMQ and the KDC first; the
// tests start the others (Artemis instances, the Proton brokers) themselves,
// on free loopback ports, and stop them at the end. Outside CI (the CI
// variable unset) a missing peer skips the tests that need it, with the
// reason; in CI it fails them. matrix.py turns the -v output into a
// peer × test table.
package integration

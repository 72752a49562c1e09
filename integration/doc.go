// Package integration holds amq's table-driven tests against real AMQP 1.0
// peers: RabbitMQ with its rabbitmq_amqp1_0 plugin, the Qpid Proton C example
// broker, a broker written on Qpid Proton Python (peers/proton_broker.py), the
// Proton Python client and rhea as interop clients, and amq's own embedded
// broker.
//
// The tests carry the build tag "integration":
//
//	go test -race -tags integration -count=1 ./integration/...
//
// .ci/run installs and starts the peers first. Outside CI (the CI variable
// unset) a missing peer skips the tests that need it, with the reason; in CI
// it fails them.
package integration

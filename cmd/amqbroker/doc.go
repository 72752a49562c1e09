// Command amqbroker runs the in-memory AMQP 1.0 broker of package broker as
// a program, for demos, development and small single-process deployments.
// All state is in memory: it is lost when the program stops. It is not a
// cluster.
//
// Usage:
//
//	amqbroker [flags]
//
// Flags:
//
//	-listen URL              where to listen (default amqp://127.0.0.1:5672):
//	                         amqp://, amqps://, or amqpws:// and
//	                         amqpwss:// for AMQP over WebSockets (with an
//	                         optional /path); port 0 picks a free port;
//	                         amqps:// and amqpwss:// need -tls-cert and
//	                         -tls-key. Repeat the flag, or separate URLs
//	                         with commas, to serve the broker on several
//	                         listeners at once
//	-tls-cert FILE           PEM certificate chain for amqps:// and amqpwss://
//	-tls-key FILE            PEM private key for amqps:// and amqpwss://
//	-users FILE              users, one "user:password" per line
//	                         (blank lines and lines starting with # ignored)
//	-user NAME               one more user, whose password comes from
//	                         the AMQBROKER_PASSWORD environment variable,
//	                         -password-file FILE (its first line) or
//	                         -password PW (visible to every user of the
//	                         machine in the process list: amqbroker
//	                         warns); exactly one of the three
//	-allow-anonymous         accept anonymous clients
//	-max-queue-messages N    bound on the messages a node holds
//	                         (default 100000; -1: none)
//	-max-queue-bytes N       bound on the bytes a node holds
//	                         (default 256 MiB; -1: none)
//	-max-total-bytes N       bound on the bytes of the messages all
//	                         nodes hold together, transactions' included
//	                         (default 1 GiB; -1: none); past it, as past
//	                         a node's bound, a send is refused with
//	                         amqp:resource-limit-exceeded
//	-max-connections N       bound on the live connections, those still
//	                         in their handshake included (default 4096;
//	                         -1: none)
//	-max-sessions N          bound on the sessions one connection may
//	                         begin, 1 to 65536 (default 256)
//	-max-links N             bound on the links one connection has
//	                         attached (default 1024; -1: none)
//	-max-message-size N      largest message taken, in bytes, counted as
//	                         it arrives (default 100 MiB)
//	-max-handshakes N        bound on the connections still in their
//	                         handshake: a new one beyond it closes the
//	                         oldest, so idle sockets cannot lock clients
//	                         out (default 256; -1: none)
//	-handshake-timeout D     time a connection has from accept to its
//	                         open (default 10s)
//	-v                       debug logging
//	-pprof HOST:PORT         serve net/http/pprof there (profiling; keep
//	                         it on a loopback address)
//
// Users authenticate with SASL PLAIN or SCRAM-SHA-1/256/512. Anonymous
// access must be asked for: with no user configured and no
// -allow-anonymous, amqbroker refuses to start and says so.
//
// All state lives in the Go heap. Unless the GOGC environment variable is
// set, amqbroker runs the garbage collector at Go's default target while
// the live heap is under 64 MiB and at GOGC=50 above it: with the default
// a broker holding many messages could grow to twice their size before
// collecting (GOMEMLIMIT is honoured as usual).
//
// Once listening, amqbroker prints one line on standard output per
// listener, in the order of the -listen URLs (exactly one line with a
// single -listen),
//
//	listening on amqp://HOST:PORT
//	listening on amqpws://HOST:PORT/PATH
//
// with the real port, so that scripts can start it on port 0 and read where
// it is. Logs go to standard error. SIGINT or SIGTERM stops it cleanly
// (exit status 0); bad flags exit with status 2, other start-up failures
// with status 1.
package main

// Command amqbench measures AMQP 1.0 messaging in the spirit of Qpid's
// quiver: one receiver and one or more senders move messages through a peer
// for a fixed time, and amqbench reports throughput, end-to-end latency
// percentiles and the CPU time its own process spent per message.
//
// Usage:
//
//	amqbench [flags]
//
// Flags:
//
//	-url URL          the peer; "self" (the default) means the embedded
//	                  broker of package broker, started in this process on
//	                  a loopback port, so the run needs no external service
//	-address ADDR     the node to send to and receive from (default
//	                  amqbench; RabbitMQ wants /queue/NAME)
//	-duration D       how long the senders send (default 10s)
//	-size N           body size in bytes, at least 24 (default 100)
//	-credit N         the receiver's credit (prefetch) window (default 1000)
//	-window N         unsettled messages each sender keeps in flight
//	                  (default 1000); 1 means a loop of blocking sends
//	-senders N        number of senders, each on its own link (default 1)
//	-presettled       send pre-settled (at-most-once); -window is then moot
//	-tx N             send in local transactions of N messages (engine amq),
//	                  all in flight at once (Tx.SendAsync), then commit;
//	                  -window 1 is the same messages outside transactions
//	-engine E         amq (this module's client, the default) or goamqp
//	                  (alias raw: github.com/Azure/go-amqp, the baseline)
//	                  (github.com/Azure/go-amqp used directly)
//	-rate N           total messages per second, paced by a ticker;
//	                  0 (the default) sends as fast as the peer allows
//	-json             print one JSON object instead of text
//	-user U           SASL PLAIN user; without it, SASL ANONYMOUS
//	-password P       the user's password (credentials in -url work too)
//	-chaos            cut the connections every second (engine amq only)
//	-grace D          how long to drain after the senders stop (default 10s)
//	-label TEXT       names the run in the report (and on a chart)
//	-cpuprofile FILE  writes a CPU profile of the run (go tool pprof)
//	-memprofile FILE  writes the allocation profile after the run
//	-chart FILE       instead of running, draw the reports in the JSON
//	                  files given as arguments as an SVG chart into FILE
//
// For example, amq against raw go-amqp on the embedded broker, and then
// through RabbitMQ:
//
//	amqbench -url self -duration 5s -engine amq
//	amqbench -url self -duration 5s -engine raw
//	amqbench -url amqp://127.0.0.1:5672 -user guest -password guest -address /queue/amqbench -engine amq
//
// and a chart of runs saved with -json (one or more reports per file):
//
//	amqbench -url self -engine amq -label "amq, embedded" -json >> amq.json
//	amqbench -url self -engine raw -label "raw, embedded" -json >> raw.json
//	amqbench -chart runs.svg amq.json raw.json
//
// # The workload
//
// The senders share one connection, the receiver has another. With -engine
// amq each sender is an amq.Sender: with -window N > 1 it keeps N messages
// in flight with SendAsync, their receipts waited for in order by a second
// goroutine; with -window 1 it calls Send in a loop, the naive user's code;
// with -presettled it calls Send on a pre-settled sender. The receiver is an
// amq.Receiver with ReceiverOptions.Credit, read through Deliveries with
// auto-accept. With -engine raw the same workload runs on go-amqp:
// SendWithReceipt and SendReceipt.Wait, Send, Send with SendOptions.Settled
// on a mixed-mode sender, and a receiver with go-amqp's own Credit that
// accepts every message with AcceptMessage. Each raw sender has a session
// of its own, as an amq sender has. Comparing the two engines on the same
// peer in the same session of runs shows what the facade costs or saves.
//
// Each body starts with the send time (nanoseconds, taken just before the
// send call), the sender and sequence number, and a random run id; the rest
// is padding. The receiver computes the end-to-end latency on arrival,
// counts duplicates, and ignores messages of other runs left on the peer
// (reported as stale).
//
// # What is reported
//
//   - messages: sent (settled as accepted; for pre-settled sends, written),
//     received (distinct messages of this run), lost (sent but not
//     received by the end of the grace period: when the report says the
//     drain was incomplete but messages were still arriving, they may be
//     queued on a peer slower than the senders), duplicated, unconfirmed
//     (sends whose outcome never came)
//   - throughput: received messages, and MB/s of bodies, from the first
//     send to the last arrival, so that a backlog drained after the senders
//     stopped counts against the run; the senders' own rate is given too
//   - latency: p50, p90, p99, p99.9 and max, in microseconds, within 1.6%
//   - cpu: the process's user and system time (getrusage) divided by the
//     messages received. With -url self this includes the embedded broker,
//     and with -chaos the fault proxy: it is the whole process. Beside it,
//     the heap objects the process allocated per message received: one
//     message is both sent and received by the process, so this is the
//     allocations of a send and a receive together.
//
// With -json the same figures come as one JSON object with the fields
// throughput_msgs_per_s, throughput_mb_per_s, latency_p50_us,
// latency_p90_us, latency_p99_us, latency_p999_us, latency_max_us,
// send_rate_msgs_per_s, cpu_us_per_msg, allocs_per_msg, sent, received, lost, duplicated,
// unconfirmed, stale, drained, stalled_s,
// engine, url (never with credentials), peer_url, address, presettled, tx,
// size, credit, window, senders, rate, duration_s and elapsed_s, and label
// when -label was given. -chart reads these objects back.
//
// # Chaos
//
// With -chaos both connections go through an in-process fault proxy that
// resets them every second. amqbench reports the reconnect time, from the
// cut to the first send settled after the sending client reports that it
// is connected again (min, median, max), and the lost and duplicated
// messages: with unsettled sends nothing may be lost (amq resends what was
// in flight), while duplicates are expected (deliveries received but not yet
// accepted when the connection drops are redelivered). Pre-settled sends
// are at-most-once: those that fail in a cut are counted as unconfirmed and
// the run goes on. The clients' ReconnectResetAfter is half a second, so
// that each cut finds the reconnect schedule at its immediate first
// attempt: the time measured is the reconnect's, not a back-off delay
// grown over cuts (with the default of 5 s, connections cut every second
// never count as good ones, and the delays grow to seconds).
//
// # Ending
//
// At the end of -duration, or on SIGINT or SIGTERM, the senders stop; the
// outcomes still awaited and the messages still on their way are given
// -grace to arrive, and then the report is printed. A second signal kills
// the program at once. Bad flags exit with status 2; a run that fails
// (cannot connect, a send fails, or settled messages were lost) prints what
// it measured and exits with status 1.
package main

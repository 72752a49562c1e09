//go:build integration

package integration

// ActiveMQ Artemis (= Red Hat AMQ Broker, the broker the reference is written
// for) as a peer: instances are created from the distribution that .ci/run
// fetches from Maven into .peers/, configured for loopback, started, killed
// and restarted by the tests.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// artemisVersion is the distribution .ci/run fetches
// (org.apache.activemq:apache-artemis:VERSION:tar.gz:bin).
const artemisVersion = "2.40.0"

// Artemis credentials of every instance the harness creates. Anonymous
// connections are allowed too (artemis create --allow-anonymous maps them to
// this user's role).
const artemisUser, artemisPassword = "amq", "amq"

// artemisHome is the unpacked distribution: $AMQ_ARTEMIS_HOME, else
// .peers/apache-artemis-VERSION.
func artemisHome() (string, error) {
	home := envOr("AMQ_ARTEMIS_HOME", filepath.Join(peersDir(), "apache-artemis-"+artemisVersion))
	bin := filepath.Join(home, "bin", "artemis")
	if !isExecutable(bin) {
		return "", fmt.Errorf("%s not found (.ci/run fetches org.apache.activemq:apache-artemis:%s:tar.gz:bin from Maven and unpacks it there)", bin, artemisVersion)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return "", fmt.Errorf("java (OpenJDK 17) for Artemis: %w", err)
	}
	return home, nil
}

// artemisConfig says how to create an instance.
type artemisConfig struct {
	// createArgs are extra `artemis create` flags (HA policy, for one).
	createArgs []string
	// data is the data directory ("" for the instance's own): the two
	// brokers of a shared-store pair name the same one.
	data string
	// backup is the backup of a shared-store pair: it never fails back to
	// a primary that comes back.
	backup bool
	// memory is the JVM heap (-Xmx), "512M" when empty.
	memory string
}

// artemisBroker is one Artemis instance the harness created.
type artemisBroker struct {
	name     string
	home     string
	dir      string // the instance directory
	amqpPort int    // on 127.0.0.1
	ipv6Port int    // on [::1]
	logPath  string

	mu   sync.Mutex
	proc *peerProc
}

// freePort returns a port of the loopback address host ("127.0.0.1" or
// "::1") that nobody listens on right now.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// newArtemis creates (but does not start) an instance in a fresh temporary
// directory, removed when the test binary ends.
func newArtemis(name string, cfg artemisConfig) (*artemisBroker, error) {
	home, err := artemisHome()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "amq-artemis-"+name+"-")
	if err != nil {
		return nil, err
	}
	procsMu.Lock()
	tmpDirs = append(tmpDirs, root)
	procsMu.Unlock()
	a := &artemisBroker{name: name, home: home, dir: filepath.Join(root, "instance"), logPath: filepath.Join(root, "artemis.log")}
	if a.amqpPort, err = freePort("127.0.0.1"); err != nil {
		return nil, err
	}
	if a.ipv6Port, err = freePort("::1"); err != nil {
		return nil, fmt.Errorf("no IPv6 loopback for Artemis's [::1] acceptor: %w", err)
	}
	memory := cfg.memory
	if memory == "" {
		memory = "512M"
	}
	args := []string{"create", "--silent", "--force",
		"--user", artemisUser, "--password", artemisPassword, "--allow-anonymous",
		"--host", "127.0.0.1", "--name", name,
		"--no-web", "--no-hornetq-acceptor", "--no-mqtt-acceptor", "--no-stomp-acceptor",
		// NIO and no write-speed test: the same journal on every machine,
		// and 10 s less per instance.
		"--nio", "--no-autotune", "--java-memory", memory}
	if cfg.data != "" {
		args = append(args, "--data", cfg.data)
	}
	args = append(args, cfg.createArgs...)
	args = append(args, a.dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(home, "bin", "artemis"), args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("artemis %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := a.configure(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// configure rewrites etc/broker.xml: loopback acceptors on the chosen
// ports, and the address settings the tests rely on.
func (a *artemisBroker) configure(cfg artemisConfig) error {
	path := filepath.Join(a.dir, "etc", "broker.xml")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	x := string(b)

	// Acceptors: AMQP only, on both loopback addresses. amqpMinLargeMessageSize is Artemis's default, spelled out
	// because the large-message tests depend on crossing it.
	params := "tcpSendBufferSize=1048576;tcpReceiveBufferSize=1048576;amqpCredits=1000;amqpLowCredits=300;amqpMinLargeMessageSize=102400;amqpDuplicateDetection=true"
	acceptors := fmt.Sprintf("<acceptors>\n         <acceptor name=\"amqp\">tcp://127.0.0.1:%d?protocols=AMQP;%s</acceptor>\n", a.amqpPort, params)
	acceptors += fmt.Sprintf("         <acceptor name=\"amqp-ipv6\">tcp://[::1]:%d?protocols=AMQP;%s</acceptor>\n", a.ipv6Port, params)
	acceptors += "      </acceptors>"
	if x, err = replaceBlock(x, "<acceptors>", "</acceptors>", acceptors); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}

	// Address settings. The reference (14.3) expects a client's addresses
	// to exist; this harness lets Artemis create them on first use instead,
	// and makes an address created that way ANYCAST (a queue), as
	// amq.NewSender and NewReceiver without capabilities mean. Multicast
	// (topics) is asked for with the "topic" capability.
	const catchAll = `<address-setting match="#">`
	if !strings.Contains(x, catchAll) {
		return fmt.Errorf("%s has no %s", path, catchAll)
	}
	x = strings.Replace(x, catchAll, catchAll+`
            <default-address-routing-type>ANYCAST</default-address-routing-type>
            <default-queue-routing-type>ANYCAST</default-queue-routing-type>`, 1)
	// Addresses under "dlq." dead-letter after artemisMaxDeliveries
	// attempts, each into its own queue "DLQ.<address>" on the address DLA
	// (Artemis creates it), so a test reads only its own dead letters.
	dlq := fmt.Sprintf(`<address-setting match="dlq.#">
            <default-address-routing-type>ANYCAST</default-address-routing-type>
            <default-queue-routing-type>ANYCAST</default-queue-routing-type>
            <max-delivery-attempts>%d</max-delivery-attempts>
            <redelivery-delay>0</redelivery-delay>
            <dead-letter-address>DLA</dead-letter-address>
            <auto-create-dead-letter-resources>true</auto-create-dead-letter-resources>
            <dead-letter-queue-prefix>DLQ.</dead-letter-queue-prefix>
         </address-setting>
         `, artemisMaxDeliveries)
	x = strings.Replace(x, catchAll, dlq+catchAll, 1)

	// A shared-store pair fails over through the journal's file lock
	// alone: no cluster connection, and no UDP discovery that could find
	// other brokers on the machine.
	for _, tag := range []string{"broadcast-groups", "discovery-groups", "cluster-connections"} {
		if strings.Contains(x, "<"+tag+">") {
			if x, err = replaceBlock(x, "<"+tag+">", "</"+tag+">", ""); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	if cfg.backup {
		const fos = "<failover-on-shutdown>true</failover-on-shutdown>"
		if !strings.Contains(x, fos) {
			return fmt.Errorf("%s: no %s in the backup's ha-policy", path, fos)
		}
		x = strings.Replace(x, fos, fos+"\n               <allow-failback>false</allow-failback>", 1)
	}
	return os.WriteFile(path, []byte(x), 0o644)
}

// artemisMaxDeliveries is max-delivery-attempts for addresses under "dlq.".
const artemisMaxDeliveries = 3

// replaceBlock replaces the text from open to close (inclusive) with repl.
func replaceBlock(s, open, close, repl string) (string, error) {
	i := strings.Index(s, open)
	j := strings.Index(s, close)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %s…%s block", open, close)
	}
	return s[:i] + repl + s[j+len(close):], nil
}

// url is the instance's AMQP URL with credentials (for raw go-amqp and the
// interop clients); addr is the same without them.
func (a *artemisBroker) url() string {
	return fmt.Sprintf("amqp://%s:%s@127.0.0.1:%d", artemisUser, artemisPassword, a.amqpPort)
}

func (a *artemisBroker) addr() string { return fmt.Sprintf("amqp://127.0.0.1:%d", a.amqpPort) }

// startProc starts the broker's JVM and returns at once; its output is
// appended to the instance's log.
func (a *artemisBroker) startProc() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc != nil && a.proc.alive() == nil {
		return fmt.Errorf("%s is already running", a.name)
	}
	log, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// bin/artemis execs java, so the process is the JVM itself and a kill
	// -9 of it is a broker crash.
	cmd := exec.Command(filepath.Join(a.dir, "bin", "artemis"), "run")
	out := &syncBuffer{}
	cmd.Stdout = &teeWriter{out, log}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", a.name, err)
	}
	// A JVM shutting down in order (journal flushed) takes longer than
	// the other peers.
	p := &peerProc{name: "artemis " + a.name, cmd: cmd, out: out, done: make(chan struct{}), grace: 15 * time.Second}
	go func() {
		cmd.Wait()
		log.Close()
		close(p.done)
	}()
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()
	a.proc = p
	return nil
}

// start starts the broker and waits until it answers AMQP.
func (a *artemisBroker) start() error {
	if err := a.startProc(); err != nil {
		return err
	}
	if err := waitAMQP(a.url(), 60*time.Second); err != nil {
		return errors.Join(err, a.running())
	}
	return nil
}

// running is nil while the JVM runs, else an error with its output.
func (a *artemisBroker) running() error {
	p := a.current()
	if p == nil {
		return fmt.Errorf("%s was never started", a.name)
	}
	return p.alive()
}

// kill ends the JVM with SIGKILL, as a crash would, and waits for it.
func (a *artemisBroker) kill() {
	if p := a.current(); p != nil {
		p.kill()
	}
}

// stop shuts the broker down in order (SIGINT, then SIGKILL after a grace).
func (a *artemisBroker) stop() {
	if p := a.current(); p != nil {
		p.stop()
	}
}

// current is the broker's latest JVM, nil before the first start.
func (a *artemisBroker) current() *peerProc {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.proc
}

// log returns what the broker has written so far.
func (a *artemisBroker) log() string {
	b, _ := os.ReadFile(a.logPath)
	return string(b)
}

// waitLog polls the broker's log for s until ctx ends (there is no other
// signal for states such as "backup announced").
func (a *artemisBroker) waitLog(ctx context.Context, s string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(a.log(), s) {
		if err := a.running(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %q not in its log: %w", a.name, s, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

type teeWriter struct {
	a *syncBuffer
	b *os.File
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.a.Write(p)
	return t.b.Write(p)
}

// startArtemis is the shared "artemis" peer of the matrix: one instance for
// the whole test binary.
func startArtemis() (*Peer, error) {
	a, err := newArtemis("main", artemisConfig{memory: "1G"})
	if err != nil {
		return nil, err
	}
	if err := a.start(); err != nil {
		return nil, err
	}
	return artemisPeer(a), nil
}

// artemisPeer describes an Artemis instance as a matrix peer.
func artemisPeer(a *artemisBroker) *Peer {
	return &Peer{
		Name:      "artemis",
		URL:       a.url(),
		Addr:      a.addr(),
		User:      artemisUser,
		Password:  artemisPassword,
		Queue:     func(n string) string { return n },
		Topic:     func(n string) string { return n },
		TopicCaps: []string{"topic"},
		Missing: map[Feature]string{
			FeatRejectAddress: "measured: Artemis rejects transfers (amqp:resource-limit-exceeded) only to an address that filled up under address-full-policy FAIL, and grants a new sender on a full address no credit, so no address rejects a fresh link's transfer on demand",
		},
		ipv6: func() (string, error) {
			return fmt.Sprintf("amqp://%s:%s@[::1]:%d", artemisUser, artemisPassword, a.ipv6Port), nil
		},
		artemis: a,
	}
}

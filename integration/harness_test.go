//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/amqtest"
	"github.com/amqgo/amq/internal/testsupport"
)

// Feature is something a test needs from a broker that not every peer has.
type Feature string

const (
	// FeatTopic: a "topic" capability (or topic address) gives each
	// subscriber its own copy of every message.
	FeatTopic Feature = "topic"
	// FeatDurableSub: a durable topic subscription survives the
	// subscriber going away and keeps what was sent meanwhile.
	FeatDurableSub Feature = "durable subscription"
	// FeatDynamic: a receiver can ask for a dynamic (broker-named) source.
	FeatDynamic Feature = "dynamic address"
	// FeatOutcomes: the broker sends unsettled deliveries and acts on the
	// consumer's reject / release / modify.
	FeatOutcomes Feature = "consumer outcomes"
	// FeatCloseAnswered: the broker answers a closing detach with a closing
	// detach, so a link Close completes.
	FeatCloseAnswered Feature = "answered link close"
	// FeatModify: the broker acts on a modified outcome as sent by go-amqp.
	FeatModify Feature = "modified outcome"
	// FeatIPv6: the broker listens on [::1].
	FeatIPv6 Feature = "IPv6 loopback"
	// FeatRejectAddress: sending to RejectAddress gets the rejected outcome.
	FeatRejectAddress Feature = "rejecting address"
	// FeatSettledSendMode: the broker echoes a requested snd-settle-mode
	// "settled" in its attach, so a client that insists on it can attach.
	FeatSettledSendMode Feature = "echoes snd-settle-mode settled"
	// FeatMultiFrameIn: the broker reassembles a message that reaches it
	// in several transfer frames, whatever the reads they arrive in.
	FeatMultiFrameIn Feature = "multi-frame messages in"
	// FeatExactCredit: the broker never sends more than the credit granted,
	// so go-amqp's own (uint32) credit accounting holds. amq's receiver does
	// not need it.
	FeatExactCredit Feature = "exact credit"
	// FeatTransactions: the broker has a transaction coordinator (AMQP 1.0
	// chapter 4, local transactions), so amq's Client.Begin works.
	FeatTransactions Feature = "local transactions"
	// FeatProtonClients: Qpid Proton's clients (C and Python) can reach
	// the broker: they speak AMQP over TCP only, so not over WebSockets.
	FeatProtonClients Feature = "Proton clients"
)

// Peer is one broker the suite runs against, with what it can't do.
type Peer struct {
	Name string
	// URL is ready to dial with raw go-amqp (credentials included when the
	// peer needs them); Addr is the same without credentials (amq takes
	// them in ConnectOptions).
	URL, Addr string
	// User and Password are the SASL PLAIN credentials, "" for ANONYMOUS.
	User, Password string
	// Queue and Topic turn a bare name into the peer's address syntax.
	Queue func(name string) string
	Topic func(name string) string
	// TopicCaps are the terminus capabilities that select topic semantics
	// (nil when the address alone does).
	TopicCaps []string
	// RejectAddress is an address whose messages the broker rejects.
	RejectAddress string
	// Missing maps each unsupported feature to the reason.
	Missing map[Feature]string
	// ipv6 starts (or locates) the same kind of peer on [::1].
	ipv6 func() (string, error)
	// artemis is the instance behind an Artemis peer (nil for the others).
	artemis *artemisBroker
}

// Require skips the test when the peer lacks f; the skip names the reason.
// A known limitation of a peer is not a failure, in CI or not.
func (p *Peer) Require(t testing.TB, f Feature) {
	t.Helper()
	if why, ok := p.Missing[f]; ok {
		t.Skipf("%s: no %s: %s", p.Name, f, why)
	}
}

// Has reports whether the peer supports f.
func (p *Peer) Has(f Feature) bool {
	_, missing := p.Missing[f]
	return !missing
}

// IPv6URL returns the peer's URL on [::1], starting it there if needed.
func (p *Peer) IPv6URL(t testing.TB) string {
	t.Helper()
	p.Require(t, FeatIPv6)
	u, err := p.ipv6()
	if err != nil {
		missing(t, p.Name+" on [::1]", err)
	}
	return u
}

var inCI = os.Getenv("CI") != ""

// missing reports a peer that could not be found or started: a loud failure
// in CI, a skip with the reason elsewhere.
func missing(t testing.TB, what string, err error) {
	t.Helper()
	if inCI {
		t.Fatalf("MISSING PEER %s (CI is set, so this fails): %v", what, err)
	}
	t.Skipf("peer %s not available: %v (set CI=1 to make this a failure; .ci/run installs it)", what, err)
}

// peerNames is the order of the broker table.
// embedded-ws is the embedded broker over WebSockets (amqpws://): the
// whole suite runs over them too.
var peerNames = []string{"rabbitmq", "artemis", "proton-c", "proton-python", "embedded", "embedded-ws"}

// eachPeer runs fn as a subtest per broker; a peer that can't be had skips
// or fails only its own subtest.
func eachPeer(t *testing.T, fn func(t *testing.T, p *Peer)) {
	t.Helper()
	for _, name := range peerNames {
		t.Run(name, func(t *testing.T) {
			fn(t, getPeer(t, name))
		})
	}
}

type lazyPeer struct {
	once sync.Once
	peer *Peer
	err  error
}

var (
	peersMu sync.Mutex
	peers   = map[string]*lazyPeer{}
	procsMu sync.Mutex
	procs   []*peerProc
	tmpDirs []string
)

func getPeer(t testing.TB, name string) *Peer {
	t.Helper()
	switch name {
	case "embedded":
		return embeddedPeer(t) // one per test, in-process
	case "embedded-ws":
		return embeddedWSPeer(t)
	}
	peersMu.Lock()
	lp := peers[name]
	if lp == nil {
		lp = &lazyPeer{}
		peers[name] = lp
	}
	peersMu.Unlock()
	lp.once.Do(func() {
		switch name {
		case "rabbitmq":
			lp.peer, lp.err = startRabbitMQ()
		case "artemis":
			lp.peer, lp.err = startArtemis()
		case "proton-c":
			lp.peer, lp.err = startProtonC()
		case "proton-python":
			lp.peer, lp.err = startProtonPython()
		default:
			lp.err = fmt.Errorf("unknown peer %q", name)
		}
	})
	if lp.err != nil {
		missing(t, name, lp.err)
	}
	return lp.peer
}

// helperEnv, when set, names one of helpers for the test binary to run
// instead of its tests, with os.Args[1:] as its arguments: a test that
// needs a client in a process of its own, to kill it, runs its own binary
// so.
const helperEnv = "AMQ_IT_HELPER"

// helpers are the programs the test binary can be run as; each returns its
// exit status.
var helpers = map[string]func(args []string) int{}

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		h := helpers[name]
		if h == nil {
			fmt.Fprintf(os.Stderr, "%s=%s: no such helper\n", helperEnv, name)
			os.Exit(2)
		}
		os.Exit(h(os.Args[1:]))
	}
	code := m.Run()
	stopAll()
	os.Exit(code)
}

func stopAll() {
	procsMu.Lock()
	defer procsMu.Unlock()
	for _, p := range procs {
		p.stop()
	}
	procs = nil
	for _, d := range tmpDirs {
		os.RemoveAll(d)
	}
	tmpDirs = nil
}

// repoDir is the integration/ directory (go test runs in it).
func repoDir() string {
	wd, _ := os.Getwd()
	return wd
}

// peersDir is the git-ignored directory for built or installed peers.
func peersDir() string { return filepath.Join(repoDir(), ".peers") }

// ---- processes -------------------------------------------------------------

// peerProc is a peer program the harness started.
type peerProc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	// grace is how long stop waits after SIGINT before SIGKILL; 0: 3 s.
	grace time.Duration
}

type syncBuffer = testsupport.SyncBuffer

var listeningRE = regexp.MustCompile(`listening on (\d+)`)

// startListener runs a peer program that prints "listening on PORT" once it
// accepts connections, and returns that port. The process is stopped by
// TestMain (stopAll).
func startListener(name string, dir string, argv ...string) (string, *peerProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	out := &syncBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &peerProc{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	portc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(out, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil && !sent {
				portc <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()
	select {
	case port := <-portc:
		return port, p, nil
	case <-p.done:
		return "", nil, fmt.Errorf("%s exited before listening: %s", name, out.String())
	case <-time.After(20 * time.Second):
		p.stop()
		return "", nil, fmt.Errorf("%s did not report listening within 20s: %s", name, out.String())
	}
}

// stop ends the peer in order: SIGINT, then SIGKILL after the grace.
func (p *peerProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	grace := p.grace
	if grace == 0 {
		grace = 3 * time.Second
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// kill ends the peer with SIGKILL, as a crash would, and waits for it.
func (p *peerProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// alive reports an error with the peer's output when it has died (a crash is
// a finding, not noise).
func (p *peerProc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v\n%s", p.name, p.cmd.ProcessState, p.out.String())
	default:
		return nil
	}
}

// waitAMQP polls until url answers an AMQP 1.0 open, within d.
func waitAMQP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := amqp.Dial(ctx, url, &amqp.ConnOptions{ContainerID: "amq-it-probe"})
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		time.Sleep(200 * time.Millisecond) // poll interval while a port comes up
	}
	return fmt.Errorf("no AMQP 1.0 answer from %s within %v: %w", url, d, last)
}

// ---- RabbitMQ --------------------------------------------------------------

func startRabbitMQ() (*Peer, error) {
	addr := envOr("AMQ_RABBITMQ_ADDR", "127.0.0.1:5672")
	user, pass := "guest", "guest"
	url := fmt.Sprintf("amqp://%s:%s@%s", user, pass, addr)
	if err := waitAMQP(url, 10*time.Second); err != nil {
		return nil, fmt.Errorf("RabbitMQ with rabbitmq_amqp1_0 on %s (run `rabbitmq-plugins enable rabbitmq_amqp1_0`): %w", addr, err)
	}
	return &Peer{
		Name:     "rabbitmq",
		URL:      url,
		Addr:     "amqp://" + addr,
		User:     user,
		Password: pass,
		Queue:    func(n string) string { return "/queue/" + n },
		Topic:    func(n string) string { return "/topic/" + n },
		Missing: map[Feature]string{
			FeatIPv6:          "the machine's RabbitMQ listens on 127.0.0.1 only",
			FeatExactCredit:   "measured (frame trace): a flow that overlaps messages in flight makes RabbitMQ 3.10 send more than the credit granted; raw go-amqp's uint32 link credit then wraps, its next flow grants 0 and the receiver stalls (amq's receiver grants one window at a time and compensates)",
			FeatRejectAddress: "no address of RabbitMQ 3.10 rejects a transfer on demand",
			FeatDynamic:       rabbitDynamicWhy,
			FeatDurableSub:    rabbitDurableWhy,
			FeatCloseAnswered: "measured (Proton frame trace): RabbitMQ 3.10.8 answers detach(closed=true) with detach(closed=false), so a link Close waits until its context ends",
			FeatModify:        "RabbitMQ 3.10 answers a modified outcome without undeliverable-here (go-amqp leaves false fields out) with amqp:invalid-field \"Unrecognised state\" and ends the session",
			FeatTransactions:  "measured (frame trace): RabbitMQ 3.10 answers the attach of a coordinator link by ending the session with amqp:not-implemented \"Transactions not supported\"",
		},
		ipv6: func() (string, error) { return "", errors.New("not listening on ::1") },
	}, nil
}

// Measured on RabbitMQ 3.10.8 (see TestQuirks); "" when it works.
var (
	rabbitDynamicWhy = "RabbitMQ 3.10's AMQP 1.0 plugin refuses dynamic sources"
	rabbitDurableWhy = "measured: RabbitMQ 3.10's AMQP 1.0 plugin drops a durable (unsettled-state, expiry never) /topic subscription when its connection goes; messages sent meanwhile are lost"
)

// ---- Qpid Proton C example broker -----------------------------------------

const protonCExamples = "/usr/share/proton/examples/c"

// protonCBroker finds or builds the example broker: $AMQ_PROTON_C_BROKER,
// then integration/.peers/proton-c-broker (built by .ci/run), then a build
// of the Debian example source into a temporary directory.
func protonCBroker() (string, error) {
	if p := os.Getenv("AMQ_PROTON_C_BROKER"); p != "" {
		return p, nil
	}
	if p := filepath.Join(peersDir(), "proton-c-broker"); isExecutable(p) {
		return p, nil
	}
	src := filepath.Join(protonCExamples, "broker.c")
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("%s not found (Debian package libqpid-proton11-dev-examples): %w", src, err)
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libqpid-proton").Output()
	if err != nil {
		return "", fmt.Errorf("pkg-config libqpid-proton (Debian package libqpid-proton11-dev): %w", err)
	}
	dir, err := os.MkdirTemp("", "amq-proton-c-")
	if err != nil {
		return "", err
	}
	procsMu.Lock()
	tmpDirs = append(tmpDirs, dir)
	procsMu.Unlock()
	bin := filepath.Join(dir, "broker")
	args := append([]string{"-O2", "-o", bin, src, "-I" + protonCExamples}, strings.Fields(string(flags))...)
	args = append(args, "-lpthread")
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

func startProtonC() (*Peer, error) {
	bin, err := protonCBroker()
	if err != nil {
		return nil, err
	}
	start := func(host string) (string, error) {
		// Run in the examples directory so its ssl-certs/ are found (the
		// broker then also accepts TLS on the same port) and it stays quiet.
		port, _, err := startListener("proton-c broker "+host, protonCExamples, bin, host, "0")
		if err != nil {
			return "", err
		}
		u := "amqp://" + net.JoinHostPort(host, port)
		return u, waitAMQP(u, 10*time.Second)
	}
	u, err := start("127.0.0.1")
	if err != nil {
		return nil, err
	}
	var v6once sync.Once
	var v6url string
	var v6err error
	return &Peer{
		Name:  "proton-c",
		URL:   u,
		Addr:  u,
		Queue: func(n string) string { return n },
		Topic: func(n string) string { return n },
		Missing: map[Feature]string{
			FeatTopic:           "the example broker has queues only; capabilities are ignored",
			FeatDurableSub:      "the example broker has no topics, so no subscriptions (every address is a queue)",
			FeatDynamic:         "the example broker leaves a dynamic source without an address and dereferences it (crash)",
			FeatOutcomes:        "the example broker pre-settles every delivery it sends, so reject/release/modify have nothing to act on",
			FeatRejectAddress:   "the example broker accepts every transfer",
			FeatSettledSendMode: "the example broker answers every attach with snd-settle-mode mixed (go-amqp then refuses a link that asked for settled)",
			FeatTransactions:    "measured (frame trace): the example broker answers a coordinator attach with a plain target, and a declare sent on it crashes it (broker.c's PN_DELIVERY handler looks the queue up by the link's null target address, queues_get(…, NULL)); TestTxNoCoordinator runs against a broker of its own",
			FeatMultiFrameIn:    "the example broker corrupts a message whose frames arrive in more than one read: broker.c's PN_DELIVERY handler receives each chunk into the start of its buffer (pn_link_recv(l, m->start, m->size), not m->start + the old size); measured: a 1 MiB message in 16 KiB frames arrives with its first 16 KiB replaced",
		},
		ipv6: func() (string, error) {
			v6once.Do(func() { v6url, v6err = start("::1") })
			return v6url, v6err
		},
	}, nil
}

// ---- Qpid Proton Python broker (peers/proton_broker.py) -------------------

const systemPython = "/usr/bin/python3"

// protonPython is one installation of Qpid Proton Python (the reference
// client) that the interop rows run under.
type protonPython struct {
	// Name names the subtests: "proton-0.37".
	Name string
	// Version is the major.minor that import proton must report.
	Version string
	// python is the interpreter's path.
	python func() string
	// how says where the installation comes from.
	how string
}

// protonPythons are Debian's Proton Python, the version the Proton C broker
// and the peers' scripts were first written against, and the newest on
// PyPI, in a virtual environment that .ci/run makes under .peers/.
var protonPythons = []protonPython{
	{Name: "proton-0.37", Version: "0.37", python: func() string { return systemPython },
		how: "Debian package python3-qpid-proton"},
	{Name: "proton-0.40", Version: "0.40", python: func() string { return filepath.Join(peersDir(), "proton-0.40", "bin", "python") },
		how: "python-qpid-proton==0.40.0 from PyPI in the venv integration/.peers/proton-0.40 (.ci/run makes it)"},
}

// check reports whether the interpreter imports proton of the right version.
func (pp protonPython) check() error {
	out, err := exec.Command(pp.python(), "-c", "import proton; print('%d.%d' % proton.VERSION[:2])").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import proton (%s): %v: %s", pp.python(), pp.how, err, bytes.TrimSpace(out))
	}
	if got := string(bytes.TrimSpace(out)); got != pp.Version {
		return fmt.Errorf("%s imports proton %s, want %s (%s)", pp.python(), got, pp.Version, pp.how)
	}
	return nil
}

// interpreter returns the installation's python, or fails (in CI) or skips
// the test when it is missing.
func (pp protonPython) interpreter(t testing.TB) string {
	t.Helper()
	if err := pp.check(); err != nil {
		missing(t, pp.Name, err)
	}
	return pp.python()
}

// checkProtonPython checks Debian's Proton Python, which the Proton Python
// broker and the single-version tests use.
func checkProtonPython() error { return protonPythons[0].check() }

func startProtonPython() (*Peer, error) {
	if err := checkProtonPython(); err != nil {
		return nil, err
	}
	script := filepath.Join(repoDir(), "peers", "proton_broker.py")
	port, proc, err := startListener("proton-python broker", repoDir(), systemPython, script, "127.0.0.1", "0")
	if err != nil {
		return nil, err
	}
	u := "amqp://127.0.0.1:" + port
	if err := waitAMQP(u, 10*time.Second); err != nil {
		return nil, errors.Join(err, proc.alive())
	}
	return &Peer{
		Name:          "proton-python",
		URL:           u,
		Addr:          u,
		Queue:         func(n string) string { return n },
		Topic:         func(n string) string { return n },
		TopicCaps:     []string{"topic"},
		RejectAddress: "reject.it",
		Missing: map[Feature]string{
			FeatIPv6:         "Proton Python 0.37's IO.listen opens AF_INET sockets only",
			FeatTransactions: "peers/proton_broker.py has no coordinator: it refuses the link with amqp:not-implemented",
		},
		ipv6: func() (string, error) { return "", errors.New("IPv4 only") },
	}, nil
}

// ---- amq's embedded broker (amqtest) --------------------------------------

func embeddedPeer(t testing.TB) *Peer {
	t.Helper()
	return embeddedPeerOn(amqtest.NewBroker(t), "embedded")
}

// embeddedPeerOn is the Peer of an embedded broker b.
func embeddedPeerOn(b *amqtest.Broker, name string) *Peer {
	return &Peer{
		Name:      name,
		URL:       b.URL(),
		Addr:      b.URL(),
		Queue:     func(n string) string { return n },
		Topic:     func(n string) string { return n },
		TopicCaps: []string{"topic"},
		Missing: map[Feature]string{
			FeatIPv6:          "amqtest.NewBroker listens on 127.0.0.1",
			FeatRejectAddress: "no address of the embedded broker rejects on demand",
		},
		ipv6: func() (string, error) { return "", errors.New("IPv4 only") },
	}
}

// embeddedWSPeer is the embedded broker serving AMQP over WebSockets
// (amqpws://); raw go-amqp reaches it through goamqpws.Dial.
func embeddedWSPeer(t testing.TB) *Peer {
	t.Helper()
	p := embeddedPeerOn(amqtest.NewBroker(t, amqtest.WithWebSocket()), "embedded-ws")
	p.Missing[FeatProtonClients] = "Qpid Proton has no WebSocket transport"
	return p
}

// proxyURL is the URL of proxy (a faultproxy, which forwards bytes) for a
// client of p: p's scheme, so amqpws for a peer over WebSockets.
func (p *Peer) proxyURL(proxyAddr string) string {
	scheme, _, _ := strings.Cut(p.Addr, "://")
	return scheme + "://" + proxyAddr
}

// backendAddr is p's host:port, what a fault proxy forwards to.
func (p *Peer) backendAddr() string {
	_, hp, _ := strings.Cut(p.Addr, "://")
	hp, _, _ = strings.Cut(hp, "/")
	return hp
}

// ---- interop clients -------------------------------------------------------

// interopClient is a program that sends or receives COUNT messages
// (peers/proton_client.py or peers/rhea_client.js).
type interopClient struct {
	Name string
	// prefix starts the bodies and ids of the messages it sends.
	prefix string
	argv   []string
	env    []string
}

// protonClient is peers/proton_client.py under Debian's Proton Python.
func protonClient(t testing.TB) *interopClient {
	t.Helper()
	return protonClientFor(t, protonPythons[0])
}

// protonClientFor is peers/proton_client.py under pp.
func protonClientFor(t testing.TB, pp protonPython) *interopClient {
	t.Helper()
	return &interopClient{
		Name:   pp.Name,
		prefix: "proton",
		argv:   []string{pp.interpreter(t), filepath.Join(repoDir(), "peers", "proton_client.py")},
	}
}

func rheaClient(t testing.TB) *interopClient {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "rhea (node)", err)
	}
	mods := envOr("AMQ_RHEA_NODE_PATH", filepath.Join(peersDir(), "node_modules"))
	if _, err := os.Stat(filepath.Join(mods, "rhea", "package.json")); err != nil {
		missing(t, "rhea", fmt.Errorf("rhea not installed in %s (npm install --prefix integration/.peers rhea@3): %w", mods, err))
	}
	return &interopClient{
		Name:   "rhea",
		prefix: "rhea",
		argv:   []string{node, filepath.Join(repoDir(), "peers", "rhea_client.js")},
		env:    []string{"NODE_PATH=" + mods},
	}
}

// interopMsg is what the clients print per received message.
type interopMsg struct {
	ID          *string        `json:"id"`
	Body        any            `json:"body"`
	Subject     *string        `json:"subject"`
	ContentType *string        `json:"content_type"`
	Props       map[string]any `json:"props"`
}

// start runs the client; the caller waits on the returned function.
func (c *interopClient) start(t testing.TB, ctx context.Context, mode, url, address string, n int, extra ...string) (wait func() (stdout string, err error), ready <-chan struct{}) {
	t.Helper()
	deadline, ok := ctx.Deadline()
	timeout := 60 * time.Second
	if ok {
		timeout = time.Until(deadline)
	}
	args := append(append([]string{}, c.argv[1:]...), mode, url, address, fmt.Sprint(n), "--timeout", fmt.Sprintf("%.0f", timeout.Seconds()))
	args = append(args, extra...)
	cmd := exec.CommandContext(ctx, c.argv[0], args...)
	cmd.Env = append(os.Environ(), c.env...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderrR, stderrW := io.Pipe()
	cmd.Stderr = stderrW
	readyc := make(chan struct{})
	stderr := &syncBuffer{}
	go func() {
		sc := bufio.NewScanner(stderrR)
		once := false
		for sc.Scan() {
			fmt.Fprintln(stderr, sc.Text())
			if sc.Text() == "ready" && !once {
				close(readyc)
				once = true
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s %s: %v", c.Name, mode, err)
	}
	return func() (string, error) {
		err := cmd.Wait()
		stderrW.Close()
		if err != nil {
			return stdout.String(), fmt.Errorf("%s %s %s: %w; stderr: %s", c.Name, mode, address, err, stderr.String())
		}
		return stdout.String(), nil
	}, readyc
}

// ---- small helpers ---------------------------------------------------------

var seq atomic.Int64

// uniqueName is a node name no other test (or earlier run) uses.
func uniqueName(t testing.TB) string {
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	if len(base) > 60 {
		base = base[len(base)-60:]
	}
	return fmt.Sprintf("amq-it-%s-%d-%d", base, time.Now().UnixNano()%1e9, seq.Add(1))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// testCtx is a context bounded by d and by the test's own deadline.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

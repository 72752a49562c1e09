//go:build integration

package integration

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// Log lines of a shared-store pair (Artemis 2.40).
const (
	artemisBackupWaiting = "AMQ221109" // backup started, waiting for the primary to fail
	artemisBackupActive  = "AMQ221010" // backup server is now active
)

// newArtemisPair creates and starts a shared-store primary/backup pair
// (reference 6.4's failover across a real broker pair): both instances use
// one journal directory, the backup waits on its file lock and becomes
// active when the primary dies. The backup's acceptors listen only once it
// is active, so a client's attempts on it fail fast until then.
func newArtemisPair(t *testing.T) (primary, backup *artemisBroker) {
	t.Helper()
	shared, err := os.MkdirTemp("", "amq-artemis-shared-")
	if err != nil {
		t.Fatal(err)
	}
	procsMu.Lock()
	tmpDirs = append(tmpDirs, shared)
	procsMu.Unlock()
	ha := []string{"--shared-store", "--failover-on-shutdown"}
	if primary, err = newArtemis("primary", artemisConfig{createArgs: ha, data: shared}); err != nil {
		missing(t, "artemis", err)
	}
	if backup, err = newArtemis("backup", artemisConfig{createArgs: append(ha, "--backup"), data: shared, backup: true}); err != nil {
		missing(t, "artemis", err)
	}
	t.Cleanup(backup.stop)
	t.Cleanup(primary.stop)
	if err := primary.start(); err != nil {
		t.Fatalf("primary: %v\n%s", err, primary.log())
	}
	if err := backup.startProc(); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, time.Minute)
	if err := backup.waitLog(ctx, artemisBackupWaiting); err != nil {
		t.Fatalf("backup: %v\n%s", err, backup.log())
	}
	return primary, backup
}

// TestArtemisFailoverPair: one client, given both brokers' URLs, keeps
// sending (100 outcomes outstanding) and receiving on a queue while the
// primary is killed with SIGKILL and the backup takes over. Every message
// whose Send returned nil is received; duplicates are counted and reported,
// not forbidden (a message the primary stored whose outcome died with it
// is sent again). The log gives the time from the kill to the backup
// taking over and to the first accepted send.
func TestArtemisFailoverPair(t *testing.T) {
	const total, killAt, window = 4000, 1000, 100
	primary, backup := newArtemisPair(t)
	ctx := testCtx(t, 3*time.Minute)

	var evMu sync.Mutex
	var events []amq.StateEvent
	opts := &amq.ConnectOptions{
		User: artemisUser, Password: artemisPassword,
		URLs: []string{primary.addr(), backup.addr()},
		OnStateChange: func(ev amq.StateEvent) {
			evMu.Lock()
			events = append(events, ev)
			evMu.Unlock()
		},
	}
	c, err := amq.Dial(ctx, "", opts)
	if err != nil {
		t.Fatalf("Dial %v: %v", opts.URLs, err)
	}
	t.Cleanup(func() { c.Close() })
	if c.URL() != primary.addr() {
		t.Fatalf("connected to %s, want the primary %s", c.URL(), primary.addr())
	}
	addr := uniqueName(t)
	s := amqSender(t, c, addr, nil)
	r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 200})

	l := newLedger(killAt)
	produced := make(chan error, 1)
	go func() {
		err := l.produce(ctx, s, 0, total, window)
		l.setProducerDone()
		produced <- err
	}()
	consumed := make(chan error, 1)
	go func() { consumed <- l.consume(ctx, r, time.Second) }()

	l.awaitMark(ctx, t, produced)
	primary.kill()
	killed := time.Now()
	if err := backup.waitLog(ctx, artemisBackupActive); err != nil {
		t.Fatalf("backup did not take over: %v\n%s", err, backup.log())
	}
	active := time.Now()

	if err := <-produced; err != nil {
		t.Fatalf("producer: %v (%v)", err, l.report())
	}
	if err := <-consumed; err != nil {
		t.Fatalf("consumer: %v (%v)", err, l.report())
	}
	rep := l.report()
	back := l.firstAcceptedIssuedAfter(killed)
	t.Logf("FAILOVER: kill -9 of the primary; backup active after %v (log poll, 100 ms resolution); first send accepted %v after the kill",
		active.Sub(killed).Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond))
	t.Logf("FAILOVER: %v", rep)
	if c.URL() != backup.addr() {
		t.Errorf("the client is on %s, want the backup %s", c.URL(), backup.addr())
	}
	if rep.Accepted != total {
		t.Errorf("%d of %d sends accepted", rep.Accepted, total)
	}
	if rep.Lost != 0 {
		t.Errorf("%d accepted messages lost in the failover, the first: %v", rep.Lost, rep.LostSeqs)
	}
	if back.IsZero() {
		t.Errorf("no send issued after the kill was accepted")
	}
	evMu.Lock()
	defer evMu.Unlock()
	var reconnected bool
	for _, ev := range events {
		if ev.State == amq.StateConnected && ev.URL == backup.addr() {
			reconnected = true
		}
	}
	if !reconnected {
		t.Errorf("no StateConnected event for the backup; events: %v", events)
	}
}

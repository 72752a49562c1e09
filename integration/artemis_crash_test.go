//go:build integration

package integration

import (
	"testing"
	"time"

	"github.com/amqgo/amq"
)

// TestArtemisPersistenceAcrossKill: durable messages whose Send returned
// nil survive a kill -9 of the broker. A producer keeps 100 outcomes
// outstanding; once 1,000 are accepted the broker is killed and started
// again on the same journal and port; amq reconnects, re-sends what was in
// flight, and the producer carries on to 3,000. A consumer attached after
// the restart must then receive every accepted message. Duplicates (a
// message stored before the crash whose outcome was lost with it) are
// allowed and reported.
func TestArtemisPersistenceAcrossKill(t *testing.T) {
	const total, killAt, window = 3000, 1000, 100
	a, err := newArtemis("persistence", artemisConfig{})
	if err != nil {
		missing(t, "artemis", err)
	}
	if err := a.start(); err != nil {
		missing(t, "artemis", err)
	}
	t.Cleanup(a.stop)
	p := artemisPeer(a)
	ctx := testCtx(t, 3*time.Minute)
	addr := uniqueName(t)
	c := amqDial(t, p, p.Addr, nil)
	s := amqSender(t, c, addr, nil)

	l := newLedger(killAt)
	produced := make(chan error, 1)
	go func() { produced <- l.produce(ctx, s, 0, total, window) }()

	l.awaitMark(ctx, t, produced)
	a.kill()
	killed := time.Now()
	acceptedBeforeKill := l.acceptedCount()
	issuedBeforeKill := l.issuedBefore(killed)
	if err := a.start(); err != nil {
		t.Fatalf("restart after kill -9: %v\n%s", err, a.log())
	}
	restarted := time.Now()

	if err := <-produced; err != nil {
		t.Fatalf("producer: %v", err)
	}
	l.setProducerDone()
	r := amqReceiver(t, c, addr, &amq.ReceiverOptions{Credit: 500})
	if err := l.consume(ctx, r, time.Second); err != nil {
		t.Fatalf("consumer: %v (%v)", err, l.report())
	}
	rep := l.report()
	back := l.firstAcceptedIssuedAfter(killed)
	t.Logf("kill -9 with %d accepted and %d sent; broker answering again after %v; first send accepted %v after the kill",
		acceptedBeforeKill, issuedBeforeKill, restarted.Sub(killed).Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond))
	t.Logf("PERSISTENCE: %v", rep)
	if rep.Accepted != total {
		t.Errorf("%d of %d sends accepted", rep.Accepted, total)
	}
	if rep.Lost != 0 {
		t.Errorf("%d accepted messages lost across the kill -9, the first: %v", rep.Lost, rep.LostSeqs)
	}
}

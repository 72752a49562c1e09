package main

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqgo/amq"
)

// bench is the state of one run, shared by the senders and the receiver.
type bench struct {
	cfg   config
	base  time.Time // origin of the timestamps in the messages (monotonic)
	nonce uint64    // tells this run's messages from leftovers on the peer

	stopping atomic.Bool   // senders stop sending new messages
	stopped  chan struct{} // closed with stopping
	stopOnce sync.Once

	errOnce  sync.Once
	firstErr error

	senders []senderStats
	chaos   *chaosLog // nil without -chaos

	unique atomic.Int64 // distinct messages of this run received, for the drain
}

// senderStats is one sender's count. The confirmed set is written by one
// goroutine at a time: the send loop, or its receipt waiter.
type senderStats struct {
	attempted atomic.Uint64 // sends started; also the next sequence number
	confirmed atomic.Uint64 // settled as accepted (or written, pre-settled)
	unknown   atomic.Uint64 // outcome never learnt
	set       seqSet        // the confirmed sequence numbers
	_         [40]byte      // keep senders off each other's cache lines
}

func newBench(cfg config, nonce uint64) *bench {
	return &bench{
		cfg:     cfg,
		base:    time.Now(),
		nonce:   nonce,
		stopped: make(chan struct{}),
		senders: make([]senderStats, cfg.senders),
	}
}

func (b *bench) now() time.Duration { return time.Since(b.base) }

func (b *bench) stop() {
	b.stopOnce.Do(func() {
		b.stopping.Store(true)
		close(b.stopped)
	})
}

// fail records the run's first error and stops the senders.
func (b *bench) fail(err error) {
	b.errOnce.Do(func() { b.firstErr = err })
	b.stop()
}

// body returns a new message body of cfg.size bytes: the send timestamp,
// the sender id and sequence number, and the run nonce, then zeros. Each
// message gets its own: amq keeps unsettled messages to resend them.
func (b *bench) body(id int, seq uint64) []byte {
	return b.fillBody(make([]byte, b.cfg.size), id, seq)
}

// fillBody writes the body of message seq of sender id into p, which has
// b.cfg.size bytes. The send loops reuse one p: both engines encode a
// message before Send (or SendAsync) returns, so the harness adds no
// allocation of its own to what it measures.
func (b *bench) fillBody(p []byte, id int, seq uint64) []byte {
	binary.BigEndian.PutUint64(p[0:], uint64(b.now()))
	binary.BigEndian.PutUint64(p[8:], uint64(id)<<48|seq)
	binary.BigEndian.PutUint64(p[16:], b.nonce)
	return p
}

// outcome accounts for the outcome of message seq of a sender and says
// whether the sender may go on. Success is counted (and noted for -chaos);
// a context error after the grace period is an unknown outcome; with
// -chaos, a pre-settled send that the connection loss failed is one too
// (at-most-once: it may be lost), and the sender goes on; any other error
// fails the run.
func (b *bench) outcome(ctx context.Context, st *senderStats, seq uint64, err error) bool {
	switch {
	case err == nil:
		st.set.add(seq)
		st.confirmed.Add(1)
		if b.chaos != nil {
			b.chaos.completed(b.now())
		}
		return true
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		st.unknown.Add(1)
		return false
	case b.chaos != nil && b.cfg.presettled && amq.Retryable(err):
		st.unknown.Add(1)
		return true
	default:
		b.fail(err)
		return false
	}
}

// pacer spaces a sender's messages at a fixed rate. A ticker wakes the
// sender at most every minTick; each wake-up sends the messages due by
// then, so the rate holds without a sleep per message.
type pacer struct {
	start  time.Time
	rate   float64 // messages per second
	ticker *time.Ticker
	sent   uint64
}

const minTick = 200 * time.Microsecond

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	tick := time.Duration(float64(time.Second) / rate)
	if tick < minTick {
		tick = minTick
	}
	return &pacer{start: time.Now(), rate: rate, ticker: time.NewTicker(tick)}
}

// next blocks until the next message is due; false means stop.
func (p *pacer) next(stopped <-chan struct{}) bool {
	for {
		due := uint64(time.Since(p.start).Seconds()*p.rate) + 1
		if p.sent < due {
			p.sent++
			return true
		}
		select {
		case <-p.ticker.C:
		case <-stopped:
			return false
		}
	}
}

// sendLoop is one sender: blocking sends when pre-settled or with a window
// of 1 (the naive loop), otherwise SendAsync with up to cfg.window
// messages awaiting their outcome, waited for in order by a second
// goroutine.
func sendLoop[R any](ctx context.Context, b *bench, id int, ops sendOps[R]) {
	st := &b.senders[id]
	p := newPacer(b.cfg.rate / float64(b.cfg.senders))
	if p != nil {
		defer p.ticker.Stop()
	}
	more := func() bool {
		if b.stopping.Load() {
			return false
		}
		return p == nil || p.next(b.stopped)
	}

	if b.cfg.tx > 0 {
		// A batch counts once committed: its messages reach the receiver
		// only then.
		bodies := make([][]byte, 0, b.cfg.tx)
		seqs := make([]uint64, 0, b.cfg.tx)
		for more() {
			bodies, seqs = bodies[:0], seqs[:0]
			for len(bodies) < b.cfg.tx && (len(bodies) == 0 || more()) {
				seq := st.attempted.Add(1) - 1
				bodies, seqs = append(bodies, b.body(id, seq)), append(seqs, seq)
			}
			err := ops.tx(ctx, bodies)
			for _, seq := range seqs {
				if !b.outcome(ctx, st, seq, err) {
					return
				}
			}
		}
		return
	}
	buf := make([]byte, b.cfg.size)
	if b.cfg.presettled || b.cfg.window == 1 {
		for more() {
			seq := st.attempted.Add(1) - 1
			if !b.outcome(ctx, st, seq, ops.send(ctx, b.fillBody(buf, id, seq))) {
				return
			}
		}
		return
	}

	type inFlight struct {
		r   R
		seq uint64
	}
	slots := make(chan struct{}, b.cfg.window)
	pending := make(chan inFlight, b.cfg.window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		failed := false
		for f := range pending {
			if !failed {
				failed = !b.outcome(ctx, st, f.seq, ops.wait(ctx, f.r))
			} else {
				st.unknown.Add(1)
			}
			<-slots
		}
	}()
	defer func() {
		close(pending)
		<-done
	}()
	for more() {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		seq := st.attempted.Add(1) - 1
		r, err := ops.async(ctx, b.fillBody(buf, id, seq))
		if err != nil {
			b.outcome(ctx, st, seq, err)
			<-slots
			return
		}
		pending <- inFlight{r, seq}
	}
}

// receiveStats is what the receiver saw; only its goroutine writes it.
type receiveStats struct {
	latency    histogram
	seen       []seqSet // by sender id
	received   uint64   // distinct messages of this run
	duplicated uint64
	stale      uint64 // messages of other runs, or not made by amqbench
	first      time.Duration
	last       time.Duration // when the last distinct message arrived
	err        error
}

// receiveLoop receives until ctx ends or the receiver fails.
func receiveLoop(ctx context.Context, b *bench, r receiver, rs *receiveStats) {
	rs.seen = make([]seqSet, b.cfg.senders)
	for {
		body, err := r.receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				rs.err = err
				b.fail(err)
			}
			return
		}
		now := b.now()
		if len(body) < headerSize || binary.BigEndian.Uint64(body[16:]) != b.nonce {
			rs.stale++
			continue
		}
		sent := time.Duration(binary.BigEndian.Uint64(body[0:]))
		idSeq := binary.BigEndian.Uint64(body[8:])
		id, seq := int(idSeq>>48), idSeq&(1<<48-1)
		if id >= len(rs.seen) {
			rs.stale++
			continue
		}
		if !rs.seen[id].add(seq) {
			rs.duplicated++
			continue
		}
		rs.latency.record(now - sent)
		if rs.received == 0 {
			rs.first = now
		}
		rs.received++
		rs.last = now
		b.unique.Store(int64(rs.received))
	}
}

package main

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/faultproxy"
)

// chaosLog measures reconnects: for each cut of the connections, the time
// from the cut to the first send settled after the sending client reports
// it is connected again (links re-attached, in-flight messages re-sent).
//
// Send completions are noted only while a cut is unresolved. The client's
// state events arrive on a goroutine of their own, possibly after the
// sends they precede, so completions are kept until the event says which
// of them came after the reconnect; each event carries the time it
// happened.
type chaosLog struct {
	proxy  *faultproxy.Proxy
	base   time.Time
	active atomic.Bool

	mu         sync.Mutex
	cuts       []cut
	reconnects int // StateConnected events after the first connection
	connected  []time.Duration
}

type cut struct {
	at          time.Duration
	conns       int             // connections the cut closed
	connectedAt time.Duration   // the sending client's next StateConnected; 0 until known
	completions []time.Duration // send completions since the cut, until resolved
	firstSend   time.Duration   // first completion after connectedAt; 0 until known
}

// maxCompletions bounds the completions kept for one cut.
const maxCompletions = 1 << 16

// run cuts every connection through the proxy every cfg.chaosEvery until
// the senders stop.
func (l *chaosLog) run(b *bench) {
	t := time.NewTicker(b.cfg.chaosEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-b.stopped:
			return
		}
		l.mu.Lock()
		l.cuts = append(l.cuts, cut{at: b.now()})
		i := len(l.cuts) - 1
		l.active.Store(true)
		l.mu.Unlock()
		n := l.proxy.CutAll()
		l.mu.Lock()
		l.cuts[i].conns = n
		l.mu.Unlock()
	}
}

// completed notes a settled send at t.
func (l *chaosLog) completed(t time.Duration) {
	if !l.active.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := &l.cuts[len(l.cuts)-1]
	if c.firstSend != 0 {
		return
	}
	if c.connectedAt != 0 && t >= c.connectedAt {
		c.firstSend = t
		l.active.Store(false)
		return
	}
	if len(c.completions) < maxCompletions {
		c.completions = append(c.completions, t)
	}
}

// onState is the sending client's OnStateChange.
func (l *chaosLog) onState(ev amq.StateEvent) {
	if ev.State != amq.StateConnected {
		return
	}
	t := ev.Time.Sub(l.base)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.connected = append(l.connected, t)
	if len(l.connected) > 1 {
		l.reconnects++
	}
	for i := range l.cuts {
		c := &l.cuts[i]
		if c.at > t || c.connectedAt != 0 {
			continue
		}
		c.connectedAt = t
		for _, s := range c.completions {
			if s >= t && (c.firstSend == 0 || s < c.firstSend) {
				c.firstSend = s
			}
		}
		c.completions = nil
		if c.firstSend != 0 && i == len(l.cuts)-1 {
			l.active.Store(false)
		}
	}
}

// chaosReport is the chaos part of the results.
type chaosReport struct {
	Cuts           int     `json:"cuts"`
	Reconnects     int     `json:"reconnects"`
	Measured       int     `json:"reconnects_measured"`
	ReconnectMinMS float64 `json:"reconnect_min_ms"`
	ReconnectMedMS float64 `json:"reconnect_median_ms"`
	ReconnectMaxMS float64 `json:"reconnect_max_ms"`
}

func (l *chaosLog) report() *chaosReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &chaosReport{Cuts: len(l.cuts), Reconnects: l.reconnects}
	var times []time.Duration
	for _, c := range l.cuts {
		if c.conns > 0 && c.firstSend != 0 {
			times = append(times, c.firstSend-c.at)
		}
	}
	if len(times) == 0 {
		return r
	}
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.Measured = len(times)
	r.ReconnectMinMS = ms(times[0])
	r.ReconnectMedMS = ms(times[len(times)/2])
	r.ReconnectMaxMS = ms(times[len(times)-1])
	return r
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// report is the result of a run, as printed. Latencies are end to end,
// from just before the send call to the receiver's hand-off to the
// application, in microseconds.
type report struct {
	Label      string  `json:"label,omitempty"`
	Engine     string  `json:"engine"`
	URL        string  `json:"url"`
	PeerURL    string  `json:"peer_url"`
	Address    string  `json:"address"`
	Presettled bool    `json:"presettled"`
	Tx         int     `json:"tx,omitempty"`
	Size       int     `json:"size"`
	Credit     int     `json:"credit"`
	Window     int     `json:"window"`
	Senders    int     `json:"senders"`
	Rate       float64 `json:"rate"`
	DurationS  float64 `json:"duration_s"`
	ElapsedS   float64 `json:"elapsed_s"`

	Sent        uint64 `json:"sent"`
	Received    uint64 `json:"received"`
	Lost        uint64 `json:"lost"`
	Duplicated  uint64 `json:"duplicated"`
	Unconfirmed uint64 `json:"unconfirmed"`
	Stale       uint64 `json:"stale"`
	// Drained is false when the grace period ended before every sent
	// message had arrived; StalledS is then how long nothing had arrived.
	Drained  bool    `json:"drained"`
	StalledS float64 `json:"stalled_s,omitempty"`

	ThroughputMsgs float64 `json:"throughput_msgs_per_s"`
	ThroughputMB   float64 `json:"throughput_mb_per_s"`
	SendRate       float64 `json:"send_rate_msgs_per_s"`
	LatencyP50     float64 `json:"latency_p50_us"`
	LatencyP90     float64 `json:"latency_p90_us"`
	LatencyP99     float64 `json:"latency_p99_us"`
	LatencyP999    float64 `json:"latency_p999_us"`
	LatencyMax     float64 `json:"latency_max_us"`
	CPUPerMsg      float64 `json:"cpu_us_per_msg"`
	CPUUserS       float64 `json:"cpu_user_s"`
	CPUSysS        float64 `json:"cpu_sys_s"`
	AllocsPerMsg   float64 `json:"allocs_per_msg"`

	Chaos *chaosReport `json:"chaos,omitempty"`
	Error string       `json:"error,omitempty"`
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func (b *bench) report(res result, peerURL string) report {
	cfg := b.cfg
	r := report{
		Label:      cfg.label,
		Engine:     cfg.engine,
		URL:        cfg.url,
		PeerURL:    redact(peerURL),
		Address:    cfg.address,
		Presettled: cfg.presettled,
		Tx:         cfg.tx,
		Size:       cfg.size,
		Credit:     cfg.credit,
		Window:     cfg.window,
		Senders:    cfg.senders,
		Rate:       cfg.rate,
		DurationS:  cfg.duration.Seconds(),
		Received:   res.recv.received,
		Duplicated: res.recv.duplicated,
		Stale:      res.recv.stale,
		Drained:    res.drainedAll,
		CPUUserS:   res.cpuUser.Seconds(),
		CPUSysS:    res.cpuSys.Seconds(),
	}
	for i := range b.senders {
		st := &b.senders[i]
		confirmed := st.confirmed.Load()
		r.Sent += confirmed
		r.Unconfirmed += st.unknown.Load()
		if i < len(res.recv.seen) {
			r.Lost += st.set.missingFrom(&res.recv.seen[i])
		} else {
			r.Lost += confirmed
		}
	}
	// Throughput counts from the first send to the last arrival, so that a
	// backlog drained after the senders stopped is paid for.
	if elapsed := res.recv.last - res.sendStart; res.recv.received > 0 && elapsed > 0 {
		r.ElapsedS = elapsed.Seconds()
		r.ThroughputMsgs = float64(res.recv.received) / elapsed.Seconds()
		r.ThroughputMB = r.ThroughputMsgs * float64(cfg.size) / 1e6
	}
	if d := res.sendEnd - res.sendStart; d > 0 {
		r.SendRate = float64(r.Sent) / d.Seconds()
	}
	if !res.drainedAll {
		r.StalledS = (res.drainEnd - max(res.recv.last, res.sendEnd)).Seconds()
	}
	h := &res.recv.latency
	r.LatencyP50 = us(h.percentile(0.50))
	r.LatencyP90 = us(h.percentile(0.90))
	r.LatencyP99 = us(h.percentile(0.99))
	r.LatencyP999 = us(h.percentile(0.999))
	r.LatencyMax = us(h.max)
	if res.recv.received > 0 {
		r.CPUPerMsg = us(res.cpu) / float64(res.recv.received)
		r.AllocsPerMsg = float64(res.allocs) / float64(res.recv.received)
	}
	if b.chaos != nil {
		r.Chaos = b.chaos.report()
	}
	if b.firstErr != nil {
		r.Error = b.firstErr.Error()
	}
	return r
}

func (r *report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(r)
	}
	peer := r.URL
	if r.URL == selfURL {
		peer = "self (embedded broker at " + r.PeerURL + ")"
	}
	mode := "unsettled"
	if r.Presettled {
		mode = "pre-settled"
	}
	if r.Tx > 0 {
		mode = fmt.Sprintf("transactions of %d", r.Tx)
	}
	load := "saturation"
	if r.Rate > 0 {
		load = fmt.Sprintf("%.0f msg/s", r.Rate)
	}
	_, err := fmt.Fprintf(w, `engine      %s
peer        %s, address %s
workload    %d sender(s), %s, window %d, credit %d, %d-byte bodies, %s, %gs
messages    sent %d  received %d  lost %d  duplicated %d  unconfirmed %d  stale %d
throughput  %.0f msg/s  %.2f MB/s  (over %.2fs; sent at %.0f msg/s)
latency µs  p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f
cpu         %.2f µs/msg  (user %.2fs, sys %.2fs)  %.1f allocs/msg
`, r.Engine, peer, r.Address, r.Senders, mode, r.Window, r.Credit, r.Size, load, r.DurationS,
		r.Sent, r.Received, r.Lost, r.Duplicated, r.Unconfirmed, r.Stale,
		r.ThroughputMsgs, r.ThroughputMB, r.ElapsedS, r.SendRate,
		r.LatencyP50, r.LatencyP90, r.LatencyP99, r.LatencyP999, r.LatencyMax,
		r.CPUPerMsg, r.CPUUserS, r.CPUSysS, r.AllocsPerMsg)
	if err != nil {
		return err
	}
	if c := r.Chaos; c != nil {
		_, err = fmt.Fprintf(w, "chaos       %d cuts, %d reconnects; cut → first settled send on the new connection (%d measured): min %.1f ms  median %.1f ms  max %.1f ms\n",
			c.Cuts, c.Reconnects, c.Measured, c.ReconnectMinMS, c.ReconnectMedMS, c.ReconnectMaxMS)
		if err != nil {
			return err
		}
	}
	if !r.Drained {
		if _, err = fmt.Fprintf(w, "drain       incomplete: nothing arrived in the last %.1fs before the grace period ended\n", r.StalledS); err != nil {
			return err
		}
	}
	if r.Error != "" {
		_, err = fmt.Fprintf(w, "error       %s\n", r.Error)
	}
	return err
}

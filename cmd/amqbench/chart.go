package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// chartRun is one run drawn on a chart: a label and the run's report.
type chartRun struct {
	label string
	r     report
}

// loadRuns reads the reports in the JSON files at paths (each holds one or
// more reports, as printed by -json; several runs may be appended to one
// file). A run is labelled with its -label, else with the engine, the peer
// and the window.
func loadRuns(paths []string) ([]chartRun, error) {
	var runs []chartRun
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(f)
		n := 0
		for {
			var r report
			err := dec.Decode(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: report %d: %w", p, n+1, err)
			}
			n++
			runs = append(runs, chartRun{label: runLabel(r), r: r})
		}
		f.Close()
		if n == 0 {
			return nil, fmt.Errorf("%s: no report in the file", filepath.Base(p))
		}
	}
	if len(runs) == 0 {
		return nil, errors.New("no JSON report to chart")
	}
	// Repeated runs of one configuration are told apart by number.
	count := map[string]int{}
	for _, r := range runs {
		count[r.label]++
	}
	seen := map[string]int{}
	for i, r := range runs {
		if count[r.label] > 1 {
			seen[r.label]++
			runs[i].label = fmt.Sprintf("%s #%d", r.label, seen[r.label])
		}
	}
	return runs, nil
}

// engineColor is the colour of a run's throughput bar.
func engineColor(engine string) string {
	if engine == "raw" {
		return "#f28e2b"
	}
	return "#4e79a7"
}

func runLabel(r report) string {
	if r.Label != "" {
		return r.Label
	}
	peer := r.URL
	if r.URL == selfURL {
		peer = "embedded broker"
	}
	mode := fmt.Sprintf("window %d", r.Window)
	if r.Presettled {
		mode = "pre-settled"
	}
	return fmt.Sprintf("%s, %s, %s", r.Engine, peer, mode)
}

// Chart geometry, in SVG user units (pixels).
const (
	chartWidth   = 980
	chartLabelW  = 300 // run labels, right-aligned against the bars
	chartBarX    = chartLabelW + 10
	chartBarW    = 520 // longest bar
	chartMargin  = 16
	chartRowH    = 22 // one throughput bar
	chartPctBarH = 7  // one latency-percentile bar
	chartFont    = `font-family="DejaVu Sans,Helvetica,Arial,sans-serif"`
)

// percentiles are the latency fields drawn, with their legend colours.
var percentiles = []struct {
	name  string
	color string
	get   func(*report) float64
}{
	{"p50", "#4e79a7", func(r *report) float64 { return r.LatencyP50 }},
	{"p90", "#59a14f", func(r *report) float64 { return r.LatencyP90 }},
	{"p99", "#f28e2b", func(r *report) float64 { return r.LatencyP99 }},
	{"p99.9", "#e15759", func(r *report) float64 { return r.LatencyP999 }},
}

// writeChart draws runs as an SVG image: a bar per run for throughput
// (linear scale), and a group of bars per run for the latency percentiles
// (log scale: p99.9 is often a hundred times p50). Only the standard
// library's text formatting is used, so the image diffs as text.
func writeChart(w io.Writer, runs []chartRun) error {
	if len(runs) == 0 {
		return errors.New("no runs to chart")
	}
	var b strings.Builder
	y := chartMargin

	// Throughput panel.
	maxTP := 0.0
	for _, r := range runs {
		maxTP = max(maxTP, r.r.ThroughputMsgs)
	}
	tpTop := y + 66
	tpH := len(runs)*chartRowH + 24
	latTop := tpTop + tpH + 50
	groupH := len(percentiles)*chartPctBarH + 10
	latH := len(runs)*groupH + 24
	height := latTop + latH + 40

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="12">`+"\n",
		chartWidth, height, chartWidth, height, chartFont)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartWidth, height)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="16" font-weight="bold">amqbench: throughput and end-to-end latency</text>`+"\n", chartMargin, y+14)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555555">%s</text>`+"\n", chartMargin, y+32, esc(chartSubtitle(runs)))

	fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">Throughput, msg/s (more is better)</text>`+"\n", chartMargin, tpTop-4)
	for i, e := range []string{"amq", "raw"} {
		lx := chartBarX + 300 + i*110
		name := map[string]string{"amq": "engine amq", "raw": "raw go-amqp"}[e]
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", lx, tpTop-14, engineColor(e), lx+14, tpTop-5, name)
	}
	scale := niceMax(maxTP)
	for i := 0; i <= 4; i++ {
		v := scale * float64(i) / 4
		x := chartBarX + int(math.Round(float64(chartBarW)*float64(i)/4))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#dddddd"/>`+"\n", x, tpTop+4, x, tpTop+tpH-16)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#555555">%s</text>`+"\n", x, tpTop+tpH-2, esc(grouped(v)))
	}
	for i, r := range runs {
		ry := tpTop + 6 + i*chartRowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", chartLabelW, ry+13, esc(r.label))
		wBar := 0.0
		if scale > 0 {
			wBar = float64(chartBarW) * r.r.ThroughputMsgs / scale
		}
		fmt.Fprintf(&b, `<rect class="throughput" x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s msg/s</title></rect>`+"\n",
			chartBarX, ry+2, wBar, chartRowH-6, engineColor(r.r.Engine), esc(r.label), grouped(r.r.ThroughputMsgs))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(chartBarX)+wBar+6, ry+13, esc(grouped(r.r.ThroughputMsgs)))
	}

	// Latency panel, log scale over whole decades.
	lo, hi := math.Inf(1), 0.0
	for _, r := range runs {
		for _, p := range percentiles {
			if v := p.get(&r.r); v > 0 {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">End-to-end latency, µs (log scale, less is better)</text>`+"\n", chartMargin, latTop-4)
	x0 := chartLabelW + 10
	for i, p := range percentiles {
		lx := x0 + 300 + i*62
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", lx, latTop-14, p.color, lx+14, latTop-5, p.name)
	}
	if hi > 0 {
		dlo := math.Floor(math.Log10(lo))
		dhi := math.Ceil(math.Log10(hi))
		if dhi <= dlo {
			dhi = dlo + 1
		}
		pos := func(v float64) float64 {
			return float64(chartBarW) * (math.Log10(v) - dlo) / (dhi - dlo)
		}
		for d := dlo; d <= dhi; d++ {
			x := float64(chartBarX) + pos(math.Pow(10, d))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dddddd"/>`+"\n", x, latTop+4, x, latTop+latH-16)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">%s</text>`+"\n", x, latTop+latH-2, esc(grouped(math.Pow(10, d))))
		}
		for i, r := range runs {
			gy := latTop + 6 + i*groupH
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", chartLabelW, gy+len(percentiles)*chartPctBarH/2+4, esc(r.label))
			for j, p := range percentiles {
				v := p.get(&r.r)
				if v <= 0 {
					continue
				}
				by := gy + j*chartPctBarH
				wBar := max(pos(v), 1)
				fmt.Fprintf(&b, `<rect class="latency" x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s: %s µs</title></rect>`+"\n",
					chartBarX, by, wBar, chartPctBarH-1, p.color, esc(r.label), p.name, grouped(v))
				if j == len(percentiles)-1 || j == 0 {
					// Values in a column right of the scale, clear of the bars.
					fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="9" fill="#333333">%s %s µs</text>`+"\n", chartBarX+chartBarW+12, by+chartPctBarH, p.name, esc(grouped(v)))
				}
			}
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// chartSubtitle says what the runs have in common.
func chartSubtitle(runs []chartRun) string {
	sizes := map[int]bool{}
	durs := map[float64]bool{}
	for _, r := range runs {
		sizes[r.r.Size] = true
		durs[r.r.DurationS] = true
	}
	s := fmt.Sprintf("%d runs", len(runs))
	if len(sizes) == 1 {
		s += fmt.Sprintf(", %d-byte bodies", runs[0].r.Size)
	}
	if len(durs) == 1 {
		s += fmt.Sprintf(", %gs each", runs[0].r.DurationS)
	}
	return s + "; figures are from runs made back to back on one machine, compare them as ratios"
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten, for axis ticks.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 4, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// grouped formats v with no decimals (one below 10) and thousands
// separators.
func grouped(v float64) string {
	if v < 10 && v != math.Trunc(v) {
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// esc escapes text for SVG character data and attribute values.
func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	return r.Replace(s)
}

package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func writeReports(t *testing.T, name string, rs ...report) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// svgRect is the part of an SVG rect the test reads.
type svgRect struct {
	Class string `xml:"class,attr"`
	Width string `xml:"width,attr"`
	Title string `xml:"title"`
}

func chartRects(t *testing.T, svg []byte) []svgRect {
	t.Helper()
	var rects []svgRect
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			var r svgRect
			if err := dec.DecodeElement(&r, &se); err != nil {
				t.Fatal(err)
			}
			rects = append(rects, r)
		}
	}
	return rects
}

func TestChart(t *testing.T) {
	amq := report{Label: "amq <self> & co", Engine: "amq", URL: "self", Size: 100, DurationS: 10, Window: 1000,
		ThroughputMsgs: 60000, LatencyP50: 800, LatencyP90: 1500, LatencyP99: 4000, LatencyP999: 90000}
	raw := report{Engine: "raw", URL: "amqp://127.0.0.1:5672", Size: 100, DurationS: 10, Window: 1000,
		ThroughputMsgs: 30000, LatencyP50: 12, LatencyP90: 20, LatencyP99: 30, LatencyP999: 45}
	presettled := report{Engine: "amq", URL: "self", Size: 100, DurationS: 10, Presettled: true, ThroughputMsgs: 15000}
	// Two reports appended to one file, two in another (the same
	// configuration twice: numbered).
	a := writeReports(t, "a.json", amq, raw)
	b := writeReports(t, "b.json", presettled, presettled)

	out := filepath.Join(t.TempDir(), "chart.svg")
	cfg, err := parseFlags([]string{"-chart", out, a, b}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := chartFiles(cfg); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rects := chartRects(t, svg)

	// Throughput bars are proportional to the rates.
	tp := map[string]float64{}
	var lat []svgRect
	for _, r := range rects {
		switch r.Class {
		case "throughput":
			w, err := strconv.ParseFloat(r.Width, 64)
			if err != nil {
				t.Fatal(err)
			}
			tp[r.Title] = w
		case "latency":
			lat = append(lat, r)
		}
	}
	wantTitles := []string{
		"amq <self> & co: 60,000 msg/s",
		"raw, amqp://127.0.0.1:5672, window 1000: 30,000 msg/s",
		"amq, embedded broker, pre-settled #1: 15,000 msg/s",
		"amq, embedded broker, pre-settled #2: 15,000 msg/s",
	}
	for _, title := range wantTitles {
		if _, ok := tp[title]; !ok {
			t.Errorf("no throughput bar titled %q; have %v", title, tp)
		}
	}
	if w1, w2 := tp[wantTitles[0]], tp[wantTitles[1]]; w1 <= 0 || w1/w2 < 1.99 || w1/w2 > 2.01 {
		t.Errorf("bar widths %v and %v are not in the ratio 2 of the rates", w1, w2)
	}

	// Latency: four percentiles for each run that has them (the
	// pre-settled report has none), each longer than the one before
	// (log scale), and the widest bar for the largest value.
	if len(lat) != 8 {
		t.Fatalf("%d latency bars, want 8", len(lat))
	}
	for run := 0; run < 2; run++ {
		prev := 0.0
		for j := 0; j < 4; j++ {
			w, _ := strconv.ParseFloat(lat[run*4+j].Width, 64)
			if w <= prev {
				t.Errorf("run %d percentile %d: width %v not above %v", run, j, w, prev)
			}
			prev = w
		}
	}
	if !strings.Contains(lat[3].Title, "p99.9: 90,000 µs") {
		t.Errorf("latency bar title %q", lat[3].Title)
	}
}

func TestChartErrors(t *testing.T) {
	if _, err := parseFlags([]string{"-chart", "out.svg"}, io.Discard); err == nil {
		t.Error("-chart without input files: no error")
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(bad, []byte(`{"engine": "amq"`), 0o644)
	for _, in := range []string{empty, bad, filepath.Join(dir, "missing.json")} {
		if _, err := loadRuns([]string{in}); err == nil {
			t.Errorf("loadRuns(%s): no error", filepath.Base(in))
		}
	}
	if err := writeChart(io.Discard, nil); err == nil {
		t.Error("writeChart of no runs: no error")
	}
}

func TestGrouped(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 7.25: "7.2", 999: "999", 1000: "1,000", 1234567: "1,234,567", 12.6: "13"} {
		if got := grouped(v); got != want {
			t.Errorf("grouped(%v) = %q, want %q", v, got, want)
		}
	}
}

package main

import (
	"bytes"
	"errors"
	"github.com/anacrolix/torrent/metainfo"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/internal/netlab"
)

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-n", "5", "-size", "20MiB", "-rate", "100mbit", "-webseed", "off", "-check"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.clients != 5 || o.size != 20<<20 || o.rate != "100mbit" || !o.check || len(o.webSeeds) != 1 || o.webSeeds[0] || o.client != "aria2" {
		t.Fatalf("parsed %+v", o)
	}
	if o, err := parseFlags([]string{"-client", "transmission"}, io.Discard); err != nil || o.client != "transmission" {
		t.Errorf("-client transmission: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-n", "0"}, {"-webseed", "maybe"}, {"-rate", "fast"}, {"extra"}, {"-client", "utorrent"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

func TestReport(t *testing.T) {
	s := func(serverTx uint64, secs ...float64) scenario {
		sc := scenario{serverTx: serverTx}
		for _, x := range secs {
			sc.times = append(sc.times, time.Duration(x*float64(time.Second)))
		}
		return sc
	}
	r := &report{
		opts: options{clients: 3, size: 100 << 20, rate: "50mbit", httpRun: true},
		http: s(300<<20, 50, 51, 52),
		variants: []variant{{webSeed: true, solo: 18 * time.Second, swarm: func() scenario {
			sc := s(140<<20, 20, 24, 26)
			sc.daemon = daemonTx{seeder: 135 << 20, webSeedRequests: 4, webSeedStoodDown: 4}
			return sc
		}()}},
	}
	chart := filepath.Join(t.TempDir(), "swarm.png")
	if err := r.chart(chart); err != nil {
		t.Fatal(err)
	}
	if png, err := os.ReadFile(chart); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("chart is not a PNG: %v", err)
	}
	var b strings.Builder
	r.print(&b)
	for _, want := range []string{
		"| 3 | 50mbit, delay none | 100 MiB | 51.0 s | 52.0 s | as served | 24.0 s | 26.0 s | 18.0 s | 2.0 | 1.44 | 300 MiB (3.0×) | 140 MiB (1.4×) |",
		"| as served | 140 MiB (1.4×) | 135 MiB (1.4×) | 0 MiB (0.0×) | 4 (4) |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks\n%s\ngot\n%s", want, b.String())
		}
	}
}

func TestTimeline(t *testing.T) {
	// A server and two clients on 8 Mbit/s links (1 MB a second), read
	// every half second for two seconds: the server sends 1 MB/s, client 1
	// gets 1 MB/s and client 2 half that, each client sends 0.25 MB/s.
	const mb = 1_000_000
	var ss []sample
	for i := range 5 {
		h := float64(i) / 2 // seconds
		ss = append(ss, sample{at: time.Duration(h * float64(time.Second)), c: []netlab.Counters{
			{TxBytes: uint64(h * mb)},
			{RxBytes: uint64(h * mb), TxBytes: uint64(h * mb / 4)},
			{RxBytes: uint64(h * mb / 2), TxBytes: uint64(h * mb / 4)},
		}})
	}
	rows := timeline(ss, 8e6, 8e6, time.Second, 4*mb)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2: %+v", len(rows), rows)
	}
	want := []timelineRow{
		{at: 0, serverUp: 100, clientsUp: 25, downMin: 50, downMed: 50, downMax: 100, gotMin: 12.5, gotMed: 12.5},
		{at: time.Second, serverUp: 100, clientsUp: 25, downMin: 50, downMed: 50, downMax: 100, gotMin: 25, gotMed: 25},
	}
	for i, r := range rows {
		if r != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, r, want[i])
		}
	}
	var b strings.Builder
	printTimeline(&b, "lanseedd", rows)
	if !strings.Contains(b.String(), "| 1.0 | 100 | 25 | 50 | 50 | 100 | 25 | 25 |") {
		t.Errorf("timeline table:\n%s", b.String())
	}
	if timeline(ss[:1], 8e6, 8e6, time.Second, 4*mb) != nil {
		t.Error("one sample made rows")
	}
	// A server on a link twice the clients' is half as busy.
	if rows := timeline(ss, 8e6, 16e6, time.Second, 4*mb); rows[0].serverUp != 50 || rows[0].downMax != 100 {
		t.Errorf("server on a 16 Mbit/s link: %+v", rows[0])
	}
}

// TestReportStack checks the stack's row, and that a stack that could not
// be brought up leaves the row out and says why.
func TestReportStack(t *testing.T) {
	secs := func(xs ...float64) []time.Duration {
		var d []time.Duration
		for _, x := range xs {
			d = append(d, time.Duration(x*float64(time.Second)))
		}
		return d
	}
	r := &report{
		opts:     options{clients: 2, size: 20 << 20, rate: "100mbit", httpRun: true, stack: true},
		http:     scenario{times: secs(8, 9), serverTx: 40 << 20},
		stack:    scenario{times: secs(4, 5), serverTx: 30 << 20},
		variants: []variant{{webSeed: true, solo: 2 * time.Second, swarm: scenario{times: secs(3, 4), serverTx: 24 << 20}}},
	}
	var b strings.Builder
	r.print(&b)
	if want := "| 4.0 s | 5.0 s | 2.50 | 30 MiB (1.5×) | as served | 0.80 |"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks the stack's row\n%s\ngot\n%s", want, b.String())
	}

	r.stack, r.stackErr = scenario{}, errors.New("the stack's tracker does not list aria2c")
	b.Reset()
	r.print(&b)
	if strings.Contains(b.String(), "| stack p50 |") {
		t.Errorf("a stack that did not run has a row:\n%s", b.String())
	}
	if want := "The seeds' own stack could not run in this run: the stack's tracker does not list aria2c."; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks\n%s\ngot\n%s", want, b.String())
	}
	if err := r.chart(filepath.Join(t.TempDir(), "swarm.png")); err != nil {
		t.Errorf("chart without the stack: %v", err)
	}
}

// TestInfohashParam: a 0x20 byte of an infohash is sent as %20, never as
// "+" (which opentracker reads as a plus sign), and the parameter decodes
// back to the infohash.
func TestInfohashParam(t *testing.T) {
	var ih metainfo.Hash
	for i := range ih {
		ih[i] = byte(0x20 + i*12)
	}
	got := infohashParam(ih)
	if strings.ContainsAny(got, "+ ") || !strings.HasPrefix(got, "%20") {
		t.Fatalf("infohashParam = %q", got)
	}
	if back, err := url.PathUnescape(got); err != nil || back != string(ih[:]) {
		t.Errorf("infohashParam does not decode back: %q, %v", back, err)
	}
}

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-n", "5", "-size", "20MiB", "-rate", "100mbit", "-webseed", "off", "-check"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.clients != 5 || o.size != 20<<20 || o.rate != "100mbit" || !o.check || len(o.webSeeds) != 1 || o.webSeeds[0] {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range [][]string{{"-n", "0"}, {"-webseed", "maybe"}, {"-rate", "fast"}, {"extra"}} {
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

package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.size != 1<<30 || o.files != 64 || o.rate != "200mbit" || o.runs != 1 || o.secondAt != 0.25 || !o.superSeed || o.logLevel != "info" {
		t.Fatalf("defaults: %+v", o)
	}
	o, err = parseFlags([]string{"-size", "64MiB", "-files", "8", "-rate", "100mbit", "-runs", "2", "-second-at", "0", "-super-seed=false"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.size != 64<<20 || o.files != 8 || o.rate != "100mbit" || o.runs != 2 || o.secondAt != 0 || o.superSeed {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range [][]string{{"-files", "0"}, {"-size", "3B", "-files", "4"}, {"-runs", "0"}, {"-second-at", "1"},
		{"-rate", "fast"}, {"-log-level", "loud"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

func TestContentLayout(t *testing.T) {
	sizes := splitSize(10, 4)
	if want := []int64{3, 3, 2, 2}; !equal(sizes, want) {
		t.Errorf("splitSize(10, 4) = %v, want %v", sizes, want)
	}
	paths := contentPaths(10)
	if paths[0] != "d00/f000.bin" || paths[7] != "d00/f007.bin" || paths[8] != "d01/f008.bin" {
		t.Errorf("contentPaths: %q", paths)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The catalog DSN reaches the server by its unix socket, which pgx (and
// so lanseedd) reads from the host parameter.
func TestCatalogDSN(t *testing.T) {
	dsn := catalogDSN("/var/run/postgresql", "bench_1")
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "/var/run/postgresql" || cfg.Database != "bench_1" || cfg.User != "postgres" {
		t.Errorf("%s parses as host %q, database %q, user %q", dsn, cfg.Host, cfg.Database, cfg.User)
	}
}

func TestConfigs(t *testing.T) {
	conf := rsyncdConf("/srv/content", "/tmp/rsyncd.log")
	for _, want := range []string{"use chroot = no", "[content]", "path = /srv/content", "read only = yes"} {
		if !strings.Contains(conf, want) {
			t.Errorf("rsyncd.conf lacks %q:\n%s", want, conf)
		}
	}
	if y := nodeYAML("a1", true, "info"); !strings.Contains(y, "mirror: true") || !strings.Contains(y, "mirror_min_free: 0") || !strings.Contains(y, "name: a1") {
		t.Errorf("mirror config:\n%s", y)
	}
	if y := nodeYAML("primary", false, "debug"); strings.Contains(y, "mirror") || !strings.Contains(y, "level: debug") {
		t.Errorf("primary config:\n%s", y)
	}
}

func TestReport(t *testing.T) {
	s := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	r := &report{
		opts:  options{rate: "200mbit"},
		total: 1 << 30,
		files: 64,
		runs: []result{{
			rsync: rsyncRun{time: s(45), primaryTx: 1 << 30},
			one:   mirrorRun{names: []string{"m"}, offsets: []time.Duration{0}, times: []time.Duration{s(50)}, failed: []bool{false}, got: []int64{1 << 30}, primaryTx: 1100 << 20, mirrorTx: []uint64{10 << 20}},
			two: mirrorRun{names: []string{"a", "b"}, offsets: []time.Duration{0, s(12)}, times: []time.Duration{s(60), s(80)},
				failed: []bool{false, true}, got: []int64{1 << 30, 1 << 29}, primaryTx: 1536 << 20, mirrorTx: []uint64{512 << 20, 1 << 20}},
		}},
	}
	var b strings.Builder
	r.print(&b)
	for _, want := range []string{
		"content 1 GiB in 64 files, link 200mbit each way, delay none",
		"| 1 | rsync | 45.0 s | 23.9 | 1.00 | 1024 MiB (1.00×) | - |",
		"| 1 | one mirror | 50.0 s | 21.5 | 1.11 | 1100 MiB (1.07×) | 10 MiB (0.01×) |",
		"| 1 | two mirrors: A | 60.0 s | 17.9 | 1.33 |  |  |",
		"| 1 | two mirrors: B, started 12.0 s after A | not done after 80.0 s (50%) | - | - |  |  |",
		"| 1 | two mirrors: both, A's start to the last done | not done after 92.0 s (75%) | - | - | 1536 MiB (1.50×) | A 512 MiB (0.50×), B 1 MiB (0.00×) |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks\n%s\ngot\n%s", want, b.String())
		}
	}
}

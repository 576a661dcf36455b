package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/seeder"
)

// TestScale seeds many small files, restarts the daemon, and reports the
// time to all-seeding, the content bytes read at restart and the memory
// held. It runs only when asked, as it takes minutes:
//
//	LANSEEDD_SCALE=10000 go test -run TestScale -v -timeout 1h ./cmd/lanseedd/
//
// LANSEEDD_SCALE_SIZE sets the file size (default 4096 bytes). With
// LANSEEDD_SCALE_ORDER=infohash the rows are inserted in the order of their
// infohashes: anacrolix v1.61 adds a torrent in time proportional to the
// torrents with greater infohashes (see Seeder.restore), so a first start
// in random order is quadratic, minutes at 10,000 and most of an hour at
// 100,000; in infohash order it measures the rest. Both starts
// run in one process, so the restart's memory figures include what the
// first daemon left behind. With LANSEEDD_SCALE_DIR set, content and state
// are kept there: the first run hashes and stops, a second run with the
// same settings is the restart alone, in a fresh process.
func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LANSEEDD_SCALE"))
	if n <= 0 {
		t.Skip("set LANSEEDD_SCALE to the number of files, e.g. LANSEEDD_SCALE=10000")
	}
	size := 4096
	if s, err := strconv.Atoi(os.Getenv("LANSEEDD_SCALE_SIZE")); err == nil && s > 0 {
		size = s
	}
	content, state := t.TempDir(), t.TempDir()
	ports := [3]string{freePort(t), freePort(t), freePort(t)}
	keep := os.Getenv("LANSEEDD_SCALE_DIR")
	restartOnly := false
	if keep != "" {
		content, state = filepath.Join(keep, "content"), filepath.Join(keep, "state")
		if b, err := os.ReadFile(filepath.Join(keep, "ports")); err == nil {
			copy(ports[:], strings.Fields(string(b)))
			restartOnly = true
		} else {
			os.MkdirAll(content, 0o755)
			os.MkdirAll(state, 0o755)
			os.WriteFile(filepath.Join(keep, "ports"), []byte(strings.Join(ports[:], " ")), 0o644)
		}
	}
	if !restartOnly {
		writeScaleFiles(t, content, n, size)
		t.Run("first start", func(t *testing.T) { scaleFirstStart(t, content, state, ports, n) })
		if t.Failed() || keep != "" {
			return
		}
	}
	t.Run("restart", func(t *testing.T) {
		start := time.Now()
		d := startQuietDaemon(t, content, state, ports)
		waitCount(t, d, n, 30*time.Minute)
		t.Logf("restart: %d rows seeding in %s; content bytes read: %d", n, time.Since(start).Round(time.Millisecond), d.Seeder.ContentRead())
		if got := d.Seeder.ContentRead(); got != 0 {
			t.Errorf("restart read %d bytes of content, want 0", got)
		}
		reportMemory(t, "after restart")
	})
}

func writeScaleFiles(t *testing.T, content string, n, size int) {
	start := time.Now()
	buf := make([]byte, size)
	for i := range n {
		if i%1000 == 0 {
			os.Mkdir(filepath.Join(content, filepath.Dir(scalePath(i))), 0o755)
		}
		copy(buf, strconv.Itoa(i)) // distinct content, distinct infohashes
		if err := os.WriteFile(filepath.Join(content, scalePath(i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d files of %d bytes in %s", n, size, time.Since(start).Round(time.Millisecond))
}

// scaleFirstStart inserts a row per file in one transaction and waits
// until all are seeded. Fixed ports keep the announce and web seed URLs
// of the stored .torrent files the same across the restart, as on a real
// server.
func scaleFirstStart(t *testing.T, content, state string, ports [3]string, n int) {
	d := startQuietDaemon(t, content, state, ports)
	paths := make([]string, n)
	for i := range n {
		paths[i] = scalePath(i)
	}
	if os.Getenv("LANSEEDD_SCALE_ORDER") == "infohash" {
		ih := make(map[string]string, n)
		for _, p := range paths {
			mi, err := seeder.Create(context.Background(), filepath.Join(content, p), seeder.CreateOptions{Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			ih[p] = mi.HashInfoBytes().HexString()
		}
		slices.SortFunc(paths, func(a, b string) int { return strings.Compare(ih[a], ih[b]) })
	}
	start := time.Now()
	tx, err := d.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := tx.Exec("INSERT INTO files(path) VALUES (?)", p); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitCount(t, d, n, 30*time.Minute)
	t.Logf("first start: %d rows hashed and seeding in %s", n, time.Since(start).Round(time.Millisecond))
	reportMemory(t, "after first start")
}

func scalePath(i int) string { return fmt.Sprintf("d%03d/f%06d.bin", i/1000, i) }

// startQuietDaemon is startDaemon with warnings only in the log, the
// default quiet period off (the files were just written) and a state
// directory that outlives it.
func startQuietDaemon(tb testing.TB, content, state string, ports [3]string) *testDaemon {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Catalog.DSN = "sqlite:" + filepath.Join(state, "catalog.db")
	cfg.Seeder.ContentRoot = content
	cfg.Seeder.StateDir = state
	cfg.Seeder.PeerPort = 0
	cfg.Seeder.QuietPeriod = 0
	cfg.HTTP.Listen = ports[0]
	cfg.Tracker.Listen = ports[1]
	cfg.Admin.Listen = ports[2]
	cfg.HTTP.PublicURL = "http://127.0.0.1"
	logger := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := NewMain(cfg, logger)
	if err := m.Start(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("start daemon: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("close daemon: %v", err)
		}
	})
	db, err := sql.Open("sqlite", "file:"+filepath.Join(state, "catalog.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &testDaemon{Main: m, content: content, db: db}
}

// waitCount waits until n rows are ready and the client seeds n torrents.
func waitCount(tb testing.TB, d *testDaemon, n int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for {
		var ready int
		d.db.QueryRow("SELECT count(*) FROM lanseedd_torrents WHERE state = 'ready'").Scan(&ready)
		seeding := d.Seeder.SeedingCount()
		if ready == n && seeding == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %d of %d rows ready, %d seeding", timeout, ready, n, seeding)
		}
		if time.Since(last) > 30*time.Second {
			tb.Logf("%d of %d rows ready, %d seeding", ready, n, seeding)
			last = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reportMemory logs the process's resident set (now and peak) and the Go
// heap after a collection.
func reportMemory(tb testing.TB, when string) {
	tb.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status := map[string]string{}
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
				status[k] = strings.TrimSpace(v)
			}
		}
		f.Close()
	}
	tb.Logf("%s: RSS %s (peak %s), Go heap in use %d MiB, goroutines %d",
		when, status["VmRSS"], status["VmHWM"], ms.HeapInuse>>20, runtime.NumGoroutine())
	// LANSEEDD_SCALE_HEAP=FILE writes a heap profile of this moment.
	if path := os.Getenv("LANSEEDD_SCALE_HEAP"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
}

// freePort returns a loopback address with a port free right now.
func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// TestScale publishes many small files, restarts the daemon cold and
// measures what a catalog of that size costs in demand mode: publishing
// rate, time to every row announceable, content read at restart, memory
// at rest, first piece of cold rows, and many clients on cold rows at once
// (then memory after the quiet time). By default it runs on 2,000 rows, as
// part of the tests; the figures of the README come from
//
//	LANSEEDD_SCALE=1000000 go test -run TestScale -v -timeout 3h ./cmd/lanseedd/
//	LANSEEDD_SCALE=1000000 LANSEEDD_SCALE_DB=postgres go test -run TestScale -v -timeout 3h ./cmd/lanseedd/
//
// LANSEEDD_SCALE_SIZE sets the file size (default 4096 bytes).
func TestScale(t *testing.T) {
	n := 2000
	if v, _ := strconv.Atoi(os.Getenv("LANSEEDD_SCALE")); v > 0 {
		n = v
	}
	size := 4096
	if s, err := strconv.Atoi(os.Getenv("LANSEEDD_SCALE_SIZE")); err == nil && s > 0 {
		size = s
	}
	content, state := t.TempDir(), t.TempDir()
	ports := [3]string{freePort(t), freePort(t), freePort(t)}
	dsn := "sqlite:" + filepath.Join(state, "catalog.db")
	var site *sql.DB
	if os.Getenv("LANSEEDD_SCALE_DB") == "postgres" {
		dsn = dbtest.NewPostgres(t)
		site = serverCatalog(t, dsn).DB()
	}
	writeScaleFiles(t, content, n, size)
	paths := make([]string, n)
	for i := range n {
		paths[i] = scalePath(i)
	}

	// First start: every row published from scratch.
	d := startQuietDaemon(t, content, state, ports, dsn, site)
	stopProfile := cpuProfile(t)
	start, cpu := time.Now(), cpuTime()
	insertPaths(t, d.db, site != nil, paths)
	paths = nil // not held in the memory measured below
	waitReady(t, d, n, 3*time.Hour)
	took, cpu := time.Since(start), cpuTime()-cpu
	stopProfile()
	t.Logf("first publish: %d rows of %d bytes ready in %s: %.0f rows/s; this process's CPU time %.2f s per 1,000 rows (the catalog server's not counted)",
		n, size, took.Round(time.Millisecond), float64(n)/took.Seconds(), cpu.Seconds()*1000/float64(n))
	reportMemory(t, "after first publish")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d.Main = nil

	// Cold restart: every row announceable at once, nothing of content read.
	start = time.Now()
	d = startQuietDaemon(t, content, state, ports, dsn, site)
	var first, last int64
	if err := d.db.QueryRow("SELECT MIN(file_id), MAX(file_id) FROM lanseedd_torrents WHERE state = 'ready'").Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{first, (first + last) / 2, last} {
		ih := torrentHash(t, d, id)
		for {
			if sw, ok := d.Tracker.Swarm(ih); ok && sw.Seeders == 1 {
				break
			}
			if time.Since(start) > time.Minute {
				t.Fatalf("row %d not announceable a minute after start", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("restart: every ready row announceable %s after start", time.Since(start).Round(time.Millisecond))
	for d.Seeder.Stats().Sweep.At.IsZero() {
		time.Sleep(50 * time.Millisecond)
	}
	sw := d.Seeder.Stats().Sweep
	t.Logf("first sweep: %d rows stat'ed in %.1f s (%.0f rows/s), %d requeued", sw.Rows, sw.Seconds, float64(sw.Rows)/max(sw.Seconds, 1e-3), sw.Requeued)
	if got := d.Seeder.ContentRead(); got != 0 {
		t.Errorf("restart read %d bytes of content, want 0", got)
	}
	if sw.Requeued != 0 {
		t.Errorf("the sweep requeued %d unchanged rows", sw.Requeued)
	}
	reportMemory(t, "at rest after restart")
	ids := readyIDs(t, d, n)

	// Cold rows, one after the other: announce to first piece.
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	coldN, clientsN := min(50, n/4), min(200, n/4)
	lat := firstPieces(t, d, ids[:coldN])
	t.Logf("cold row, announce to first piece, %d rows: p50 %s, p95 %s, max %s", coldN,
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*95/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))

	// Many clients on as many cold rows at once, then the quiet time.
	start = time.Now()
	concurrentDownloads(t, d, ids[coldN:coldN+clientsN])
	t.Logf("%d clients on %d cold rows: all complete in %s; %d torrents loaded", clientsN, clientsN, time.Since(start).Round(time.Millisecond), d.Seeder.SeedingCount())
	reportMemory(t, "after the downloads")
	deadline := time.Now().Add(time.Minute)
	for d.Seeder.SeedingCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d torrents still loaded a minute after the downloads", d.Seeder.SeedingCount())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after the quiet time: %d torrents loaded, %d unloads", d.Seeder.SeedingCount(), d.Seeder.Stats().Unloads)
	reportMemory(t, "after the quiet time")
}

// cpuTime is the CPU time this process has used, user and system: the
// figure of the first publish that other work on the machine changes least.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuProfile profiles the first publish into LANSEEDD_SCALE_CPU=FILE, if
// set; it returns the function that stops it.
func cpuProfile(t *testing.T) (stop func()) {
	path := os.Getenv("LANSEEDD_SCALE_CPU")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// insertPaths inserts a catalog row per path, in transactions of 10,000.
func insertPaths(t *testing.T, db *sql.DB, dollar bool, paths []string) {
	t.Helper()
	q := "INSERT INTO files(path) VALUES (?)"
	if dollar {
		q = "INSERT INTO files(path) VALUES ($1)"
	}
	for len(paths) > 0 {
		batch := paths[:min(len(paths), 10000)]
		paths = paths[len(batch):]
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range batch {
			if _, err := tx.Exec(q, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// readyIDs returns the ids of the ready rows, of which there must be n.
func readyIDs(t *testing.T, d *testDaemon, n int) []int64 {
	t.Helper()
	rows, err := d.db.Query("SELECT file_id FROM lanseedd_torrents WHERE state = 'ready' ORDER BY file_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	if len(ids) != n {
		t.Fatalf("%d rows ready, want %d", len(ids), n)
	}
	return ids
}

func torrentHash(t *testing.T, d *testDaemon, id int64) metainfo.Hash {
	t.Helper()
	mi, err := metainfo.LoadFromFile(d.Seeder.TorrentFile(id))
	if err != nil {
		t.Fatal(err)
	}
	return mi.HashInfoBytes()
}

// firstPieces adds each row's torrent, in turn, to one client and returns
// the sorted times from adding it (the client announces, which loads it)
// to its first piece.
func firstPieces(t *testing.T, d *testDaemon, ids []int64) []time.Duration {
	t.Helper()
	cfg := testenv.LoopbackClient(t.TempDir())
	cfg.DisableWebseeds = true
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var lat []time.Duration
	for _, id := range ids {
		mi, err := metainfo.LoadFromFile(d.Seeder.TorrentFile(id))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		tr, err := cl.AddTorrent(mi)
		if err != nil {
			t.Fatal(err)
		}
		tr.DownloadAll()
		for tr.BytesCompleted() == 0 {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("row %d: no piece 30 s after adding its torrent", id)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
		tr.Drop()
	}
	slices.Sort(lat)
	return lat
}

// concurrentDownloads downloads each row with a client of its own, all at
// once.
// httpTrackers leaves the HTTP trackers of mi: anacrolix keeps a UDP
// tracker's reader goroutine after its client closes, which would count
// in the memory measured after the clients are gone.
func httpTrackers(mi *metainfo.MetaInfo) {
	var tiers [][]string
	for _, tier := range mi.UpvertedAnnounceList() {
		var keep []string
		for _, u := range tier {
			if strings.HasPrefix(u, "http") {
				keep = append(keep, u)
			}
		}
		if len(keep) > 0 {
			tiers = append(tiers, keep)
		}
	}
	mi.AnnounceList, mi.Announce = tiers, ""
	if len(tiers) > 0 {
		mi.Announce = tiers[0][0]
	}
}

func concurrentDownloads(t *testing.T, d *testDaemon, ids []int64) {
	t.Helper()
	var wg sync.WaitGroup
	for _, id := range ids {
		mi, err := metainfo.LoadFromFile(d.Seeder.TorrentFile(id))
		if err != nil {
			t.Fatal(err)
		}
		httpTrackers(mi)
		wg.Go(func() {
			cfg := testenv.LoopbackClient(t.TempDir())
			cfg.DisableWebseeds = true
			cl, err := torrent.NewClient(cfg)
			if err != nil {
				t.Error(err)
				return
			}
			defer cl.Close()
			tr, err := cl.AddTorrent(mi)
			if err != nil {
				t.Error(err)
				return
			}
			tr.DownloadAll()
			select {
			case <-tr.Complete().On():
			case <-time.After(2 * time.Minute):
				t.Errorf("row %d: not complete after 2 minutes", id)
			}
		})
	}
	wg.Wait()
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

func scalePath(i int) string { return fmt.Sprintf("d%03d/f%06d.bin", i/1000, i) }

// startQuietDaemon is startDaemon with warnings only in the log, the
// default quiet period off (the files were just written) and a state
// directory that outlives it.
func startQuietDaemon(tb testing.TB, content, state string, ports [3]string, dsn string, site *sql.DB) *testDaemon {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Catalog.DSN = dsn
	cfg.Seeder.UnloadAfter = 5 * time.Second
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
	d := &testDaemon{Main: m, content: content, db: site}
	// Through d, which a test that closes the daemon itself clears: the
	// closed daemon is then garbage, not held by the cleanup until the
	// test ends, and not in the memory measured after it.
	tb.Cleanup(func() {
		if d.Main != nil {
			d.Close()
		}
	})
	if site == nil {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(state, "catalog.db")+"?_pragma=busy_timeout(10000)")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		d.db = db
	}
	return d
}

// waitReady waits until n rows are ready.
func waitReady(tb testing.TB, d *testDaemon, n int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for {
		var ready int
		d.db.QueryRow("SELECT count(*) FROM lanseedd_torrents WHERE state = 'ready'").Scan(&ready)
		if ready == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %d of %d rows ready", timeout, ready, n)
		}
		if time.Since(last) > 30*time.Second {
			tb.Logf("%d of %d rows ready", ready, n)
			last = time.Now()
		}
		// The count costs more as the catalog grows: poll it no more
		// than it would weigh on what it measures.
		time.Sleep(min(20*time.Millisecond+time.Duration(n)*time.Microsecond, time.Second))
	}
}

// reportMemory logs the process's resident set (now and peak) and the Go
// heap after a collection.
func reportMemory(tb testing.TB, when string) {
	tb.Helper()
	// Freed memory back to the system first: the first daemon of the test
	// leaves garbage that a restarted process would not have.
	debug.FreeOSMemory()
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

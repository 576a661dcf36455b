package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/store"
)

// logBuffer keeps a daemon's log lines, written from many goroutines, for
// counting and reading, and sends them to the test log too if tb is set.
type logBuffer struct {
	tb  testing.TB
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	if b.tb != nil {
		b.tb.Log(strings.TrimRight(string(p), "\n"))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged is startDaemon with its log kept, and a Close whose error the
// test judges itself (a daemon whose catalog was replaced stops with one).
func startLogged(tb testing.TB, content string, opts ...func(*Config)) (*testDaemon, *logBuffer, Config) {
	tb.Helper()
	cfg := testConfig(tb, content, opts...)
	logs := &logBuffer{tb: tb}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := m.Start(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("start daemon: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(cfg.Catalog.DSN, "sqlite:")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &testDaemon{Main: m, content: content, db: db}, logs, cfg
}

func getBody(tb testing.TB, url string) (int, string) {
	tb.Helper()
	resp, body := httpGet(tb, url)
	return resp.StatusCode, string(body)
}

// metric returns the value of an unlabelled metric from /metrics.
func metric(tb testing.TB, admin, name string) string {
	tb.Helper()
	_, body := getBody(tb, admin+"/metrics")
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	tb.Fatalf("no %s in /metrics", name)
	return ""
}

// TestErrorRowHeals: a row in error for a reason that may pass (a link
// pointing out of the content root) is tried again without any edit of the
// catalog row: at once when its directory changes, and with backoff when
// nothing the watcher sees changes. A path that escapes the root by itself
// waits for an edit; `lanseedd verify ID` retries it on demand.
func TestErrorRowHeals(t *testing.T) {
	content, outside := t.TempDir(), t.TempDir()
	target := filepath.Join(outside, "real.bin")
	testenv.RandomFile(t, target, 64<<10)
	if err := os.Symlink(target, filepath.Join(content, "film.bin")); err != nil {
		t.Fatal(err)
	}
	// b.bin → sub/hop → outside: fixing hop changes nothing in the
	// directory that holds b.bin, so only the timed retry sees it.
	os.Mkdir(filepath.Join(content, "sub"), 0o755)
	if err := os.Symlink(target, filepath.Join(content, "sub", "hop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/hop", filepath.Join(content, "b.bin")); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, content, fastFS)
	linked := d.insert(t, "film.bin")
	hopped := d.insert(t, "b.bin")
	escape := d.insert(t, "../escape.bin")

	r := d.waitState(t, linked, lanseedd.StateError)
	// 5 s after the first failure, 10 s if a file event made a second one.
	if !regexp.MustCompile(`; retrying in (5|10)s$`).MatchString(r.Error) {
		t.Errorf("message %q does not say when the row is retried", r.Error)
	}
	d.waitState(t, hopped, lanseedd.StateError)
	bad := d.waitState(t, escape, lanseedd.StateError)
	if strings.Contains(bad.Error, "retrying") {
		t.Errorf("a path escaping the root by itself is retried: %q", bad.Error)
	}

	// The far end of b.bin's links becomes a real file: nothing changes
	// where b.bin is, so its timed retry finds it.
	time.Sleep(300 * time.Millisecond) // past the watcher's own second look
	os.Remove(filepath.Join(content, "sub", "hop"))
	testenv.RandomFile(t, filepath.Join(content, "sub", "hop"), 32<<10)
	hopFixed := time.Now()
	d.waitState(t, hopped, lanseedd.StateReady)
	t.Logf("row %d ready %s after its link's target was fixed", hopped, time.Since(hopFixed).Round(time.Millisecond))
	// film.bin's own timed retry falls at the same moment as b.bin's: it
	// may be in flight (pending) now, and must fail again, not be ready.
	if r := d.waitState(t, linked, lanseedd.StateError); !strings.Contains(r.Error, "is a link to") {
		t.Fatalf("row %d failed for another reason before its fix: %q", linked, r.Error)
	}

	// The link is replaced by a real file: the row becomes ready at once,
	// sooner than its next timed retry (10 s after the first).
	fixed := time.Now()
	tmp := filepath.Join(content, ".film.bin.new")
	testenv.RandomFile(t, tmp, 64<<10)
	if err := os.Rename(tmp, filepath.Join(content, "film.bin")); err != nil {
		t.Fatal(err)
	}
	snapshot.Guard(t, content)
	d.waitState(t, linked, lanseedd.StateReady)
	if took := time.Since(fixed); took >= retryFirstForTest {
		t.Errorf("the fixed row became ready after %s: not on the file system event", took)
	}

	// The escaping row was never retried on its own...
	if now, _ := d.Store.Get(context.Background(), escape); now.Generation != bad.Generation || now.State != lanseedd.StateError {
		t.Errorf("escaping row retried without an edit: generation %d → %d, state %s", bad.Generation, now.Generation, now.State)
	}
	// ...but verify ID retries it.
	var out, errw bytes.Buffer
	if err := runVerify(context.Background(), d.Config, []string{itoa(escape)}, 1, false, &out, &errw); err != nil {
		t.Fatalf("verify: %v\n%s", err, errw.String())
	}
	if !strings.Contains(out.String(), "retried") {
		t.Errorf("verify output %q does not say the row is retried", out.String())
	}
	d.waitRow(t, escape, "in error again at a new generation", func(r lanseedd.Row) bool {
		return r.State == lanseedd.StateError && r.Generation > bad.Generation
	})
}

// retryFirstForTest is the seeder's first retry delay (5 s).
const retryFirstForTest = 5 * time.Second

// TestStateDirUnwritable: with the .torrent directory unusable (a regular
// file where it should be; chmod would not stop root), rows are hashed once,
// not in a loop; they show why they wait; the failure is logged once and
// shown by readyz, the metric and the status page; once the directory is
// back, the rows are made.
func TestStateDirUnwritable(t *testing.T) {
	content := t.TempDir()
	for _, n := range []string{"a.bin", "b.bin"} {
		testenv.RandomFile(t, filepath.Join(content, n), 1<<20)
	}
	snapshot.Guard(t, content)
	d, logs, cfg := startLogged(t, content, fastFS)
	torrents := filepath.Join(cfg.Seeder.StateDir, "torrents")
	if err := os.RemoveAll(torrents); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(torrents, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := d.insert(t, "a.bin"), d.insert(t, "b.bin")
	for _, id := range []int64{a, b} {
		r := d.waitRow(t, id, "pending with a reason", func(r lanseedd.Row) bool {
			return r.State == lanseedd.StatePending && strings.Contains(r.Error, "state directory")
		})
		t.Logf("row %d: %s", id, r.Error)
	}
	time.Sleep(3 * time.Second)
	if h := d.Seeder.Stats().HashedBytes; h > 2<<20 {
		t.Errorf("hashed %d bytes in 3 s for two rows of 1 MiB: retried in a loop", h)
	}
	if code, body := getBody(t, d.AdminURL()+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "state directory") {
		t.Errorf("readyz = %d %q, want 503 naming the state directory", code, body)
	}
	if v := metric(t, d.AdminURL(), "lanseedd_seeder_state_dir_ok"); v != "0" {
		t.Errorf("lanseedd_seeder_state_dir_ok = %s, want 0", v)
	}
	if _, page := getBody(t, d.AdminURL()+"/"); !strings.Contains(page, `id="state-dir"`) {
		t.Error("the status page does not show the state directory failure")
	}
	if n := logs.count("cannot write .torrent files"); n != 1 {
		t.Errorf("the failure was logged %d times, want once", n)
	}

	os.Remove(torrents)
	if err := os.Mkdir(torrents, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a, b} {
		if r := d.waitState(t, id, lanseedd.StateReady); r.Error != "" {
			t.Errorf("ready row %d keeps the message %q", id, r.Error)
		}
	}
	if code, body := getBody(t, d.AdminURL()+"/readyz"); code != http.StatusOK {
		t.Errorf("readyz = %d %q after the directory came back", code, body)
	}
	if v := metric(t, d.AdminURL(), "lanseedd_seeder_state_dir_ok"); v != "1" {
		t.Errorf("lanseedd_seeder_state_dir_ok = %s after the directory came back, want 1", v)
	}
	if n := logs.count("cannot write .torrent files"); n != 1 {
		t.Errorf("the failure was logged %d times, want once", n)
	}
}

// TestSmallRowsNotStarved: small rows are made while every hashing slot
// hashes a huge file, instead of waiting for one to finish.
func TestSmallRowsNotStarved(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes sparse files of gigabytes")
	}
	content := t.TempDir()
	const huge = 4 << 30
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"huge1.img", "huge2.img"} {
		f, err := os.Create(filepath.Join(content, n))
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(huge)
		f.Close()
		os.Chtimes(f.Name(), old, old)
	}
	os.WriteFile(filepath.Join(content, "small.txt"), []byte("hello\n"), 0o644)
	os.Chtimes(filepath.Join(content, "small.txt"), old, old)
	// No snapshot.Guard: it would read the 12 GB twice; the other tests
	// here guard their content.
	d := startDaemon(t, content, fastFS, func(cfg *Config) {
		cfg.Seeder.Parallel = 2
		cfg.Seeder.HashWorkers = 1
	})
	h1, h2 := d.insert(t, "huge1.img"), d.insert(t, "huge2.img")
	time.Sleep(300 * time.Millisecond) // both claimed and hashing
	began := time.Now()
	small := d.insert(t, "small.txt")
	d.waitState(t, small, lanseedd.StateReady)
	hashed := d.Seeder.Stats().HashedBytes
	t.Logf("6-byte row ready after %s; %d bytes hashed by then", time.Since(began).Round(time.Millisecond), hashed)
	if hashed >= huge {
		t.Errorf("the small row waited for a huge hash to finish (%d bytes hashed)", hashed)
	}
	for _, id := range []int64{h1, h2} {
		if r, _ := d.Store.Get(context.Background(), id); r.State != lanseedd.StatePending {
			t.Logf("huge row %d is %s already", id, r.State)
		}
	}
}

// TestCatalogReplaced: an SQLite catalog file replaced under the daemon (a
// backup restored over it) is noticed: the daemon stops with an error, so
// that systemd starts it on the new file, and readyz fails meanwhile.
func TestCatalogReplaced(t *testing.T) {
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "a.bin"), 64<<10)
	d, logs, cfg := startLogged(t, content, fastFS)
	d.waitState(t, d.insert(t, "a.bin"), lanseedd.StateReady)
	path := strings.TrimPrefix(cfg.Catalog.DSN, "sqlite:")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".restored"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.Failed():
		if !errors.Is(err, store.ErrCatalogReplaced) {
			t.Errorf("daemon stopped with %v, want ErrCatalogReplaced", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced catalog went unnoticed for 10 s")
	}
	if code, body := getBody(t, d.AdminURL()+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "replaced") {
		t.Errorf("readyz = %d %q, want 503 saying the catalog was replaced", code, body)
	}
	if n := logs.count("catalog file replaced"); n != 1 {
		t.Errorf("logged %d times, want once", n)
	}
}

// TestRestartAfterSIGKILL runs the real binary on the embedded SQLite
// catalog: killed with SIGKILL while it holds a row, and started again, it
// takes the row back at once instead of waiting out the dead process's
// claim (catalog.claim_lease, 2 minutes).
func TestRestartAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	// A big sparse file hashed by one worker takes seconds: the daemon
	// holds the row when it is killed.
	b := newBinaryDaemon(t, buildBinary(t), 1<<30)
	start := func() (*exec.Cmd, *logWatcher) {
		cmd, w, _ := b.start()
		return cmd, w
	}
	cmd, _ := start()
	db := b.addBig()
	var holder sql.NullString
	var st string
	for end := time.Now().Add(10 * time.Second); !holder.Valid && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		db.QueryRow("SELECT state, claimed_by FROM lanseedd_torrents WHERE file_id = 1").Scan(&st, &holder)
	}
	if !holder.Valid || st != "pending" {
		t.Fatalf("row is %q, claimed by %v: not held by the daemon before the kill", st, holder)
	}
	cmd.Process.Kill()
	cmd.Wait()

	began := time.Now()
	_, w := start()
	w.sawOrWaitFor(t, "released the claims of a daemon that is gone", 20*time.Second)
	for end := time.Now().Add(60 * time.Second); st != "ready" && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		db.QueryRow("SELECT state FROM lanseedd_torrents WHERE file_id = 1").Scan(&st)
	}
	if st != "ready" {
		t.Fatalf("row is %q %s after the restart, want ready long before the 2-minute lease", st, time.Since(began).Round(time.Second))
	}
	t.Logf("killed daemon's row %s ready %s after the restart", holder.String, time.Since(began).Round(time.Millisecond))
}

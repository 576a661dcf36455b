package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/web"
)

// TestExampleConfig keeps contrib/lanseedd.yml loadable and valid.
func TestExampleConfig(t *testing.T) {
	cfg, err := parseRun("-config", "../../contrib/lanseedd.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Seeder.ContentRoot != "/srv/files" || cfg.Tracker.Listen != ":6969" {
		t.Errorf("example config not read: %+v", cfg)
	}
}

// TestSystemdUnit runs systemd-analyze verify on the shipped unit.
func TestSystemdUnit(t *testing.T) {
	analyze := testenv.RequireTool(t, "systemd-analyze")
	unit, err := os.ReadFile("../../contrib/systemd/lanseedd.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's program exists: point it at a binary
	// that does.
	self, _ := os.Executable()
	text := strings.ReplaceAll(string(unit), "/usr/bin/lanseedd", self)
	path := filepath.Join(t.TempDir(), "lanseedd.service")
	os.WriteFile(path, []byte(text), 0o644)
	// verify also looks the Documentation= man page up: give it the pages
	// the package ships.
	man := filepath.Join(t.TempDir(), "man")
	if err := run(context.Background(), []string{"gen-man", filepath.Join(man, "man8")}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	verify := exec.Command(analyze, "verify", path)
	verify.Env = append(os.Environ(), "MANPATH="+man)
	out, err := verify.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"Type=notify", "User=lanseedd", "StateDirectory=lanseedd", "ProtectSystem=strict",
		"ReadOnlyPaths=", "RestartPreventExitStatus=78", "EnvironmentFile=-/etc/default/lanseedd", "NoNewPrivileges=yes", "RestrictAddressFamilies=", "SystemCallFilter=@system-service"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
}

// buildBinary builds lanseedd once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lanseedd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// binaryDaemon runs the built binary on the embedded SQLite catalog, with
// one big sparse file (big.img) in its content root, old enough to be
// hashed at once, and one hashing worker: hashing it takes seconds.
type binaryDaemon struct {
	t                       *testing.T
	bin                     string
	content, state, cfgFile string
}

func newBinaryDaemon(t *testing.T, bin string, bigSize int64) *binaryDaemon {
	t.Helper()
	b := &binaryDaemon{t: t, bin: bin, content: t.TempDir(), state: t.TempDir()}
	big := filepath.Join(b.content, "big.img")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(bigSize)
	f.Close()
	old := time.Now().Add(-time.Hour)
	os.Chtimes(big, old, old)
	b.cfgFile = filepath.Join(b.state, "lanseedd.yml")
	os.WriteFile(b.cfgFile, []byte("seeder:\n  hash_workers: 1\n"), 0o644)
	return b
}

// start runs the daemon and returns it, its log and its "lanseedd
// running" line, once it has said it.
func (b *binaryDaemon) start() (*exec.Cmd, *logWatcher, string) {
	b.t.Helper()
	cmd := exec.Command(b.bin, "run", "-config", b.cfgFile, "-content", b.content, "-state", b.state,
		"-http", "127.0.0.1:0", "-tracker", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-peer-port", "0",
		"-public-url", "http://127.0.0.1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w := watchLog(stderr)
	return cmd, w, w.waitFor(b.t, "lanseedd running", 20*time.Second)
}

// addBig adds big.img to the running daemon's catalog, as the site would,
// and returns the catalog for the test to watch the row.
func (b *binaryDaemon) addBig() *sql.DB {
	b.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.state, "catalog.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("INSERT INTO files(path) VALUES ('big.img')"); err != nil {
		b.t.Fatal(err)
	}
	return db
}

// logWatcher follows a process's log lines.
type logWatcher struct {
	lines chan string
	all   strings.Builder
}

func watchLog(r io.Reader) *logWatcher {
	w := &logWatcher{lines: make(chan string, 1000)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	return w
}

// waitFor returns the first line containing s, failing after timeout.
func (w *logWatcher) waitFor(t *testing.T, s string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("log ended before %q:\n%s", s, w.all.String())
			}
			w.all.WriteString(l + "\n")
			if strings.Contains(l, s) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q in the log after %s:\n%s", s, timeout, w.all.String())
		}
	}
}

// sawOrWaitFor is waitFor, but a line already read (by an earlier waitFor,
// as start's for "lanseedd running") counts too: what the daemon logs as
// it starts can come before or after that line.
func (w *logWatcher) sawOrWaitFor(t *testing.T, s string, timeout time.Duration) string {
	t.Helper()
	for l := range strings.SplitSeq(w.all.String(), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return w.waitFor(t, s, timeout)
}

// TestSignals runs the real binary: SIGTERM in the middle of hashing exits
// cleanly within the bound and loses nothing (the row is pending again, and
// is ready after a restart); SIGHUP re-reads the config.
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	// A big sparse file, hashed by one worker, takes seconds: long enough to
	// be interrupted.
	b := newBinaryDaemon(t, bin, 4<<30)
	snapshot.Guard(t, b.content)
	cfgFile := b.cfgFile
	var running string
	start := func() (*exec.Cmd, *logWatcher) {
		cmd, w, line := b.start()
		running = line
		return cmd, w
	}
	cmd, w := start()
	db := b.addBig()
	// Claimed and hashing: give it a moment into the file, then stop it.
	time.Sleep(time.Second)
	var state0 string
	db.QueryRow("SELECT state FROM lanseedd_torrents WHERE file_id = 1").Scan(&state0)
	if state0 != "pending" {
		t.Fatalf("row is %q before SIGTERM; the file hashed too fast to test an interruption", state0)
	}
	began := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("no exit %s after SIGTERM", shutdownTimeout+5*time.Second)
	}
	t.Logf("stopped %s after SIGTERM, mid-hash", time.Since(began).Round(time.Millisecond))
	var st string
	var ih sql.NullString
	db.QueryRow("SELECT state, infohash FROM lanseedd_torrents WHERE file_id = 1").Scan(&st, &ih)
	if st != "pending" || ih.Valid {
		t.Errorf("after SIGTERM mid-hash the row is %q (infohash %v), want pending", st, ih)
	}

	// Restarted, the row is finished; SIGHUP re-reads the config.
	cmd, w = start()
	deadline := time.Now().Add(60 * time.Second)
	for st != "ready" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		db.QueryRow("SELECT state FROM lanseedd_torrents WHERE file_id = 1").Scan(&st)
	}
	if st != "ready" {
		t.Fatalf("after restart the row is %q, want ready", st)
	}
	admin := strings.TrimSuffix(strings.Fields(strings.SplitAfter(running, "status_page=")[1])[0], "/")
	if s := adminStats(t, admin); s.Seeder.UploadRate != 0 {
		t.Fatalf("upload rate %d before the reload, want 0 (none)", s.Seeder.UploadRate)
	}
	os.WriteFile(cfgFile, []byte("seeder:\n  hash_workers: 1\n  upload_rate: 123456\n  parallel: 5\nlog:\n  level: debug\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	w.waitFor(t, "key=seeder.parallel", 10*time.Second)
	w.waitFor(t, "log_level=debug", 10*time.Second)
	if s := adminStats(t, admin); s.Seeder.UploadRate != 123456 {
		t.Errorf("upload rate %d after SIGHUP, want 123456", s.Seeder.UploadRate)
	}
	reloadOK := func() string {
		_, body := getWith(t, admin+"/metrics", nil)
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "lanseedd_config_last_reload_successful ") {
				return strings.Fields(l)[1]
			}
		}
		t.Fatalf("no lanseedd_config_last_reload_successful in /metrics")
		return ""
	}
	if v := reloadOK(); v != "1" {
		t.Errorf("lanseedd_config_last_reload_successful %s after a good reload", v)
	}
	// A config that does not validate is not applied, and says so.
	os.WriteFile(cfgFile, []byte("seeder:\n  peer_port: lots\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	w.waitFor(t, "reload: config not applied", 10*time.Second)
	for end := time.Now().Add(5 * time.Second); reloadOK() != "0" && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond) // the log line comes just before the metric is set
	}
	if v := reloadOK(); v != "0" {
		t.Errorf("lanseedd_config_last_reload_successful %s after a failed reload", v)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
}

func adminStats(t *testing.T, base string) web.Stats {
	t.Helper()
	var s web.Stats
	_, body := getWith(t, base+"/api/stats", nil)
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("/api/stats: %v: %s", err, body)
	}
	return s
}

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/store"
)

// policyEnv is a catalog files(id, path, valid_until) on SQLite or a
// server, content, and a daemon on them that can be restarted.
type policyEnv struct {
	t       *testing.T
	backend string
	dsn     string
	site    *sql.DB
	content string
	state   string
	opts    []func(*Config)
	d       *testDaemon
	stop    func()
}

// policyBackends are the catalogs the policy tests run on: the embedded
// default and one server.
var policyBackends = []string{"sqlite", "postgres"}

func newPolicyEnv(t *testing.T, backend string, opts ...func(*Config)) *policyEnv {
	t.Helper()
	e := &policyEnv{t: t, backend: backend, content: t.TempDir(), state: t.TempDir(), opts: opts}
	switch backend {
	case "sqlite":
		path := filepath.Join(e.state, "catalog.db")
		e.dsn = "sqlite:" + path
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec("CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT NOT NULL, valid_until TEXT)"); err != nil {
			t.Fatal(err)
		}
		e.site = db
	case "postgres":
		e.dsn = dbtest.NewPostgres(t)
		cfg := store.DefaultConfig()
		cfg.DSN, cfg.ExpiresColumn = e.dsn, "valid_until"
		st, err := store.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.DB().Exec("CREATE TABLE files (id BIGSERIAL PRIMARY KEY, path TEXT NOT NULL, valid_until TIMESTAMPTZ)"); err != nil {
			t.Fatal(err)
		}
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.site = st.DB()
	}
	return e
}

// start starts the daemon; more options apply after the env's own.
func (e *policyEnv) start(more ...func(*Config)) {
	e.t.Helper()
	cfg := testConfig(e.t, e.content, append(append([]func(*Config){}, e.opts...), more...)...)
	cfg.Catalog.DSN = e.dsn
	cfg.Seeder.StateDir = e.state
	cfg.Seeder.QuietPeriod = 0
	cfg.Seeder.Debounce = 50 * time.Millisecond
	cfg.Publish.ExpiresColumn = "valid_until"
	m := NewMain(cfg, slog.New(slog.NewTextHandler(testWriter{e.t}, nil)))
	if err := m.Start(context.Background()); err != nil {
		m.Close()
		e.t.Fatalf("start daemon: %v", err)
	}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			if err := m.Close(); err != nil {
				e.t.Errorf("close daemon: %v", err)
			}
		})
	}
	e.t.Cleanup(e.stop)
	e.d = &testDaemon{Main: m, content: e.content}
}

func (e *policyEnv) restart(more ...func(*Config)) {
	e.t.Helper()
	e.stop()
	e.start(more...)
}

// expiry is t as the catalog column takes it (NULL for the zero time).
func (e *policyEnv) expiry(t time.Time) any {
	switch {
	case t.IsZero():
		return nil
	case e.backend == "sqlite":
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return t
}

func (e *policyEnv) insert(path string, expires time.Time) int64 {
	e.t.Helper()
	var id int64
	q := "INSERT INTO files (path, valid_until) VALUES (?, ?) RETURNING id"
	if e.backend == "postgres" {
		q = "INSERT INTO files (path, valid_until) VALUES ($1, $2) RETURNING id"
	}
	if err := e.site.QueryRow(q, path, e.expiry(expires)).Scan(&id); err != nil {
		e.t.Fatalf("insert %s: %v", path, err)
	}
	return id
}

func (e *policyEnv) setExpiry(id int64, expires time.Time) {
	e.t.Helper()
	q := "UPDATE files SET valid_until = ? WHERE id = ?"
	if e.backend == "postgres" {
		q = "UPDATE files SET valid_until = $1 WHERE id = $2"
	}
	if _, err := e.site.Exec(q, e.expiry(expires), id); err != nil {
		e.t.Fatal(err)
	}
}

// script writes an executable shell script outside the content.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "validate.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestValidateCommand: a file the validator refuses is in error with its
// output, and published once fixed; the validator sees the row's id and
// path, and none of the daemon's own LANSEEDD_ variables.
func TestValidateCommand(t *testing.T) {
	for _, backend := range policyBackends {
		t.Run(backend, func(t *testing.T) {
			t.Setenv("LANSEEDD_SECRET_FOR_TEST", "hunter2")
			seen := filepath.Join(t.TempDir(), "seen")
			check := script(t, `echo "$LANSEEDD_FILE_ID $LANSEEDD_PATH $1 ${LANSEEDD_SECRET_FOR_TEST:-none}" >> `+seen+`
if grep -q BAD "$1"; then echo "corrupt: header is BAD"; echo "second line"; exit 3; fi
exit 0
`)
			e := newPolicyEnv(t, backend, func(c *Config) { c.Publish.ValidateCommand = []string{check} })
			write(t, filepath.Join(e.content, "run.grib"), "BAD data")
			e.start()
			id := e.insert("run.grib", time.Time{})
			row := e.d.waitState(t, id, lanseedd.StateError)
			if !strings.Contains(row.Error, "corrupt: header is BAD") || !strings.Contains(row.Error, "exit status 3") {
				t.Errorf("error %q: want the validator's output and status", row.Error)
			}
			resp, _ := httpGet(t, e.d.HTTPURL()+"/t/"+itoa(id)+".torrent")
			if resp.StatusCode != http.StatusConflict {
				t.Errorf("/t/ of a refused row: %d", resp.StatusCode)
			}
			write(t, filepath.Join(e.content, "run.grib"), "good data, fixed")
			snapshot.Guard(t, e.content)
			e.d.waitState(t, id, lanseedd.StateReady)
			b, _ := os.ReadFile(seen)
			want := fmt.Sprintf("%d run.grib %s none", id, filepath.Join(e.content, "run.grib"))
			if !strings.Contains(string(b), want) {
				t.Errorf("validator saw %q, want a line %q", b, want)
			}
		})
	}
}

// TestValidateCommandHangs: a validator that hangs is killed with what it
// started, its row in error, while other rows are published meanwhile.
func TestValidateCommandHangs(t *testing.T) {
	for _, backend := range policyBackends {
		t.Run(backend, func(t *testing.T) {
			pids := t.TempDir()
			check := script(t, `case "$1" in
*hang*) sleep 300 & echo $! > `+pids+`/child; sleep 300;;
esac
exit 0
`)
			const timeout = 3 * time.Second
			e := newPolicyEnv(t, backend, func(c *Config) {
				c.Publish.ValidateCommand = []string{check}
				c.Publish.ValidateTimeout = timeout
				c.Publish.ValidateParallel = 2
			})
			write(t, filepath.Join(e.content, "hang.bin"), "x")
			for i := range 4 {
				write(t, filepath.Join(e.content, fmt.Sprintf("ok%d.bin", i)), "ok")
			}
			snapshot.Guard(t, e.content)
			e.start()
			start := time.Now()
			hang := e.insert("hang.bin", time.Time{})
			for i := range 4 {
				id := e.insert(fmt.Sprintf("ok%d.bin", i), time.Time{})
				e.d.waitState(t, id, lanseedd.StateReady)
			}
			if took := time.Since(start); took >= timeout {
				t.Errorf("other rows waited %s for the hanging validator", took)
			}
			row := e.d.waitState(t, hang, lanseedd.StateError)
			if !strings.Contains(row.Error, "no answer within publish.validate_timeout") {
				t.Errorf("error %q", row.Error)
			}
			b, err := os.ReadFile(filepath.Join(pids, "child"))
			if err != nil {
				t.Fatal(err)
			}
			var pid int
			fmt.Sscan(string(b), &pid)
			for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the validator's child %d outlived it", pid)
				}
			}
		})
	}
}

// TestValidateCommandHugeOutput: megabytes of output neither block the
// validator nor reach the row's error whole.
func TestValidateCommandHugeOutput(t *testing.T) {
	check := script(t, `head -c 20000000 /dev/zero | tr '\0' 'x'; echo
case "$1" in *refuse*) exit 1;; esac
exit 0
`)
	e := newPolicyEnv(t, "sqlite", func(c *Config) { c.Publish.ValidateCommand = []string{check} })
	write(t, filepath.Join(e.content, "accept.bin"), "a")
	write(t, filepath.Join(e.content, "refuse.bin"), "r")
	snapshot.Guard(t, e.content)
	e.start()
	ok, bad := e.insert("accept.bin", time.Time{}), e.insert("refuse.bin", time.Time{})
	e.d.waitState(t, ok, lanseedd.StateReady)
	row := e.d.waitState(t, bad, lanseedd.StateError)
	if len(row.Error) > 1000 || !strings.Contains(row.Error, "xxxx") {
		t.Errorf("error of %d bytes: %.200q", len(row.Error), row.Error)
	}
}

// TestSizeLimits: rows outside the limits are in error naming the limit
// and the size, and published once the file fits.
func TestSizeLimits(t *testing.T) {
	for _, backend := range policyBackends {
		t.Run(backend, func(t *testing.T) {
			e := newPolicyEnv(t, backend, func(c *Config) { c.Publish.MinSize, c.Publish.MaxSize = 100, 1000 })
			write(t, filepath.Join(e.content, "small.bin"), strings.Repeat("s", 50))
			write(t, filepath.Join(e.content, "fits.bin"), strings.Repeat("f", 500))
			write(t, filepath.Join(e.content, "large.bin"), strings.Repeat("l", 5000))
			e.start()
			small, fits, large := e.insert("small.bin", time.Time{}), e.insert("fits.bin", time.Time{}), e.insert("large.bin", time.Time{})
			e.d.waitState(t, fits, lanseedd.StateReady)
			if r := e.d.waitState(t, small, lanseedd.StateError); !strings.Contains(r.Error, "50 bytes is below publish.min_size (100 bytes)") {
				t.Errorf("small: %q", r.Error)
			}
			if r := e.d.waitState(t, large, lanseedd.StateError); !strings.Contains(r.Error, "5000 bytes is above publish.max_size (1000 bytes)") {
				t.Errorf("large: %q", r.Error)
			}
			write(t, filepath.Join(e.content, "small.bin"), strings.Repeat("s", 200))
			snapshot.Guard(t, e.content)
			e.d.waitState(t, small, lanseedd.StateReady)
		})
	}
}

// expiredEverywhere checks that an expired row is withdrawn: 410 on its
// link, out of the feed and of /api/files, no .torrent, not seeded.
func expiredEverywhere(t *testing.T, d *testDaemon, row lanseedd.Row) {
	t.Helper()
	resp, body := httpGet(t, d.HTTPURL()+"/t/"+itoa(row.FileID)+".torrent")
	if row.InfoHash == "" {
		row.InfoHash = strings.Repeat("0", 40)
	}
	if resp.StatusCode != http.StatusGone {
		t.Errorf("/t/%d.torrent of an expired row: %d %s", row.FileID, resp.StatusCode, body)
	}
	if resp, _ := httpGet(t, d.HTTPURL()+"/t/"+row.InfoHash+".torrent"); resp.StatusCode == http.StatusOK {
		t.Errorf("/t/{infohash}.torrent of an expired row: %d", resp.StatusCode)
	}
	if _, feed := httpGet(t, d.HTTPURL()+"/feed.rss"); strings.Contains(string(feed), row.InfoHash) || strings.Contains(string(feed), "/t/"+itoa(row.FileID)+".torrent") {
		t.Errorf("the feed lists expired row %d", row.FileID)
	}
	_, list := httpGet(t, d.AdminURL()+"/api/files")
	var page struct{ Files []struct{ ID int64 } }
	if err := json.Unmarshal(list, &page); err != nil {
		t.Fatal(err)
	}
	for _, f := range page.Files {
		if f.ID == row.FileID {
			t.Errorf("/api/files lists expired row %d", row.FileID)
		}
	}
	// The state is recorded first, then the torrent dropped.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := os.Stat(d.Seeder.TorrentFile(row.FileID))
		seeded := row.InfoHash != "" && d.Seeder.Seeding(metainfo.NewHashFromHex(row.InfoHash))
		if os.IsNotExist(err) && !seeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired row %d: .torrent %v, seeded %v", row.FileID, err, seeded)
		}
	}
}

// TestExpiryMaxAge: a torrent is withdrawn max_age after it was published,
// comes back when max_age grows, and a daemon restarted after the expiry
// withdraws at start.
func TestExpiryMaxAge(t *testing.T) {
	for _, backend := range policyBackends {
		t.Run(backend, func(t *testing.T) {
			e := newPolicyEnv(t, backend, func(c *Config) { c.Publish.CheckInterval = 200 * time.Millisecond })
			write(t, filepath.Join(e.content, "forecast.grib"), "forecast")
			write(t, filepath.Join(e.content, "later.grib"), "later")
			snapshot.Guard(t, e.content)
			e.start(func(c *Config) { c.Publish.MaxAge = 2 * time.Second })
			id := e.insert("forecast.grib", time.Time{})
			ready := e.d.waitState(t, id, lanseedd.StateReady)
			expired := e.d.waitState(t, id, lanseedd.StateExpired)
			if age := time.Since(ready.UpdatedAt); age < 2*time.Second {
				t.Errorf("expired %s after publication, max_age 2s", age)
			}
			if expired.InfoHash != ready.InfoHash || !strings.Contains(expired.Error, "publish.max_age") {
				t.Errorf("expired row %+v", expired)
			}
			expiredEverywhere(t, e.d, expired)

			// A longer max_age: the same torrent is published again.
			e.restart(func(c *Config) { c.Publish.MaxAge = time.Hour })
			back := e.d.waitState(t, id, lanseedd.StateReady)
			if back.InfoHash != ready.InfoHash {
				t.Errorf("republished as %s, was %s", back.InfoHash, ready.InfoHash)
			}
			if resp, _ := httpGet(t, e.d.HTTPURL()+"/t/"+itoa(id)+".torrent"); resp.StatusCode != http.StatusOK {
				t.Errorf("/t/ after republishing: %d", resp.StatusCode)
			}

			// Down past the expiry: withdrawn at start, before any timer.
			later := e.insert("later.grib", time.Time{})
			e.d.waitState(t, later, lanseedd.StateReady)
			e.stop()
			time.Sleep(2 * time.Second)
			e.start(func(c *Config) { c.Publish.MaxAge = time.Second; c.Publish.CheckInterval = time.Hour })
			for _, id := range []int64{id, later} {
				row := e.d.waitState(t, id, lanseedd.StateExpired)
				expiredEverywhere(t, e.d, row)
			}
		})
	}
}

// TestExpiryColumn: past the catalog's expiry column a torrent is
// withdrawn; moved into the future it is published again; a row inserted
// already expired is never hashed; a daemon down past an expiry withdraws
// at start.
func TestExpiryColumn(t *testing.T) {
	for _, backend := range policyBackends {
		t.Run(backend, func(t *testing.T) {
			e := newPolicyEnv(t, backend, func(c *Config) { c.Publish.CheckInterval = 200 * time.Millisecond })
			for _, name := range []string{"a.grib", "old.grib", "b.grib"} {
				write(t, filepath.Join(e.content, name), "data of "+name)
			}
			snapshot.Guard(t, e.content)
			e.start()
			id := e.insert("a.grib", time.Now().Add(3*time.Second))
			ready := e.d.waitState(t, id, lanseedd.StateReady)
			row := e.d.waitState(t, id, lanseedd.StateExpired)
			if !strings.Contains(row.Error, "valid_until") {
				t.Errorf("expired row's reason %q", row.Error)
			}
			expiredEverywhere(t, e.d, row)

			e.setExpiry(id, time.Now().Add(time.Hour))
			if back := e.d.waitState(t, id, lanseedd.StateReady); back.InfoHash != ready.InfoHash {
				t.Errorf("republished as %s, was %s", back.InfoHash, ready.InfoHash)
			}
			e.setExpiry(id, time.Time{}) // NULL: no expiry
			time.Sleep(500 * time.Millisecond)
			if r, _ := e.d.Store.Get(context.Background(), id); r.State != lanseedd.StateReady {
				t.Errorf("row without expiry: %s", r.State)
			}

			old := e.insert("old.grib", time.Now().Add(-time.Hour))
			if r := e.d.waitState(t, old, lanseedd.StateExpired); r.InfoHash != "" {
				t.Errorf("a row inserted expired was hashed: %+v", r)
			}

			b := e.insert("b.grib", time.Now().Add(2*time.Second))
			e.d.waitState(t, b, lanseedd.StateReady)
			e.stop()
			time.Sleep(2500 * time.Millisecond)
			e.start(func(c *Config) { c.Publish.CheckInterval = time.Hour })
			expiredEverywhere(t, e.d, e.d.waitState(t, b, lanseedd.StateExpired))
			if r, _ := e.d.Store.Get(context.Background(), id); r.State != lanseedd.StateReady {
				t.Errorf("row without expiry after restart: %s", r.State)
			}
			// Counted with the other states.
			_, stats := httpGet(t, e.d.AdminURL()+"/api/stats")
			var st struct{ Rows map[string]int64 }
			if err := json.Unmarshal(stats, &st); err != nil || st.Rows["expired"] != 2 {
				t.Errorf("/api/stats rows %v (%v), want 2 expired", st.Rows, err)
			}
			if _, m := httpGet(t, e.d.AdminURL()+"/metrics"); !strings.Contains(string(m), `lanseedd_catalog_rows{state="expired"} 2`) {
				t.Errorf("metrics without the expired count")
			}
			if _, page := httpGet(t, e.d.AdminURL()+"/"); !strings.Contains(string(page), `id="count-expired">2<`) {
				t.Errorf("status page without the expired count")
			}
		})
	}
}

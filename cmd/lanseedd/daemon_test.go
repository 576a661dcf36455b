package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/seeder"
)

// testDaemon is a daemon running in-process on temporary directories and
// free loopback ports, with its own connection to the catalog.
type testDaemon struct {
	*Main
	content string
	db      *sql.DB
}

// testConfig configures a daemon on content, with its state in a temporary
// directory and its listeners on free loopback ports.
func testConfig(tb testing.TB, content string, opts ...func(*Config)) Config {
	tb.Helper()
	state := tb.TempDir()
	cfg := DefaultConfig()
	cfg.Catalog.DSN = "sqlite:" + filepath.Join(state, "catalog.db")
	cfg.Seeder.ContentRoot = content
	cfg.Seeder.StateDir = state
	cfg.Seeder.PeerPort = 0
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Tracker.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.HTTP.PublicURL = "http://127.0.0.1"
	// LANSEEDD_TEST_LOAD=eager runs the suites with every ready row loaded
	// (seeder.load); tests of one mode's behaviour set it themselves.
	if load := os.Getenv("LANSEEDD_TEST_LOAD"); load != "" {
		cfg.Seeder.Load = seeder.LoadMode(load)
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// startDaemon starts a daemon on content; opts change its configuration.
func startDaemon(tb testing.TB, content string, opts ...func(*Config)) *testDaemon {
	tb.Helper()
	cfg := testConfig(tb, content, opts...)
	logger := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelInfo}))
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
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(cfg.Catalog.DSN, "sqlite:")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &testDaemon{Main: m, content: content, db: db}
}

// testWriter sends log lines to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (d *testDaemon) exec(tb testing.TB, q string, args ...any) int64 {
	tb.Helper()
	res, err := d.db.Exec(q, args...)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	id, _ := res.LastInsertId()
	return id
}

// waitRow waits until row id satisfies ok, and returns it.
func (d *testDaemon) waitRow(tb testing.TB, id int64, what string, ok func(lanseedd.Row) bool) lanseedd.Row {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		row, err := d.Store.Get(context.Background(), id)
		if err == nil && ok(row) {
			return row
		}
		if time.Now().After(deadline) {
			tb.Fatalf("row %d never became %s: last %+v, err %v", id, what, row, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *testDaemon) waitState(tb testing.TB, id int64, state lanseedd.State) lanseedd.Row {
	tb.Helper()
	return d.waitRow(tb, id, string(state), func(r lanseedd.Row) bool { return r.State == state })
}

func httpGet(tb testing.TB, url string) (*http.Response, []byte) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, body
}

// fetchTorrent downloads row id's .torrent through the HTTP front.
func (d *testDaemon) fetchTorrent(tb testing.TB, id int64) *metainfo.MetaInfo {
	tb.Helper()
	resp, body := httpGet(tb, d.HTTPURL()+"/t/"+itoa(id)+".torrent")
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /t/%d.torrent: %s: %s", id, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-bittorrent" {
		tb.Errorf("Content-Type = %q", ct)
	}
	mi, err := metainfo.Load(bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("parse .torrent: %v", err)
	}
	return mi
}

// download fetches a torrent with a separate anacrolix client that knows no
// peer but what our tracker tells it, and returns the bytes of its file.
func download(tb testing.TB, mi *metainfo.MetaInfo) []byte {
	tb.Helper()
	return downloadWith(tb, mi, func(cfg *torrent.ClientConfig) { cfg.DisableWebseeds = true })
}

// downloadWith downloads a torrent with a fresh anacrolix client in its own
// directory on loopback, without DHT or PEX, configured further by opt.
func downloadWith(tb testing.TB, mi *metainfo.MetaInfo, opt func(*torrent.ClientConfig)) []byte {
	tb.Helper()
	dir := tb.TempDir()
	cfg := testenv.LoopbackClient(dir)
	opt(cfg)
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	t, err := cl.AddTorrent(mi)
	if err != nil {
		tb.Fatal(err)
	}
	t.DownloadAll()
	select {
	case <-t.Complete().On():
	case <-time.After(60 * time.Second):
		st := t.Stats()
		tb.Fatalf("download of %s did not complete: %d of %d bytes; peers known %d, pending %d, half-open %d, connected %d (seeders %d)",
			t.Name(), t.BytesCompleted(), t.Length(), st.TotalPeers, st.PendingPeers, st.HalfOpenPeers, st.ActivePeers, st.ConnectedSeeders)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		tb.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, info.Name))
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// eager loads every ready row's torrent, as other seeding clients do
// (seeder.load: eager), for the tests of what that mode keeps.
func eager(c *Config) { c.Seeder.Load = seeder.LoadEager }

func TestEndToEnd(t *testing.T) {
	content := t.TempDir()
	film := testenv.RandomFile(t, filepath.Join(content, "film.bin"), 3<<20)
	cyr := testenv.RandomFile(t, filepath.Join(content, "Фильм 01.bin"), 1<<20+777)
	other := testenv.RandomFile(t, filepath.Join(content, "other.bin"), 200<<10)
	snapshot.Guard(t, content)

	d := startDaemon(t, content)
	filmID := d.exec(t, "INSERT INTO files(path) VALUES (?)", "film.bin")
	cyrID := d.exec(t, "INSERT INTO files(path) VALUES (?)", "Фильм 01.bin")

	filmRow := d.waitState(t, filmID, lanseedd.StateReady)
	cyrRow := d.waitState(t, cyrID, lanseedd.StateReady)
	if len(filmRow.InfoHash) != 40 || strings.ToLower(filmRow.InfoHash) != filmRow.InfoHash {
		t.Errorf("infohash %q is not 40 lowercase hex characters", filmRow.InfoHash)
	}
	for _, c := range []struct {
		id   int64
		row  lanseedd.Row
		data []byte
	}{{filmID, filmRow, film}, {cyrID, cyrRow, cyr}} {
		mi := d.fetchTorrent(t, c.id)
		if got := mi.HashInfoBytes().HexString(); got != c.row.InfoHash {
			t.Errorf("row %d: served .torrent has infohash %s, table says %s", c.id, got, c.row.InfoHash)
		}
		if mi.Announce != d.AnnounceURL() {
			t.Errorf("row %d: announce %q, want our tracker %q", c.id, mi.Announce, d.AnnounceURL())
		}
		if got := download(t, mi); !bytes.Equal(got, c.data) {
			t.Errorf("row %d: downloaded bytes differ from the file", c.id)
		}
	}
	resp, _ := httpGet(t, d.HTTPURL()+"/t/"+itoa(cyrID)+".torrent")
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "filename*=UTF-8''%D0%A4%D0%B8%D0%BB%D1%8C%D0%BC%2001.bin.torrent") {
		t.Errorf("Content-Disposition = %q", cd)
	}

	// A path update gives a new torrent; the old one is no longer seeded.
	d.exec(t, "UPDATE files SET path = ? WHERE id = ?", "other.bin", filmID)
	moved := d.waitRow(t, filmID, "ready with a new infohash", func(r lanseedd.Row) bool {
		return r.State == lanseedd.StateReady && r.InfoHash != filmRow.InfoHash
	})
	if d.Seeder.Seeding(metainfo.NewHashFromHex(filmRow.InfoHash)) {
		t.Errorf("old infohash %s still seeded after the path changed", filmRow.InfoHash)
	}
	mi := d.fetchTorrent(t, filmID)
	if mi.HashInfoBytes().HexString() != moved.InfoHash {
		t.Errorf("served .torrent is not the new one")
	}
	if got := download(t, mi); !bytes.Equal(got, other) {
		t.Errorf("downloaded bytes differ from other.bin")
	}

	// A deleted row: 404, not seeded, no .torrent left.
	d.exec(t, "DELETE FROM files WHERE id = ?", cyrID)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := d.Store.Get(context.Background(), cyrID)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted row %d still in the state table", cyrID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, _ := httpGet(t, d.HTTPURL()+"/t/"+itoa(cyrID)+".torrent"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted row: GET = %s, want 404", resp.Status)
	}
	if resp, _ := httpGet(t, d.HTTPURL()+"/t/"+cyrRow.InfoHash+".torrent"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted row by infohash: GET = %s, want 404", resp.Status)
	}
	if d.Seeder.Seeding(metainfo.NewHashFromHex(cyrRow.InfoHash)) {
		t.Errorf("deleted row still seeded")
	}
	if _, err := os.Stat(d.Seeder.TorrentFile(cyrID)); !os.IsNotExist(err) {
		t.Errorf("deleted row's .torrent still on disk: %v", err)
	}

	// Rows that cannot be served get a state and a message; the daemon goes on.
	missingID := d.exec(t, "INSERT INTO files(path) VALUES (?)", "not-there.bin")
	escapeID := d.exec(t, "INSERT INTO files(path) VALUES (?)", "../etc/passwd")
	absID := d.exec(t, "INSERT INTO files(path) VALUES (?)", "/etc/passwd")
	if r := d.waitState(t, missingID, lanseedd.StateMissing); !strings.Contains(r.Error, "not-there.bin") {
		t.Errorf("missing row's message %q does not name the file", r.Error)
	}
	for _, id := range []int64{escapeID, absID} {
		if r := d.waitState(t, id, lanseedd.StateError); !strings.Contains(r.Error, "outside") {
			t.Errorf("row %d: message %q does not say the path is outside the content root", id, r.Error)
		}
	}
	for id, want := range map[int64]int{missingID: http.StatusNotFound, escapeID: http.StatusConflict} {
		resp, body := httpGet(t, d.HTTPURL()+"/t/"+itoa(id)+".torrent")
		if resp.StatusCode != want {
			t.Errorf("row %d: GET = %s (%s), want %d", id, resp.Status, body, want)
		}
	}
	if resp, _ := httpGet(t, d.HTTPURL()+"/t/999999.torrent"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: GET = %s, want 404", resp.Status)
	}
	// Still serving after the bad rows.
	d.fetchTorrent(t, filmID)
}

package main

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// announce sends one HTTP announce for infohash (40 hex digits) to the
// daemon's tracker and returns its failure reason, "" on success.
func (d *testDaemon) announce(t *testing.T, infohash string) string {
	t.Helper()
	ih := hexHash(t, infohash)
	q := url.Values{"info_hash": {string(ih[:])}, "peer_id": {"-TT0001-000000000000"}, "port": {"51000"},
		"uploaded": {"0"}, "downloaded": {"0"}, "left": {"100"}, "compact": {"1"}}
	resp, err := http.Get(d.AnnounceURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply map[string]any
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if err := bencode.Unmarshal(buf.Bytes(), &reply); err != nil {
		t.Fatalf("announce reply %q: %v", buf.String(), err)
	}
	if f, ok := reply["failure reason"].(string); ok {
		return f
	}
	return ""
}

// TestCatalogOnlyTracker runs the tracker in catalog-only mode: torrents of
// ready rows are tracked and downloadable, any other infohash is refused,
// and a deleted row's infohash is refused again.
func TestCatalogOnlyTracker(t *testing.T) {
	content := t.TempDir()
	data := testenv.RandomFile(t, filepath.Join(content, "a.bin"), 300<<10)
	snapshot.Guard(t, content)
	d := startDaemon(t, content, func(c *Config) { c.Tracker.CatalogOnly = true })
	id := d.exec(t, "INSERT INTO files(path) VALUES ('a.bin')")
	row := d.waitState(t, id, lanseedd.StateReady)
	if sw, ok := d.Tracker.Swarm(hexHash(t, row.InfoHash)); !ok || sw.Seeders != 1 {
		t.Fatalf("our seeder is not in its swarm: %+v %v", sw, ok)
	}
	if got := download(t, d.fetchTorrent(t, id)); !bytes.Equal(got, data) {
		t.Fatal("downloaded bytes differ")
	}
	if f := d.announce(t, strings.Repeat("ab", 20)); f == "" {
		t.Error("an infohash outside the catalog was accepted")
	}
	if f := d.announce(t, row.InfoHash); f != "" {
		t.Errorf("the catalog's infohash was refused: %s", f)
	}
	d.exec(t, "DELETE FROM files WHERE id = ?", id)
	deadline := time.Now().Add(20 * time.Second)
	for d.announce(t, row.InfoHash) == "" {
		if time.Now().After(deadline) {
			t.Fatal("a deleted row's infohash is still accepted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hexHash(t *testing.T, s string) [20]byte {
	t.Helper()
	var h [20]byte
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		t.Fatal(err)
	}
	return h
}

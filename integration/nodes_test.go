//go:build integration

package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// nodeYAML names a node and makes its heartbeat quick to observe.
func nodeYAML(name string) string {
	return "node:\n  name: " + name + "\n  heartbeat: 1s\n  timeout: 3s\n"
}

// copies reads a row's copies through a node's admin API.
func (d *daemon) copies(t *testing.T, id int64) map[string]string {
	t.Helper()
	code, body, err := d.get(d.adminURL() + "/api/files/" + strconv.FormatInt(id, 10))
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /api/files/%d: %d %s %v", id, code, body, err)
	}
	var f struct {
		Copies []struct{ Node, State string }
	}
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range f.Copies {
		out[c.Node] = c.State
	}
	return out
}

// torrent fetches row id's .torrent from a node; code is the status.
func (d *daemon) torrent(t *testing.T, id int64) (*metainfo.MetaInfo, int) {
	t.Helper()
	code, body, err := d.get(d.httpURL() + "/t/" + strconv.FormatInt(id, 10) + ".torrent")
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK {
		return nil, code
	}
	mi, err := metainfo.Load(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return mi, code
}

// eventually retries ok every 100ms for up to d, and fails with what.
func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
	}
}

// TestNodes runs three lanseedd processes, each with its own content root,
// on one catalog (PostgreSQL, then MariaDB). fs1 hashes the rows; fs2 and
// fs3 check their copies: the same bytes are seeded by every node that
// has them, other bytes are a conflict that leaves the row alone, and no
// file is no copy. The torrents list the three trackers in node order;
// with fs1 killed, its tracker leaves the list and aria2c downloads from
// the others through a .torrent fetched from fs2. A deleted row leaves
// every node. No node writes to its content.
func TestNodes(t *testing.T) {
	aria2c := testenv.RequireTool(t, "aria2c")
	for _, srv := range dbServers {
		t.Run(srv.name, func(t *testing.T) {
			dsn, db := srv.catalog(t)
			dialect := "mysql"
			if srv.name == "postgres" {
				dialect = "postgres"
			}
			roots := []string{t.TempDir(), t.TempDir(), t.TempDir()}
			film := make([]byte, 3<<20+5)
			rand.Read(film)
			write := func(root, name string, data []byte) {
				t.Helper()
				if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
				old := time.Now().Add(-time.Hour) // settled
				os.Chtimes(filepath.Join(root, name), old, old)
			}
			for _, root := range roots {
				write(root, "film.bin", film)
			}
			for _, root := range roots[:2] {
				other := make([]byte, 1<<20)
				rand.Read(other)
				write(root, "other.bin", other)
			}
			for _, root := range roots {
				snapshot.Guard(t, root)
			}
			w := newWorld(t, db, dialect, roots[0])
			filmID, err := w.insert("film.bin")
			if err != nil {
				t.Fatal(err)
			}
			otherID, err := w.insert("other.bin")
			if err != nil {
				t.Fatal(err)
			}
			fs1 := startDaemon(t, daemonConfig{Catalog: dsn, Content: roots[0], YAML: nodeYAML("fs1")})
			filmRow := fs1.waitReady(t, filmID)
			otherRow := fs1.waitReady(t, otherID)
			fs2 := startDaemon(t, daemonConfig{Catalog: dsn, Content: roots[1], YAML: nodeYAML("fs2")})
			fs3 := startDaemon(t, daemonConfig{Catalog: dsn, Content: roots[2], YAML: nodeYAML("fs3")})

			want := map[int64]map[string]string{
				filmID:  {"fs2": "seeding", "fs3": "seeding"},
				otherID: {"fs2": "conflict", "fs3": "missing"},
			}
			for id, states := range want {
				var got map[string]string
				eventually(t, 30*time.Second, "copies recorded", func() bool {
					got = fs1.copies(t, id)
					return len(got) == len(states) && got["fs2"] == states["fs2"] && got["fs3"] == states["fs3"]
				})
			}
			tier := func(d *daemon) []string {
				host := d.trackerHost()
				return []string{"http://" + host + "/announce", "udp://" + host + "/announce"}
			}
			all := [][]string{tier(fs1), tier(fs2), tier(fs3)}
			eventually(t, 15*time.Second, "fs2 serves the three trackers in node order", func() bool {
				mi, _ := fs2.torrent(t, filmID)
				return mi != nil && slices.EqualFunc(mi.UpvertedAnnounceList(), all, slices.Equal)
			})
			if mi, _ := fs3.torrent(t, filmID); mi == nil || mi.HashInfoBytes().HexString() != filmRow.InfoHash {
				t.Errorf("fs3 serves film.bin as %v, fs1 made %s", mi, filmRow.InfoHash)
			}

			// fs1 is killed: its tracker leaves the lists after the
			// heartbeat timeout, and the others serve the row.
			fs1.kill()
			var mi *metainfo.MetaInfo
			eventually(t, 20*time.Second, "fs1's tracker leaves the lists", func() bool {
				mi, _ = fs2.torrent(t, filmID)
				return mi != nil && slices.EqualFunc(mi.UpvertedAnnounceList(), all[1:], slices.Equal)
			})
			dir := t.TempDir()
			torrent := filepath.Join(t.TempDir(), "film.torrent")
			f, err := os.Create(torrent)
			if err != nil {
				t.Fatal(err)
			}
			mi.UrlList = nil // the bytes come from the seeders, found through the trackers
			if err := mi.Write(f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			out, err := exec.Command(aria2c, "--dir", dir, "--seed-time=0", "--enable-dht=false",
				"--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
				"--console-log-level=warn", "--summary-interval=0", "--bt-stop-timeout=60", torrent).CombinedOutput()
			if got, rerr := os.ReadFile(filepath.Join(dir, "film.bin")); err != nil || rerr != nil || !bytes.Equal(got, film) {
				t.Fatalf("aria2c through fs2's .torrent with fs1 killed: %v %v\n%s", err, rerr, out)
			}

			// The conflict left the row as fs1 made it.
			if f, err := fs2.file(otherID); err != nil || f.State != "ready" || f.InfoHash != otherRow.InfoHash {
				t.Errorf("other.bin after the checks: %+v %v, fs1 made %s", f, err, otherRow.InfoHash)
			}

			// A deleted row leaves every node.
			if err := w.exec("DELETE FROM files WHERE id = ?", filmID); err != nil {
				t.Fatal(err)
			}
			for _, d := range []*daemon{fs2, fs3} {
				eventually(t, 30*time.Second, "the deleted row leaves "+d.cfg.Content, func() bool {
					_, code := d.torrent(t, filmID)
					return code == http.StatusNotFound
				})
			}
		})
	}
}

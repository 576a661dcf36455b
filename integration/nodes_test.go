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

// mirrorYAML names a mirror node.
// It looks for the copies of deleted rows every 2s (seeder.retry_missing).
func mirrorYAML(name string) string {
	return nodeYAML(name) + "  mirror: true\n  mirror_min_free: 0\nseeder:\n  retry_missing: 2s\n"
}

// fetched reads how many bytes a mirror fetched since it started.
func (d *daemon) fetched(t *testing.T) int64 {
	t.Helper()
	code, body, err := d.get(d.adminURL() + "/api/stats")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /api/stats: %d %s %v", code, body, err)
	}
	var s struct {
		Seeder struct {
			Fetched int64 `json:"mirror_fetched_bytes"`
		}
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	return s.Seeder.Fetched
}

// TestNodes runs three lanseedd processes on one catalog (PostgreSQL, then
// MariaDB): fs1 and fs2 are primaries with content of their own, m3 a
// mirror with an empty root. fs1 hashes the rows; fs2 checks its copies
// (the same bytes are seeded there too, other bytes are a visible
// conflict that leaves the row alone); m3 fetches every row byte for
// byte under the same infohash, and a changed file again. A restarted
// mirror fetches nothing it has. The torrents list the three trackers in
// node order; with fs1 killed, its tracker leaves the list and aria2c
// downloads through a .torrent fetched from fs2. A deleted row leaves
// every node. The primaries' content is never written.
func TestNodes(t *testing.T) {
	aria2c := testenv.RequireTool(t, "aria2c")
	for _, srv := range dbServers {
		t.Run(srv.name, func(t *testing.T) {
			dsn, db := srv.catalog(t)
			dialect := "mysql"
			if srv.name == "postgres" {
				dialect = "postgres"
			}
			began := time.Now()
			step := func(what string) { t.Logf("%5.1fs %s", time.Since(began).Seconds(), what) }
			roots := []string{t.TempDir(), t.TempDir(), t.TempDir()}
			random := func(n int) []byte {
				b := make([]byte, n)
				rand.Read(b)
				return b
			}
			write := func(root, name string, data []byte) {
				t.Helper()
				if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
				old := time.Now().Add(-time.Hour) // settled
				os.Chtimes(filepath.Join(root, name), old, old)
			}
			film, other := random(3<<20+5), random(1<<20)
			write(roots[0], "film.bin", film)
			write(roots[1], "film.bin", film)
			write(roots[0], "other.bin", other)
			write(roots[1], "other.bin", random(1<<20))
			snapshot.Guard(t, roots[1])
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
			step("fs1 made the rows ready")
			fs2 := startDaemon(t, daemonConfig{Catalog: dsn, Content: roots[1], YAML: nodeYAML("fs2")})
			m3 := startDaemon(t, daemonConfig{Catalog: dsn, Content: roots[2], YAML: mirrorYAML("m3")})

			want := map[int64]map[string]string{
				filmID:  {"fs2": "seeding", "m3": "seeding"},
				otherID: {"fs2": "conflict", "m3": "seeding"},
			}
			for id, states := range want {
				var got map[string]string
				eventually(t, 60*time.Second, "copies recorded", func() bool {
					got = fs1.copies(t, id)
					return len(got) == len(states) && got["fs2"] == states["fs2"] && got["m3"] == states["m3"]
				})
			}
			step("fs2 and m3 recorded their copies")
			for name, data := range map[string][]byte{"film.bin": film, "other.bin": other} {
				if got, err := os.ReadFile(filepath.Join(roots[2], name)); err != nil || !bytes.Equal(got, data) {
					t.Errorf("m3's %s differs from fs1's: %v", name, err)
				}
			}
			tier := func(d *daemon) []string {
				host := d.trackerHost()
				return []string{"http://" + host + "/announce", "udp://" + host + "/announce"}
			}
			all := [][]string{tier(fs1), tier(fs2), tier(m3)}
			eventually(t, 15*time.Second, "fs2 serves the three trackers in node order", func() bool {
				mi, _ := fs2.torrent(t, filmID)
				return mi != nil && slices.EqualFunc(mi.UpvertedAnnounceList(), all, slices.Equal)
			})
			if mi, _ := m3.torrent(t, filmID); mi == nil || mi.HashInfoBytes().HexString() != filmRow.InfoHash {
				t.Errorf("m3 serves film.bin as %v, fs1 made %s", mi, filmRow.InfoHash)
			}

			step("the torrents list the three trackers")
			// A changed file propagates to the mirror; fs2's copy of it is
			// still a conflict, and the row fs1's.
			newOther := random(1<<20 + 9)
			if err := os.WriteFile(filepath.Join(roots[0], "other.bin"), newOther, 0o644); err != nil {
				t.Fatal(err)
			}
			snapshot.Guard(t, roots[0])
			eventually(t, 60*time.Second, "the new other.bin on m3", func() bool {
				got, err := os.ReadFile(filepath.Join(roots[2], "other.bin"))
				return err == nil && bytes.Equal(got, newOther)
			})
			f, err := fs1.file(otherID)
			if err != nil || f.State != "ready" || f.InfoHash == otherRow.InfoHash {
				t.Fatalf("other.bin after the change: %+v %v", f, err)
			}
			eventually(t, 30*time.Second, "fs2's copy of the new other.bin is a conflict", func() bool {
				return fs1.copies(t, otherID)["fs2"] == "conflict"
			})
			if g, err := fs1.file(otherID); err != nil || g.InfoHash != f.InfoHash {
				t.Errorf("other.bin moved after fs2's check: %+v %v", g, err)
			}

			step("the change reached m3")
			// A restarted mirror fetches nothing it has.
			m3.stop()
			m3.start()
			time.Sleep(3 * time.Second)
			if n := m3.fetched(t); n != 0 {
				t.Errorf("the restarted mirror fetched %d bytes", n)
			}

			step("m3 restarted")
			// fs1 is killed: its tracker leaves the lists after the
			// heartbeat timeout, and the others serve the row.
			fs1.kill()
			var mi *metainfo.MetaInfo
			eventually(t, 20*time.Second, "fs1's tracker leaves the lists", func() bool {
				mi, _ = fs2.torrent(t, filmID)
				return mi != nil && slices.EqualFunc(mi.UpvertedAnnounceList(), all[1:], slices.Equal)
			})
			step("fs1's tracker left the lists")
			dir := t.TempDir()
			torrent := filepath.Join(t.TempDir(), "film.torrent")
			tf, err := os.Create(torrent)
			if err != nil {
				t.Fatal(err)
			}
			mi.UrlList = nil // the bytes come from the seeders, found through the trackers
			if err := mi.Write(tf); err != nil {
				t.Fatal(err)
			}
			tf.Close()
			out, err := exec.Command(aria2c, "--dir", dir, "--seed-time=0", "--enable-dht=false",
				"--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
				"--console-log-level=warn", "--summary-interval=0", "--bt-stop-timeout=60", torrent).CombinedOutput()
			if got, rerr := os.ReadFile(filepath.Join(dir, "film.bin")); err != nil || rerr != nil || !bytes.Equal(got, film) {
				t.Fatalf("aria2c through fs2's .torrent with fs1 killed: %v %v\n%s", err, rerr, out)
			}

			step("aria2c downloaded film.bin")
			// A deleted row leaves every node, the mirror's copy with it.
			if err := w.exec("DELETE FROM files WHERE id = ?", filmID); err != nil {
				t.Fatal(err)
			}
			for _, d := range []*daemon{fs2, m3} {
				eventually(t, 60*time.Second, "the deleted row leaves "+d.cfg.Content, func() bool {
					_, code := d.torrent(t, filmID)
					return code == http.StatusNotFound
				})
			}
			eventually(t, 60*time.Second, "the deleted row's copy leaves the mirror root", func() bool {
				_, err := os.Stat(filepath.Join(roots[2], "film.bin"))
				return os.IsNotExist(err)
			})
			step("the deleted row left every node")
		})
	}
}

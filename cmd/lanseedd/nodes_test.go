package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/web"
)

// quickNodes makes node changes quick to observe, and names the node.
func quickNodes(name string) func(*Config) {
	return func(cfg *Config) {
		cfg.Node.Name = name
		cfg.Node.Heartbeat = time.Second
		cfg.Node.Timeout = 2 * time.Second
	}
}

// onCatalog runs the daemon on another daemon's catalog.
func onCatalog(dsn string) func(*Config) {
	return func(cfg *Config) { cfg.Catalog.DSN = dsn }
}

// waitTiers waits until row id's .torrent, served by d, announces to want,
// and returns it.
func (d *testDaemon) waitTiers(tb testing.TB, id int64, want [][]string) *metainfo.MetaInfo {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		mi := d.fetchTorrent(tb, id)
		got := mi.UpvertedAnnounceList()
		if slices.EqualFunc(got, want, slices.Equal) {
			if mi.Announce != want[0][0] {
				tb.Errorf("announce %q, want the first tier's %q", mi.Announce, want[0][0])
			}
			return mi
		}
		if time.Now().After(deadline) {
			tb.Fatalf("row %d's torrent announces to %q, want %q", id, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNodesListEachOthersTrackers runs two nodes on one catalog: the
// torrents and magnets served list both trackers, one tier each in node
// name order, with the infohash unchanged; a node that stops leaves the
// lists at once, one that stops beating after node.timeout.
func TestNodesListEachOthersTrackers(t *testing.T) {
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "film.bin"), 1<<20)
	snapshot.Guard(t, content)
	// b-fs is started first and holds the catalog; a-fs comes first in
	// the lists all the same.
	b := startDaemon(t, content, quickNodes("b-fs"))
	id := b.insert(t, "film.bin")
	row := b.waitState(t, id, lanseedd.StateReady)
	alone := [][]string{trackersOf(t, b)}
	b.waitTiers(t, id, alone)

	a := startDaemon(t, content, quickNodes("a-fs"), onCatalog(b.Config.Catalog.DSN))
	both := [][]string{trackersOf(t, a), trackersOf(t, b)}
	mi := b.waitTiers(t, id, both)
	if mi.HashInfoBytes().HexString() != row.InfoHash {
		t.Errorf("served infohash %s, row's %s", mi.HashInfoBytes().HexString(), row.InfoHash)
	}
	var f web.File
	getJSON(t, b.HTTPURL()+"/api/files/"+itoa(id), &f)
	m, err := metainfo.ParseMagnetUri(f.Magnet)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Concat(both...); !slices.Equal(m.Trackers, want) {
		t.Errorf("magnet lists %q, want %q", m.Trackers, want)
	}
	var stats web.Stats
	getJSON(t, b.AdminURL()+"/api/stats", &stats)
	if stats.Node != "b-fs" || len(stats.Nodes) != 2 || stats.Nodes[0].Name != "a-fs" || !stats.Nodes[0].Up || !stats.Nodes[1].Up {
		t.Errorf("/api/stats node %q, nodes %+v", stats.Node, stats.Nodes)
	}
	_, page := httpGet(t, b.AdminURL()+"/")
	if !strings.Contains(string(page), `id="nodes"`) || !strings.Contains(string(page), "a-fs") {
		t.Error("the status page does not show the nodes")
	}
	_, metrics := httpGet(t, b.AdminURL()+"/metrics")
	if !strings.Contains(string(metrics), `lanseedd_node_up{node="a-fs"} 1`) {
		t.Error(`metrics lack lanseedd_node_up{node="a-fs"} 1`)
	}

	// a-fs stops cleanly: it leaves at once (well before the timeout).
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b.waitTiers(t, id, alone)
	if waited := time.Since(start); waited > 1500*time.Millisecond+b.Config.Node.Heartbeat {
		t.Errorf("a stopped node left the lists after %s", waited)
	}

	// A node that stops beating (killed) leaves after node.timeout.
	ghost := lanseedd.Node{Name: "0-ghost", Trackers: []string{"http://10.9.9.9:6969/announce"}, PublicURL: "http://10.9.9.9", Version: "v0"}
	st := openStoreFor(t, b.Config)
	if _, err := st.Heartbeat(context.Background(), ghost); err != nil {
		t.Fatal(err)
	}
	b.waitTiers(t, id, append([][]string{ghost.Trackers}, alone...))
	b.waitTiers(t, id, alone)
	getJSON(t, b.AdminURL()+"/api/stats", &stats)
	if i := slices.IndexFunc(stats.Nodes, func(n lanseedd.Node) bool { return n.Name == "0-ghost" }); i < 0 || stats.Nodes[i].Up {
		t.Errorf("the node that stopped beating: %+v", stats.Nodes)
	}

	// `lanseedd nodes` lists them; a node taken out of service is forgotten.
	dsn := b.Config.Catalog.DSN
	t.Setenv("LANSEEDD_NODE_TIMEOUT", b.Config.Node.Timeout.String()) // as the daemons have it
	code, out, errOut := runCLI(t, "nodes", "-catalog", dsn)
	for _, want := range []string{"0-ghost  down", "a-fs     stopped", "b-fs     up"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("lanseedd nodes: %d, want %q in\n%s%s", code, want, out, errOut)
		}
	}
	if code, out, errOut := runCLI(t, "nodes", "forget", "0-ghost", "-catalog", dsn); code != 0 || !strings.Contains(out, "forgot 0-ghost") {
		t.Errorf("lanseedd nodes forget: %d %s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "nodes", "forget", "0-ghost", "-catalog", dsn); code != 1 || !strings.Contains(errOut, "no node named") {
		t.Errorf("forgetting a node twice: %d %s", code, errOut)
	}
	if _, out, _ := runCLI(t, "nodes", "-catalog", dsn); strings.Contains(out, "0-ghost") {
		t.Errorf("a forgotten node is listed:\n%s", out)
	}
}

// trackersOf are a daemon's own announce URLs, as the nodes table has them.
func trackersOf(tb testing.TB, d *testDaemon) []string {
	tb.Helper()
	u := d.AnnounceURL()
	return []string{u, "udp" + strings.TrimPrefix(u, "http")}
}

func getJSON(tb testing.TB, url string, v any) {
	tb.Helper()
	resp, body := httpGet(tb, url)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
}

// openStoreFor opens a daemon's catalog on a connection of the test's own.
func openStoreFor(tb testing.TB, cfg Config) *store.Store {
	tb.Helper()
	st, err := openStore(context.Background(), cfg, slog.New(slog.DiscardHandler), false)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// announcePeers announces infohash to d's tracker as a new leecher and
// returns the peers of the compact reply.
func (d *testDaemon) announcePeers(t *testing.T, infohash string) []netip.AddrPort {
	t.Helper()
	ih := hexHash(t, infohash)
	q := url.Values{"info_hash": {string(ih[:])}, "peer_id": {"-TT0001-000000000001"}, "port": {"51001"},
		"uploaded": {"0"}, "downloaded": {"0"}, "left": {"100"}, "compact": {"1"}}
	resp, body := httpGet(t, d.AnnounceURL()+"?"+q.Encode())
	var reply struct {
		Failure string `bencode:"failure reason"`
		Peers   string `bencode:"peers"`
	}
	if err := bencode.Unmarshal(body, &reply); err != nil || reply.Failure != "" || resp.StatusCode != http.StatusOK {
		t.Fatalf("announce: %s %q: %v", resp.Status, body, err)
	}
	var out []netip.AddrPort
	for p := []byte(reply.Peers); len(p) >= 6; p = p[6:] {
		out = append(out, netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[:4])), binary.BigEndian.Uint16(p[4:6])))
	}
	return out
}

// seederAddr is where a daemon's tracker tells peers its seeder is.
func seederAddr(d *testDaemon) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(d.Seeder.Port()))
}

// copyOf waits until node's record of its copy of row id is in state, and
// returns it.
func copyOf(t *testing.T, st *store.Store, id int64, node string, state lanseedd.CopyState) lanseedd.Copy {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs, err := st.Copies(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Node == node && c.State == state {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("row %d: copies %+v, want %s's %s", id, cs, node, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNodesCheckTheirCopies runs two nodes on one catalog, each with its
// own content root. The second checks its copy of every row the first
// made ready: the same bytes are seeded by both (each tracker lists both
// seeders, and a client downloads from the second once the first is
// gone), other bytes are a conflict that leaves the row's infohash alone,
// and no file is recorded as missing. Neither node writes to its content.
func TestNodesCheckTheirCopies(t *testing.T) {
	contentA, contentB := t.TempDir(), t.TempDir()
	film := testenv.RandomFile(t, filepath.Join(contentA, "film.bin"), 2<<20)
	if err := os.WriteFile(filepath.Join(contentB, "film.bin"), film, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.RandomFile(t, filepath.Join(contentA, "other.bin"), 1<<20)
	testenv.RandomFile(t, filepath.Join(contentB, "other.bin"), 1<<20)
	testenv.RandomFile(t, filepath.Join(contentA, "only-a.bin"), 100<<10)
	old := time.Now().Add(-time.Hour) // settled files
	for _, p := range []string{filepath.Join(contentA, "film.bin"), filepath.Join(contentB, "film.bin"),
		filepath.Join(contentA, "other.bin"), filepath.Join(contentB, "other.bin"), filepath.Join(contentA, "only-a.bin")} {
		os.Chtimes(p, old, old)
	}
	snapshot.Guard(t, contentA)
	snapshot.Guard(t, contentB)

	a := startDaemon(t, contentA, quickNodes("a-fs"))
	ids := map[string]int64{}
	rows := map[string]lanseedd.Row{}
	for _, name := range []string{"film.bin", "other.bin", "only-a.bin"} {
		ids[name] = a.insert(t, name)
	}
	for name, id := range ids {
		rows[name] = a.waitState(t, id, lanseedd.StateReady)
		if rows[name].Node != "a-fs" {
			t.Errorf("%s made ready by node %q, want a-fs", name, rows[name].Node)
		}
	}
	b := startDaemon(t, contentB, quickNodes("b-fs"), onCatalog(a.Config.Catalog.DSN))
	st := openStoreFor(t, a.Config)
	filmCopy := copyOf(t, st, ids["film.bin"], "b-fs", lanseedd.CopySeeding)
	if filmCopy.InfoHash != rows["film.bin"].InfoHash {
		t.Errorf("b-fs's copy of film.bin: %+v", filmCopy)
	}
	conflict := copyOf(t, st, ids["other.bin"], "b-fs", lanseedd.CopyConflict)
	if conflict.InfoHash == rows["other.bin"].InfoHash || !strings.Contains(conflict.Error, "other bytes") {
		t.Errorf("b-fs's copy of other.bin: %+v", conflict)
	}
	copyOf(t, st, ids["only-a.bin"], "b-fs", lanseedd.CopyMissing)

	// Whichever tracker a client asks lists the seeders of the nodes
	// that have the row's bytes, and only those.
	for _, d := range []*testDaemon{a, b} {
		// A node's tracker knows the others from its next heartbeat.
		var got []netip.AddrPort
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got = d.announcePeers(t, rows["film.bin"].InfoHash)
			if slices.Contains(got, seederAddr(a)) && slices.Contains(got, seederAddr(b)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's tracker lists %v for film.bin, want both seeders %v and %v", d.Config.Node.Name, got, seederAddr(a), seederAddr(b))
			}
		}
		got = d.announcePeers(t, rows["other.bin"].InfoHash)
		if !slices.Contains(got, seederAddr(a)) || slices.Contains(got, seederAddr(b)) {
			t.Errorf("%s's tracker lists %v for other.bin, want a-fs's seeder only", d.Config.Node.Name, got)
		}
	}

	// Admins see the conflict: the file's copies, the counts, the status
	// page, the metrics and `lanseedd status`.
	var f web.File
	getJSON(t, b.AdminURL()+"/api/files/"+itoa(ids["other.bin"]), &f)
	if f.Node != "a-fs" || len(f.Copies) != 1 || f.Copies[0].Node != "b-fs" || f.Copies[0].State != lanseedd.CopyConflict {
		t.Errorf("/api/files/%d: node %q, copies %+v", ids["other.bin"], f.Node, f.Copies)
	}
	var stats web.Stats
	getJSON(t, a.AdminURL()+"/api/stats", &stats)
	if stats.Conflicts != 1 {
		t.Errorf("/api/stats conflicts %d, want 1 (a missing copy is none)", stats.Conflicts)
	}
	if _, page := httpGet(t, a.AdminURL()+"/"); !strings.Contains(string(page), `id="conflicts"`) || !strings.Contains(string(page), "other.bin") {
		t.Error("the status page does not show the conflict")
	} else if !strings.Contains(string(page), "seeded by") || !strings.Contains(string(page), "a-fs, b-fs") {
		t.Error("the status page does not show which nodes seed film.bin")
	}
	if _, m := httpGet(t, a.AdminURL()+"/metrics"); !strings.Contains(string(m), "lanseedd_catalog_copy_conflicts 1") {
		t.Error("metrics lack lanseedd_catalog_copy_conflicts 1")
	}
	status, err := readStatus(context.Background(), a.Config, st)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	status.print(&out)
	if status.ConflictsTotal != 1 || !strings.Contains(out.String(), "other.bin") || !strings.Contains(out.String(), "b-fs") {
		t.Errorf("lanseedd status:\n%s", out.String())
	}

	// The conflict does not move the row: b-fs's sweep and its rescans
	// leave it ready with a-fs's torrent.
	b.Seeder.Wake()
	time.Sleep(2 * time.Second)
	for name, id := range ids {
		r := a.waitState(t, id, lanseedd.StateReady)
		if r.InfoHash != rows[name].InfoHash || r.Generation != rows[name].Generation {
			t.Errorf("%s moved: %s gen %d, was %s gen %d", name, r.InfoHash, r.Generation, rows[name].InfoHash, rows[name].Generation)
		}
	}

	// With a-fs gone, b-fs serves film.bin by itself.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	mi := b.waitTiers(t, ids["film.bin"], [][]string{trackersOf(t, b)})
	if got := download(t, mi); !bytes.Equal(got, film) {
		t.Error("film.bin downloaded from b-fs differs")
	}
}

// TestNodesTakeMissingRows runs two nodes with different files: a row the
// first found no file for is taken by the node that has it, at its start
// and as the other records it missing, and ends ready, hashed there.
func TestNodesTakeMissingRows(t *testing.T) {
	contentA, contentB := t.TempDir(), t.TempDir()
	testenv.RandomFile(t, filepath.Join(contentB, "early.bin"), 200<<10)
	testenv.RandomFile(t, filepath.Join(contentB, "late.bin"), 300<<10)
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"early.bin", "late.bin"} {
		os.Chtimes(filepath.Join(contentB, p), old, old)
	}
	snapshot.Guard(t, contentA)
	snapshot.Guard(t, contentB)
	a := startDaemon(t, contentA, quickNodes("a-fs"))
	early := a.insert(t, "early.bin")
	if r := a.waitState(t, early, lanseedd.StateMissing); r.Node != "a-fs" {
		t.Errorf("early.bin found missing by %q", r.Node)
	}
	b := startDaemon(t, contentB, quickNodes("b-fs"), onCatalog(a.Config.Catalog.DSN))
	if r := a.waitState(t, early, lanseedd.StateReady); r.Node != "b-fs" {
		t.Errorf("early.bin made ready by %q, want b-fs", r.Node)
	}
	// While both run, whichever claims the row: it ends b-fs's.
	late := a.insert(t, "late.bin")
	start := time.Now()
	b.waitRow(t, late, "ready on b-fs", func(r lanseedd.Row) bool { return r.State == lanseedd.StateReady && r.Node == "b-fs" })
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("late.bin ready after %s: taken by the periodic retry, not as a-fs found it missing", waited)
	}
	st := openStoreFor(t, a.Config)
	copyOf(t, st, late, "a-fs", lanseedd.CopyMissing)
	if got := download(t, b.fetchTorrent(t, late)); len(got) != 300<<10 {
		t.Errorf("late.bin downloaded %d bytes", len(got))
	}
}

// mirror makes the node a mirror.
func mirror(cfg *Config) { cfg.Node.Mirror = true }

// waitFile waits until path holds want.
func waitFile(t *testing.T, path string, want []byte, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := os.ReadFile(path)
		if err == nil && bytes.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s holds %d bytes (%v), want %d", what, path, len(got), err, len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMirror runs a primary and a mirror with an empty root: the rows the
// primary makes ready appear on the mirror byte for byte under the same
// infohash and are seeded there; a changed file is fetched again; a
// restarted mirror fetches nothing it has; a deleted row leaves the mirror
// root. The primary's content is never written.
func TestMirror(t *testing.T) {
	primary, mirrorRoot := t.TempDir(), t.TempDir()
	film := testenv.RandomFile(t, filepath.Join(primary, "film.bin"), 2<<20+7)
	if err := os.MkdirAll(filepath.Join(primary, "show", "s01"), 0o755); err != nil {
		t.Fatal(err)
	}
	ep := testenv.RandomFile(t, filepath.Join(primary, "show", "s01", "e01.bin"), 300<<10)
	a := startDaemon(t, primary, quickNodes("a-fs"), fastFS)
	filmID, showID := a.insert(t, "film.bin"), a.insert(t, "show")
	filmRow := a.waitState(t, filmID, lanseedd.StateReady)
	a.waitState(t, showID, lanseedd.StateReady)

	mstate := t.TempDir()
	m := startDaemon(t, mirrorRoot, quickNodes("m-fs"), mirror, onCatalog(a.Config.Catalog.DSN), func(c *Config) {
		c.Seeder.StateDir = mstate
		c.Node.MirrorMinFree = 0
	})
	st := openStoreFor(t, a.Config)
	waitFile(t, filepath.Join(mirrorRoot, "film.bin"), film, "film.bin on the mirror")
	waitFile(t, filepath.Join(mirrorRoot, "show", "s01", "e01.bin"), ep, "a directory row on the mirror")
	c := copyOf(t, st, filmID, "m-fs", lanseedd.CopySeeding)
	if c.InfoHash != filmRow.InfoHash {
		t.Errorf("the mirror's copy: %+v, row %s", c, filmRow.InfoHash)
	}
	if entries, _ := os.ReadDir(filepath.Join(mstate, "mirror")); len(entries) != 0 {
		t.Errorf("partial downloads left in the state directory: %v", entries)
	}
	// The mirror seeds: with the primary gone, a client downloads from it.
	fi, err := os.Stat(filepath.Join(mirrorRoot, "film.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	mi := m.waitTiers(t, filmID, [][]string{trackersOf(t, m)})
	if got := download(t, mi); !bytes.Equal(got, film) {
		t.Error("film.bin downloaded from the mirror differs")
	}

	// A restarted mirror fetches nothing it has.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = startDaemon(t, mirrorRoot, quickNodes("m-fs"), mirror, onCatalog(a.Config.Catalog.DSN), func(c *Config) {
		c.Seeder.StateDir = mstate
		c.Node.MirrorMinFree = 0
	})
	a = startDaemon(t, primary, quickNodes("a-fs"), fastFS, onCatalog(a.Config.Catalog.DSN), func(c *Config) { c.Seeder.StateDir = a.Config.Seeder.StateDir })
	time.Sleep(2 * time.Second)
	if after, err := os.Stat(filepath.Join(mirrorRoot, "film.bin")); err != nil || !os.SameFile(fi, after) || !after.ModTime().Equal(fi.ModTime()) {
		t.Errorf("the restarted mirror replaced film.bin: %v", err)
	}
	if n := m.Seeder.Fetched(); n != 0 {
		t.Errorf("the restarted mirror fetched %d bytes", n)
	}
	if got := download(t, m.fetchTorrent(t, filmID)); !bytes.Equal(got, film) {
		t.Error("film.bin downloaded from the restarted mirror differs")
	}

	// A changed file is fetched again, in place of the old copy: the
	// pieces it shares with the old one are taken from the old copy, the
	// others from the swarm.
	laterMtime()
	tail := make([]byte, 1<<20+3)
	rand.Read(tail)
	newFilm := append(film[:1<<20:1<<20], tail...)
	if err := os.WriteFile(filepath.Join(primary, "film.bin"), newFilm, 0o644); err != nil {
		t.Fatal(err)
	}
	// The primary's content is never written from here on.
	snapshot.Guard(t, primary)
	a.waitNewHash(t, filmID, filmRow.InfoHash)
	waitFile(t, filepath.Join(mirrorRoot, "film.bin"), newFilm, "the new film.bin on the mirror")
	info, err := m.fetchTorrent(t, filmID).UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	if n, most := m.Seeder.Fetched(), int64(len(tail))+info.PieceLength; n == 0 || n > most {
		t.Errorf("the mirror fetched %d bytes of the new film.bin (%d), want at most the changed tail and a piece (%d)", n, len(newFilm), most)
	}

	// A deleted row leaves the mirror root.
	a.exec(t, "DELETE FROM files WHERE id = ?", showID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := os.Stat(filepath.Join(mirrorRoot, "show"))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted row's copy is still in the mirror root: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nothing else is under the mirror root: no part, no leftover.
	var names []string
	filepath.WalkDir(mirrorRoot, func(p string, d os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(mirrorRoot, p); rel != "." {
			names = append(names, rel)
		}
		return nil
	})
	if !slices.Equal(names, []string{"film.bin"}) {
		t.Errorf("the mirror root holds %q, want film.bin only", names)
	}
}

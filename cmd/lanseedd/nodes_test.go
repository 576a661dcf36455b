package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
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
	writeRandom(t, filepath.Join(content, "film.bin"), 1<<20)
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

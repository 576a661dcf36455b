package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// coldRows starts a daemon (demand mode, with opts) on n ready rows of
// small files, none loaded, and returns it with the rows and their data.
func coldRows(t *testing.T, n int, opts ...func(*Config)) (*testDaemon, []lanseedd.Row, [][]byte) {
	t.Helper()
	content := t.TempDir()
	var data [][]byte
	for i := range n {
		data = append(data, testenv.RandomFile(t, filepath.Join(content, fmt.Sprintf("f%02d.bin", i)), 96<<10+i))
	}
	snapshot.Guard(t, content)
	d := startDaemon(t, content, opts...)
	var rows []lanseedd.Row
	for i := range n {
		id := d.exec(t, "INSERT INTO files(path) VALUES (?)", fmt.Sprintf("f%02d.bin", i))
		rows = append(rows, d.waitState(t, id, lanseedd.StateReady))
	}
	if got := d.Seeder.SeedingCount(); got != 0 {
		t.Fatalf("%d torrents loaded with no peer yet", got)
	}
	return d, rows, data
}

// TestActivationOnAnnounce: a ready row is listed by our tracker with the
// seeder from the start, its torrent loaded by the first announce (before
// the reply), and unloaded again after the quiet time.
func TestActivationOnAnnounce(t *testing.T) {
	d, rows, data := coldRows(t, 2, func(c *Config) { c.Seeder.UnloadAfter = time.Second })
	// A scrape counts our seeder without loading anything.
	ih := metainfo.NewHashFromHex(rows[0].InfoHash)
	if sw, ok := d.Tracker.Swarm(ih); !ok || sw.Seeders != 1 {
		t.Errorf("swarm of a cold row: %+v, %v; want our seeder", sw, ok)
	}
	if n := d.Seeder.SeedingCount(); n != 0 {
		t.Errorf("a scrape loaded %d torrents", n)
	}
	got := download(t, d.fetchTorrent(t, rows[0].FileID))
	if !bytes.Equal(got, data[0]) {
		t.Fatal("downloaded file differs")
	}
	st := d.Seeder.Stats()
	if st.Activations != 1 || st.ActivationSeconds.Count != 1 {
		t.Errorf("after one download: %d activations, %d timed; want 1", st.Activations, st.ActivationSeconds.Count)
	}
	// No peer and no announce for a second: unloaded; the row stays ready
	// and downloads again.
	waitFor(t, 10*time.Second, "the torrent unloaded after the quiet time", func() bool { return d.Seeder.SeedingCount() == 0 })
	if st := d.Seeder.Stats(); st.Unloads != 1 {
		t.Errorf("unloads = %d, want 1", st.Unloads)
	}
	if got := download(t, d.fetchTorrent(t, rows[0].FileID)); !bytes.Equal(got, data[0]) {
		t.Fatal("second download differs")
	}
}

// TestActivationOnHandshake: a peer that knows our address (PEX, an old
// peer list) connects without announcing; the handshake loads the torrent.
func TestActivationOnHandshake(t *testing.T) {
	d, rows, data := coldRows(t, 1)
	mi := d.fetchTorrent(t, rows[0].FileID)
	mi.AnnounceList, mi.Announce, mi.UrlList = nil, "", nil
	cfg := testenv.LoopbackClient(t.TempDir())
	cfg.DisableWebseeds = true
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tr, err := cl.AddTorrent(mi)
	if err != nil {
		t.Fatal(err)
	}
	tr.DownloadAll()
	tr.AddPeers([]torrent.PeerInfo{{Addr: addrPort(fmt.Sprintf("127.0.0.1:%d", d.Seeder.Port())), Trusted: true}})
	select {
	case <-tr.Complete().On():
	case <-time.After(30 * time.Second):
		t.Fatalf("no download from a direct connection to a cold torrent: %d of %d bytes", tr.BytesCompleted(), tr.Length())
	}
	cl.Close()
	if got := readDownloaded(t, cfg.DataDir, mi); !bytes.Equal(got, data[0]) {
		t.Fatal("downloaded file differs")
	}
}

// TestActivationDuringUnload: announces for one torrent race with its
// unloading (a quiet time shorter than the test's pauses), and every
// download still completes.
func TestActivationDuringUnload(t *testing.T) {
	d, rows, data := coldRows(t, 1, func(c *Config) { c.Seeder.UnloadAfter = time.Second })
	mi := d.fetchTorrent(t, rows[0].FileID)
	for round := range 4 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if f := d.announce(t, rows[0].InfoHash); f != "" {
					t.Errorf("round %d: announce: %s", round, f)
				}
			})
		}
		got := download(t, mi)
		wg.Wait()
		if !bytes.Equal(got, data[0]) {
			t.Fatalf("round %d: downloaded file differs", round)
		}
		// Around the unload: the next round starts as it happens.
		time.Sleep(time.Second + time.Duration(round)*150*time.Millisecond)
	}
	if st := d.Seeder.Stats(); st.Activations < 2 || st.Unloads < 1 {
		t.Errorf("%d activations, %d unloads; want the torrent unloaded and loaded again", st.Activations, st.Unloads)
	}
}

// TestLoadedCap: twice the cap of cold rows asked for at once; the cap
// holds at every moment, the least recently used go first, and every
// announce lists the seeder.
func TestLoadedCap(t *testing.T) {
	const loadCap = 3
	d, rows, _ := coldRows(t, 2*loadCap, func(c *Config) { c.Seeder.MaxLoaded = loadCap })
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
		most int
	)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			most = max(most, d.Seeder.SeedingCount())
			time.Sleep(time.Millisecond)
		}
	}()
	for _, r := range rows {
		wg.Go(func() {
			if f := d.announce(t, r.InfoHash); f != "" {
				t.Errorf("announce for row %d: %s", r.FileID, f)
			}
		})
	}
	wg.Wait()
	close(stop)
	st := d.Seeder.Stats()
	if most > loadCap || d.Seeder.SeedingCount() != loadCap {
		t.Errorf("loaded: at most %d, now %d; cap %d", most, d.Seeder.SeedingCount(), loadCap)
	}
	if st.Activations != 2*loadCap || st.Evictions != loadCap {
		t.Errorf("%d activations, %d evictions; want %d and %d", st.Activations, st.Evictions, 2*loadCap, loadCap)
	}
	// The most recently asked for stays: announce for one loaded torrent,
	// then a new one; the other two loaded ones go before it.
	var loaded []lanseedd.Row
	for _, r := range rows {
		if d.Seeder.Seeding(metainfo.NewHashFromHex(r.InfoHash)) {
			loaded = append(loaded, r)
		}
	}
	var cold lanseedd.Row
	for _, r := range rows {
		if !d.Seeder.Seeding(metainfo.NewHashFromHex(r.InfoHash)) {
			cold = r
			break
		}
	}
	time.Sleep(10 * time.Millisecond)
	d.announce(t, loaded[0].InfoHash)
	time.Sleep(10 * time.Millisecond)
	d.announce(t, cold.InfoHash)
	if !d.Seeder.Seeding(metainfo.NewHashFromHex(loaded[0].InfoHash)) || !d.Seeder.Seeding(metainfo.NewHashFromHex(cold.InfoHash)) {
		t.Error("the recently used torrent was evicted before older ones")
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %s: not %s", d, what)
		}
	}
}

func addrPort(s string) *net.TCPAddr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// readDownloaded reads a single-file torrent's file from a client's
// directory.
func readDownloaded(t *testing.T, dir string, mi *metainfo.MetaInfo) []byte {
	t.Helper()
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, info.Name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package tracker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/tracker"
)

// startTracker serves a tracker over HTTP and UDP on loopback ports and
// returns its announce URLs.
func startTracker(tb testing.TB, cfg tracker.Config) (tr *tracker.Tracker, httpURL, udpURL string) {
	tb.Helper()
	tr, err := tracker.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	conns, err := tracker.ListenUDP(context.Background(), ln.Addr().String(), 1)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Serve(ctx, ln, conns) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return tr, "http://" + ln.Addr().String() + "/announce", "udp://" + ln.Addr().String() + "/announce"
}

func newClient(tb testing.TB, dir string, seed bool) *torrent.Client {
	tb.Helper()
	cfg := testenv.LoopbackClient(dir)
	cfg.DisableWebseeds = true
	cfg.DisableAcceptRateLimiting = true
	cfg.Seed = seed
	c, err := torrent.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// TestClientsFindEachOther has one anacrolix client download a random file
// from another; with DHT, PEX and the like off, they can only meet through
// the tracker: over HTTP (ServeTCP, and ServeHTTP under net/http as the
// daemon runs it) and over UDP.
func TestClientsFindEachOther(t *testing.T) {
	for _, proto := range []string{"http", "net/http", "udp"} {
		t.Run(proto, func(t *testing.T) {
			tr, httpURL, udpURL := startTracker(t, tracker.DefaultConfig())
			announce := httpURL
			switch proto {
			case "udp":
				announce = udpURL
			case "net/http":
				srv := httptest.NewServer(tr)
				t.Cleanup(srv.Close)
				announce = srv.URL + "/announce"
			}

			seedDir, leechDir := t.TempDir(), t.TempDir()
			data := make([]byte, 3<<20+12345)
			rand.Read(data)
			if err := os.WriteFile(filepath.Join(seedDir, "file.bin"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			info := metainfo.Info{PieceLength: 256 << 10}
			if err := info.BuildFromFilePath(filepath.Join(seedDir, "file.bin")); err != nil {
				t.Fatal(err)
			}
			mi := &metainfo.MetaInfo{Announce: announce}
			var err error
			if mi.InfoBytes, err = bencode.Marshal(info); err != nil {
				t.Fatal(err)
			}

			seeder := newClient(t, seedDir, true)
			st, err := seeder.AddTorrent(mi)
			if err != nil {
				t.Fatal(err)
			}
			st.VerifyData()

			leecher := newClient(t, leechDir, false)
			lt, err := leecher.AddTorrent(mi)
			if err != nil {
				t.Fatal(err)
			}
			lt.DownloadAll()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			select {
			case <-lt.Complete().On():
			case <-ctx.Done():
				t.Fatalf("download did not complete; tracker stats %+v", tr.Stats())
			}
			got, err := os.ReadFile(filepath.Join(leechDir, "file.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("downloaded file differs")
			}
			s := tr.Stats()
			if proto != "udp" && s.HTTPAnnounces == 0 || proto == "udp" && s.UDPAnnounces == 0 {
				t.Errorf("no %s announces counted: %+v", proto, s)
			}
		})
	}
}

package tracker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/lanseedd/lanseedd/tracker"
)

// TestAria2cFindsSeeder has aria2c download from an anacrolix seeder that
// it can only learn of through the tracker's HTTP announce. It needs
// Debian's aria2 package and is skipped without it.
func TestAria2cFindsSeeder(t *testing.T) {
	aria, err := exec.LookPath("aria2c")
	if err != nil {
		t.Skip("aria2c not installed (apt-get install aria2)")
	}
	if testing.Short() {
		t.Skip("starts aria2c")
	}
	tr, httpURL, _ := startTracker(t, tracker.DefaultConfig())

	seedDir, leechDir := t.TempDir(), t.TempDir()
	data := make([]byte, 1<<20+777)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(seedDir, "file.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := metainfo.Info{PieceLength: 64 << 10}
	if err := info.BuildFromFilePath(filepath.Join(seedDir, "file.bin")); err != nil {
		t.Fatal(err)
	}
	mi := &metainfo.MetaInfo{Announce: httpURL}
	if mi.InfoBytes, err = bencode.Marshal(info); err != nil {
		t.Fatal(err)
	}
	torrentPath := filepath.Join(leechDir, "x.torrent")
	f, err := os.Create(torrentPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := mi.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	seeder := newClient(t, seedDir, true)
	st, err := seeder.AddTorrent(mi)
	if err != nil {
		t.Fatal(err)
	}
	st.VerifyData()

	// aria2c wants a fixed port: borrow a free one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, aria,
		"--dir="+filepath.Join(leechDir, "out"), "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
		"--enable-peer-exchange=false", "--bt-enable-lpd=false", "--bt-require-crypto=false",
		"--bt-tracker-interval=1", "--listen-port="+strconv.Itoa(port), "--disable-ipv6=true", "--summary-interval=0",
		"--console-log-level=warn", "--follow-torrent=mem", torrentPath).CombinedOutput()
	if err != nil {
		t.Fatalf("aria2c: %v\n%s\ntracker stats %+v", err, out, tr.Stats())
	}
	got, err := os.ReadFile(filepath.Join(leechDir, "out", "file.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("aria2c's file differs (%v)\n%s", err, out)
	}
}

package seeder

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSeedKeepsAnnounceList: the client announces to one URL per tier, but
// the .torrent and magnet made from the same MetaInfo keep every URL.
func TestSeedKeepsAnnounceList(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(file, make([]byte, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	tier := []string{"http://127.0.0.1:1/announce", "udp://127.0.0.1:1/announce"}
	mi, err := Create(context.Background(), file, CreateOptions{Announce: [][]string{slices.Clone(tier)}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Scan(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.StateDir, cfg.PeerPort = t.TempDir(), 0
	c, err := newClient(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if _, err := c.seed(mi, l, nil); err != nil {
		t.Fatal(err)
	}
	if got := mi.UpvertedAnnounceList(); len(got) != 1 || !slices.Equal(got[0], tier) {
		t.Errorf("announce-list after seed = %q, want [%q]", got, tier)
	}
}

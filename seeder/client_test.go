package seeder

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/lanseedd/lanseedd/torrentfile"
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
	mi, err := torrentfile.Create(context.Background(), file, torrentfile.CreateOptions{Announce: [][]string{slices.Clone(tier)}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := torrentfile.Scan(file)
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

// TestUTPOnThePeerPort: with seeder.utp (the default) the peer port is
// bound on UDP as well as TCP; with it off, on TCP only.
func TestUTPOnThePeerPort(t *testing.T) {
	for _, utp := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.StateDir, cfg.PeerPort, cfg.PeerBind, cfg.UTP = t.TempDir(), 0, "127.0.0.1", utp
		c, err := newClient(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		port := c.cl.LocalPort()
		if port == 0 {
			t.Fatal("the client has no peer port")
		}
		taken := func(network string) bool {
			var err error
			if network == "udp" {
				var l net.PacketConn
				if l, err = net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
					l.Close()
				}
			} else {
				var l net.Listener
				if l, err = net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
					l.Close()
				}
			}
			return err != nil
		}
		if !taken("tcp") {
			t.Errorf("utp=%v: the peer port %d is not bound on TCP", utp, port)
		}
		if got := taken("udp"); got != utp {
			t.Errorf("utp=%v: the peer port %d bound on UDP: %v", utp, port, got)
		}
		c.close()
	}
}

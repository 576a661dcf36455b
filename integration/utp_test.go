//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/lanseedd/lanseedd/internal/netlab"
	"github.com/lanseedd/lanseedd/internal/snapshot"
)

// TestTransmissionOverUTP: Transmission 3.00 as installed dials uTP first
// and does not fall back to TCP. It downloads from lanseedd over uTP, and
// the seeder counts the connection as uTP. Without the keep-alive the seeder
// sends on the peer's first message (nudgePeer in third_party), Transmission
// never reads the have-all that came with the handshake and this test times
// out; with seeder.utp off it never connects.
func TestTransmissionOverUTP(t *testing.T) {
	ctx := context.Background()
	if err := netlab.Available(ctx); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("network namespaces are needed for Transmission: %v", err)
		}
		t.Skipf("no network namespaces: %v", err)
	}
	var transmission client
	for _, c := range clients {
		if c.name == "transmission" {
			transmission = c
		}
	}
	if _, err := toolPath(transmission); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it): %v", transmission.tool, err)
		}
		t.Skipf("%s is not installed: %v", transmission.tool, err)
	}
	lab, err := netlab.New(ctx, netlab.Config{Hosts: 2, Subnet: netipPrefix("10.79.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })

	content := t.TempDir()
	data := make([]byte, 3<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(content, "film.mkv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	snapshot.Guard(t, content)
	// The served torrent lists the web seed (runCase checks it); the HTTP
	// tracker's variant, which Transmission gets, leaves it out.
	d := startDaemon(t, daemonConfig{Content: content, Host: lab.Host(0), YAML: "http:\n  web_seed_mode: always\n"})
	ids, err := openCatalog(t, d.cfg.Catalog).AddFiles(ctx, []string{"film.mkv"})
	if err != nil {
		t.Fatal(err)
	}
	if err := runCase(t, d, transmission, pathHTTP, ids[0], data, lab.Host(1), 6900); err != nil {
		t.Fatal(err)
	}

	var stats struct {
		Seeder struct {
			TCP int64 `json:"connections_tcp"`
			UTP int64 `json:"connections_utp"`
		} `json:"seeder"`
	}
	code, body, err := d.get(d.adminURL() + "/api/stats")
	if err != nil || code != 200 {
		t.Fatalf("GET /api/stats: %d %v", code, err)
	}
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeder connections: %d uTP, %d TCP", stats.Seeder.UTP, stats.Seeder.TCP)
	if stats.Seeder.UTP == 0 {
		t.Errorf("Transmission downloaded, but over no uTP connection (%d TCP)", stats.Seeder.TCP)
	}
}

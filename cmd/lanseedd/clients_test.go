package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// TestAria2Download is the README's promise: aria2c downloads a catalog
// file from the running daemon given only the .torrent URL.
func TestAria2Download(t *testing.T) {
	aria2c := testenv.RequireTool(t, "aria2c")
	content := t.TempDir()
	name := "Фильм с пробелами 02.bin"
	data := testenv.RandomFile(t, filepath.Join(content, name), 2<<20+4321)
	snapshot.Guard(t, content)

	d := startDaemon(t, content)
	id := d.exec(t, "INSERT INTO files(path) VALUES (?)", name)
	d.waitState(t, id, lanseedd.StateReady)

	// aria2 logs at debug level how it picks pieces: longest run first,
	// from the end of the file and the same for every client, whenever
	// the torrent lists a web seed, even one that refuses; rarest first
	// otherwise. The torrent served while our seeder seeds must keep it on
	// rarest first, or clients have little to exchange (see bench/swarm).
	const inOrder = "Using LongestSequencePieceSelector"
	download := func(t *testing.T, torrent string) string {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		logFile := filepath.Join(dir, "aria2.log")
		cmd := exec.CommandContext(ctx, aria2c,
			"--dir", dir, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
			"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--follow-torrent=mem",
			"--console-log-level=warn", "--summary-interval=0", "--log-level=debug", "--log="+logFile,
			torrent)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aria2c: %v\n%s", err, out)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("aria2c left no %q: %v\n%s", name, err, out)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("aria2c's file differs from the content")
		}
		log, err := os.ReadFile(logFile)
		if err != nil || len(log) == 0 {
			t.Fatalf("aria2c wrote no debug log: %v", err)
		}
		return string(log)
	}
	t.Run("link", func(t *testing.T) {
		// The row is cold: nothing loaded until aria2's announce.
		if n := d.Seeder.SeedingCount(); n != 0 {
			t.Fatalf("%d torrents loaded before any peer asked", n)
		}
		if log := download(t, d.HTTPURL()+"/t/"+itoa(id)+".torrent"); strings.Contains(log, inOrder) {
			t.Errorf("aria2 picks pieces in a fixed order from the torrent served: %q in its log", inOrder)
		}
	})
	t.Run("stored torrent, web seed listed", func(t *testing.T) {
		// The stored torrent lists the web seed (served when it stands
		// in): the log line above appears, so its absence means something.
		if log := download(t, d.Seeder.TorrentFile(id)); !strings.Contains(log, inOrder) {
			t.Errorf("no %q in aria2's log for a torrent listing a web seed", inOrder)
		}
	})
}

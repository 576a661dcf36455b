package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	data := writeRandom(t, filepath.Join(content, name), 2<<20+4321)
	snapshot.Guard(t, content)

	d := startDaemon(t, content)
	id := d.exec(t, "INSERT INTO files(path) VALUES (?)", name)
	d.waitState(t, id, lanseedd.StateReady)

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aria2c,
		"--dir", dir, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--follow-torrent=mem",
		"--console-log-level=warn", "--summary-interval=0",
		d.HTTPURL()+"/t/"+itoa(id)+".torrent")
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
}

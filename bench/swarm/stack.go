package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// Ports of the seeds' stack in the server's namespace, beside lanseedd's.
const (
	stackTrackerPort = 6970
	stackSeederPort  = 6882
)

// stack runs the setup lanseedd replaces (seed 003's operator's, with the
// tools Debian ships): a torrent made by mktorrent with its defaults, an
// opentracker that serves only the whitelisted infohash, and aria2c seeding
// a copy of the file, all in the server's namespace. Then the clients
// download that torrent as they download lanseedd's.
func (b *bench) stack(ctx context.Context, timeout time.Duration) (scenario, error) {
	dir := filepath.Join(b.dir, "stack-server")
	seedDir := filepath.Join(dir, "seed")
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		return scenario{}, err
	}
	// opentracker drops its privileges to nobody in a chroot of dir, where
	// it reads the whitelist.
	if err := os.Chmod(dir, 0o755); err != nil {
		return scenario{}, err
	}
	// A copy: aria2c opens what it seeds for writing.
	if err := copyFile(filepath.Join(b.content, b.fileName), filepath.Join(seedDir, b.fileName)); err != nil {
		return scenario{}, err
	}
	addr := b.server().Addr.String()
	torrent := filepath.Join(dir, "stack.torrent")
	mk := b.server().Command(ctx, "mktorrent", "-a", fmt.Sprintf("http://%s:%d/announce", addr, stackTrackerPort),
		"-o", torrent, filepath.Join(seedDir, b.fileName))
	if out, err := mk.CombinedOutput(); err != nil {
		return scenario{}, fmt.Errorf("mktorrent: %w\n%s", err, out)
	}
	mi, err := metainfo.LoadFromFile(torrent)
	if err != nil {
		return scenario{}, err
	}
	ih := mi.HashInfoBytes()
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), []byte(ih.HexString()+"\n"), 0o644); err != nil {
		return scenario{}, err
	}

	port := strconv.Itoa(stackTrackerPort)
	tracker := b.server().Command(ctx, "opentracker", "-i", addr, "-p", port, "-P", port,
		"-u", "nobody", "-d", dir, "-w", "/whitelist.txt")
	logTo(tracker, filepath.Join(dir, "opentracker.log"))
	if err := tracker.Start(); err != nil {
		return scenario{}, fmt.Errorf("opentracker: %w", err)
	}
	defer func() {
		tracker.Process.Signal(syscall.SIGTERM)
		tracker.Wait()
	}()
	// The seeder starts once the tracker answers: aria2c's announce to a
	// tracker not listening yet is retried only a minute or more later.
	scrape := fmt.Sprintf("http://%s:%d/scrape?info_hash=%s", addr, stackTrackerPort, url.QueryEscape(string(ih[:])))
	for up := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := b.seeders(scrape, ih)
		if err == nil {
			break
		}
		if time.Now().After(up) {
			return scenario{}, fmt.Errorf("opentracker does not answer (%v; logs in %s)", err, dir)
		}
	}
	seeder := b.server().Command(ctx, "aria2c", append(aria2Common(seedDir),
		"--check-integrity=true", "--seed-ratio=0.0",
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=true",
		"--bt-max-peers="+strconv.Itoa(max(55, b.opts.clients+5)),
		"--listen-port="+strconv.Itoa(stackSeederPort), torrent)...)
	logTo(seeder, filepath.Join(dir, "aria2c.log"))
	if err := seeder.Start(); err != nil {
		return scenario{}, fmt.Errorf("aria2c (the stack's seeder): %w", err)
	}
	seederExited := make(chan error, 1)
	go func() { seederExited <- seeder.Wait() }()
	defer stopClient(seeder, seederExited)

	// The clients start once the tracker knows the seeder, as they would
	// on the operator's LAN.
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := b.seeders(scrape, ih)
		if err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			return scenario{}, fmt.Errorf("the stack's tracker lists no seeder after a minute (%v; logs in %s)", err, dir)
		}
		select {
		case err := <-seederExited:
			return scenario{}, fmt.Errorf("the stack's aria2c exited: %v (log: %s)", err, filepath.Join(dir, "aria2c.log"))
		case <-ctx.Done():
			return scenario{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	b.logf("stack: opentracker lists aria2c as a seeder of %s", ih.HexString())
	return b.swarm(ctx, b.clients(), "stack", false, torrent, timeout)
}

// seeders scrapes one infohash and returns its complete count.
func (b *bench) seeders(scrape string, ih metainfo.Hash) (int, error) {
	resp, err := b.hc.Get(scrape)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scrape: %s: %s", resp.Status, body)
	}
	var r struct {
		Files map[string]struct {
			Complete int `bencode:"complete"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("scrape: %w", err)
	}
	return r.Files[string(ih[:])].Complete, nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

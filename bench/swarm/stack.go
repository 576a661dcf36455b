package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

	// The clients start once the tracker knows the seeder, as they would
	// on the operator's LAN.
	scrape := fmt.Sprintf("http://%s:%d/scrape?info_hash=%s", addr, stackTrackerPort, infohashParam(ih))
	stop, err := b.stackServers(ctx, dir, seedDir, torrent, scrape, ih)
	if err != nil {
		return scenario{}, err
	}
	defer stop()
	b.logf("stack: opentracker lists aria2c as a seeder of %s", ih.HexString())
	return b.swarm(ctx, b.clients(), "stack", false, torrent, timeout)
}

// infohashParam is an infohash as a query parameter. url.QueryEscape
// writes a 0x20 byte as "+", which opentracker reads as a plus sign: the
// scrape of an infohash holding one (one in thirteen) would name another
// torrent. Clients write it %20.
func infohashParam(ih metainfo.Hash) string {
	return strings.ReplaceAll(url.QueryEscape(string(ih[:])), "+", "%20")
}

// stackSeederWait is how long the stack's seeder may take to be listed by
// the stack's tracker.
const stackSeederWait = 20 * time.Second

// stackServers starts the stack's opentracker, then its aria2c once the
// tracker answers, and waits until the tracker lists aria2c as a seeder.
// It returns the function that stops both; on an error both are already
// stopped.
func (b *bench) stackServers(ctx context.Context, dir, seedDir, torrent, scrape string, ih metainfo.Hash) (stop func(), err error) {
	port := strconv.Itoa(stackTrackerPort)
	tracker := b.server().Command(ctx, "opentracker", "-i", b.server().Addr.String(), "-p", port, "-P", port,
		"-u", "nobody", "-d", dir, "-w", "/whitelist.txt")
	logTo(tracker, filepath.Join(dir, "opentracker.log"))
	if err := tracker.Start(); err != nil {
		return nil, fmt.Errorf("opentracker: %w", err)
	}
	trackerExited := make(chan error, 1)
	go func() { trackerExited <- tracker.Wait() }()
	stopTracker := func() { stopClient(tracker, trackerExited) }

	// The seeder starts once the tracker answers: aria2c's announce to a
	// tracker not listening yet is retried only a minute or more later.
	for up := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := b.seeders(scrape, ih)
		if err == nil {
			break
		}
		if time.Now().After(up) {
			stopTracker()
			return nil, fmt.Errorf("opentracker does not answer (%v; logs in %s)", err, dir)
		}
	}

	log := filepath.Join(dir, "aria2c.log")
	seeder := b.server().Command(ctx, "aria2c", append(aria2Common(seedDir),
		"--check-integrity=true", "--seed-ratio=0.0",
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=true",
		"--bt-max-peers="+strconv.Itoa(max(55, b.opts.clients+5)),
		"--listen-port="+strconv.Itoa(stackSeederPort), torrent)...)
	logTo(seeder, log)
	if err := seeder.Start(); err != nil {
		stopTracker()
		return nil, fmt.Errorf("aria2c (the stack's seeder): %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- seeder.Wait() }()
	stop = func() {
		stopClient(seeder, exited)
		stopTracker()
	}

	deadline := time.Now().Add(stackSeederWait)
	for {
		n, err := b.seeders(scrape, ih)
		if err == nil && n > 0 {
			return stop, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("the scrape counts no seeder")
			}
			probe := b.probeTracker(scrape, ih)
			stop()
			return nil, fmt.Errorf("the stack's tracker does not list aria2c %s after it started (%v; %s; logs: %s)", stackSeederWait, err, probe, dir)
		}
		select {
		case err := <-exited:
			stopTracker()
			return nil, fmt.Errorf("the stack's aria2c exited: %v (log: %s)", err, log)
		case err := <-trackerExited:
			trackerExited <- err
			stop()
			return nil, fmt.Errorf("the stack's opentracker exited: %v (log: %s)", err, dir)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// probeTracker tells, when the stack's tracker does not list its seeder,
// whether the tracker takes announces at all: the bench announces itself
// as a seeder (port 1, which no one dials), scrapes, and announces that it
// stopped. It returns what it saw, for the error.
func (b *bench) probeTracker(scrape string, ih metainfo.Hash) string {
	announce := strings.Replace(scrape, "/scrape?", "/announce?", 1) +
		"&peer_id=-LSPROBE-00000000000&port=1&uploaded=0&downloaded=0&left=0&compact=1"
	get := func(u string) (string, error) {
		resp, err := b.hc.Get(u)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Sprintf("%s %q", resp.Status, body), err
	}
	got, err := get(announce + "&event=started")
	if err != nil {
		return fmt.Sprintf("a probe announce from the bench failed: %v", err)
	}
	n, err := b.seeders(scrape, ih)
	get(announce + "&event=stopped")
	if err != nil {
		return fmt.Sprintf("a probe announce from the bench got %s, then the scrape failed: %v", got, err)
	}
	return fmt.Sprintf("a probe announce from the bench got %s, then the scrape counted %d seeders", got, n)
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

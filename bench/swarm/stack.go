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
	// The clients start once the tracker knows the seeder, as they would
	// on the operator's LAN. Now and then opentracker forgets the torrent
	// right after aria2c's first announce (its scrape answers no such
	// torrent while aria2c got itself back as a peer), and aria2c
	// announces again only half an hour later: such a seeder is started
	// again, as an operator would restart it.
	var stop func()
	for attempt := 1; ; attempt++ {
		var err error
		stop, err = b.stackSeeder(ctx, dir, seedDir, torrent, scrape, ih, attempt)
		if err == nil {
			break
		}
		if attempt == stackSeederAttempts || ctx.Err() != nil {
			return scenario{}, err
		}
		b.logf("stack: %v; starting aria2c again", err)
	}
	defer stop()
	b.logf("stack: opentracker lists aria2c as a seeder of %s", ih.HexString())
	return b.swarm(ctx, b.clients(), "stack", false, torrent, timeout)
}

// stackSeederAttempts is how many times the stack's aria2c is started
// before the scenario gives up, stackSeederWait how long each start waits
// for the tracker to list it.
const (
	stackSeederAttempts = 3
	stackSeederWait     = 20 * time.Second
)

// stackSeeder starts the stack's aria2c and waits until the tracker lists
// it as a seeder. It returns the function that stops it; on an error the
// seeder is already stopped. Each attempt logs into its own file.
func (b *bench) stackSeeder(ctx context.Context, dir, seedDir, torrent, scrape string, ih metainfo.Hash, attempt int) (stop func(), err error) {
	log := filepath.Join(dir, "aria2c.log")
	if attempt > 1 {
		log = filepath.Join(dir, fmt.Sprintf("aria2c-%d.log", attempt))
	}
	seeder := b.server().Command(ctx, "aria2c", append(aria2Common(seedDir),
		"--check-integrity=true", "--seed-ratio=0.0",
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=true",
		"--bt-max-peers="+strconv.Itoa(max(55, b.opts.clients+5)),
		"--listen-port="+strconv.Itoa(stackSeederPort), torrent)...)
	logTo(seeder, log)
	if err := seeder.Start(); err != nil {
		return nil, fmt.Errorf("aria2c (the stack's seeder): %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- seeder.Wait() }()
	stop = func() { stopClient(seeder, exited) }

	deadline := time.Now().Add(stackSeederWait)
	for {
		n, err := b.seeders(scrape, ih)
		if err == nil && n > 0 {
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			if err == nil {
				err = errors.New("the scrape counts no seeder")
			}
			return nil, fmt.Errorf("the stack's tracker does not list aria2c %s after it started (%v; log: %s)", stackSeederWait, err, log)
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("the stack's aria2c exited: %v (log: %s)", err, log)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
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

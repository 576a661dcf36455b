package seeder

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// errStateDir marks failures to write lanseedd's own state directory (full,
// read-only, or not a directory any more). They are no fault of a row: while
// one lasts, the seeder takes no new work, since every row would be hashed
// only to fail again at the end.
var errStateDir = errors.New("the state directory cannot be written")

// The state directory is probed after stateProbeFirst, then twice as long
// each time up to stateProbeMax: a probe writes one small file, so it may
// come often enough that work resumes soon after an operator frees space.
const (
	stateProbeFirst = 5 * time.Second
	stateProbeMax   = time.Minute
	// stateProbeSize is written by a probe: more than most .torrent files
	// (2,000 pieces take 40 KB), so that a nearly full disk fails it.
	stateProbeSize = 64 << 10
)

// stateDir tracks whether the .torrent directory can be written. A failure
// starts an episode, logged once with its cause; probes with backoff end it.
type stateDir struct {
	dir     string
	log     *slog.Logger
	resumed func() // called when an episode ends

	mu    sync.Mutex
	err   error // the episode's first failure; nil while writable
	since time.Time
	delay time.Duration
	timer *time.Timer
	done  bool
	// probes counts the episode's failed probes, so that waiting rows are
	// told why once per probe, not on every wake-up.
	probes int
}

// failed records a write into the state directory that failed with err and
// returns err wrapped in errStateDir.
func (d *stateDir) failed(err error) error {
	err = fmt.Errorf("%w (%s): %w", errStateDir, d.dir, err)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil || d.done {
		return err
	}
	d.err, d.since, d.delay = err, time.Now(), stateProbeFirst
	d.probes++
	d.log.Error("cannot write .torrent files; no new torrents until the state directory is writable again",
		"path", d.dir, "err", err, "retry_in", d.delay)
	d.timer = time.AfterFunc(d.delay, d.probe)
	return err
}

// Err returns the current episode's failure, nil while the directory is
// writable.
func (d *stateDir) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// failure returns the current episode's failure and a number that changes
// with every failed probe.
func (d *stateDir) failure() (error, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err, d.probes
}

// probe tries a write; it ends the episode or tries again later.
func (d *stateDir) probe() {
	err := probeWrite(d.dir)
	d.mu.Lock()
	if d.done {
		d.mu.Unlock()
		return
	}
	if err != nil {
		d.probes++
		d.delay = min(2*d.delay, stateProbeMax)
		d.timer = time.AfterFunc(d.delay, d.probe)
		d.mu.Unlock()
		return
	}
	d.log.Info("the state directory is writable again; resuming", "path", d.dir,
		"after", time.Since(d.since).Round(time.Second))
	d.err, d.timer = nil, nil
	d.mu.Unlock()
	d.resumed()
}

// stop ends probing.
func (d *stateDir) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = true
	if d.timer != nil {
		d.timer.Stop()
	}
}

// probeWrite writes and removes a file of stateProbeSize bytes in dir.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".probe.*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, stateProbeSize))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// errStopped is what a part that returned nil before shutdown stopped with:
// every part is meant to run until Close.
var errStopped = errors.New("stopped before shutdown")

// probeTimeout bounds how long the health check waits for a part's locks.
const probeTimeout = 5 * time.Second

// parts keeps which of the daemon's parts run, so that the watchdog is fed
// only while all do and the first one to stop ends the daemon.
type parts struct {
	mu      sync.Mutex
	running map[string]bool // by name, every part started: false once it returned
	closing bool
	failed  chan error // holds the first part that stopped before Close
	probing map[string]bool
}

func (p *parts) init() {
	if p.running == nil {
		p.running = make(map[string]bool)
		p.probing = make(map[string]bool)
		p.failed = make(chan error, 1)
	}
}

func (p *parts) start(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.running[name] = true
}

// stop records that a part returned err, and returns the error it stopped
// with, naming it: nil after Close asked it to stop and it did cleanly.
func (p *parts) stop(name string, err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.running[name] = false
	if err == nil && !p.closing {
		err = errStopped
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", name, err)
	if !p.closing {
		select {
		case p.failed <- err:
		default: // another part stopped first
		}
	}
	return err
}

// close records that the parts are being stopped on purpose.
func (p *parts) close() {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
}

func (p *parts) failedChan() <-chan error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	return p.failed
}

// check fails if the daemon is stopping or a part started is no longer
// running.
func (p *parts) check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return errors.New("shutting down")
	}
	var gone []string
	for name, ok := range p.running {
		if !ok {
			gone = append(gone, name)
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		return fmt.Errorf("not running: %s", strings.Join(gone, ", "))
	}
	return nil
}

// answers reports whether f returns within timeout. A call that never
// returns is not repeated: the part stays unhealthy until it does.
func (p *parts) answers(name string, timeout time.Duration, f func()) error {
	p.mu.Lock()
	p.init()
	if p.probing[name] {
		p.mu.Unlock()
		return fmt.Errorf("%s: still no answer", name)
	}
	p.probing[name] = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer func() {
			p.mu.Lock()
			delete(p.probing, name)
			p.mu.Unlock()
			close(done)
		}()
		f()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s: no answer in %s", name, timeout)
	}
}

// Failed gets the error of the first part that stops before Close, with or
// without an error: the daemon is then incomplete and should stop.
func (m *Main) Failed() <-chan error { return m.parts.failedChan() }

// Healthy returns why the daemon is not healthy, or nil: every part
// started still runs, and the seeder's and the tracker's state answer
// within probeTimeout (a deadlock there leaves the listeners open but
// nothing served). The catalog database is not checked: lanseedd keeps
// seeding through its outages, and a restart would not bring it back.
func (m *Main) Healthy() error {
	if err := m.parts.check(); err != nil {
		return err
	}
	var errs []error
	if m.Seeder != nil {
		errs = append(errs, m.parts.answers("seeder", probeTimeout, func() { m.Seeder.SeedingCount() }))
	}
	if m.Tracker != nil {
		errs = append(errs, m.parts.answers("tracker", probeTimeout, func() { m.Tracker.Swarm([20]byte{}) }))
	}
	return errors.Join(errs...)
}

// watchdog pings systemd's watchdog at half its interval, if enabled, when
// healthy returns nil; otherwise it withholds the ping, so that systemd
// restarts a daemon that stays unhealthy, and says why once. The returned
// function stops it.
func watchdog(logger *slog.Logger, healthy func() error) func() {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return func() {}
	}
	t := time.NewTicker(interval / 2)
	done := make(chan struct{})
	go func() {
		var withheld error
		for {
			select {
			case <-t.C:
			case <-done:
				return
			}
			err := healthy()
			select {
			case <-done: // stopped meanwhile: the daemon is shutting down
				return
			default:
			}
			if err != nil {
				if withheld == nil {
					logger.Warn("not pinging the watchdog: unhealthy", "err", err, "watchdog", interval)
				}
				withheld = err
				continue
			}
			if withheld != nil {
				logger.Info("healthy again; pinging the watchdog")
				withheld = nil
			}
			notify(logger, daemon.SdNotifyWatchdog)
		}
	}()
	// Stopping does not wait for a check under way: that could take
	// probeTimeout out of the shutdown budget.
	var once sync.Once
	return func() { once.Do(func() { t.Stop(); close(done) }) }
}

// within runs f and reports whether it returned before ctx was done; if
// not, f goes on in the background, which the process's exit ends.
func within(ctx context.Context, f func()) bool {
	done := make(chan struct{})
	go func() { f(); close(done) }()
	return waitDone(ctx, done)
}

// waitDone reports whether done is closed before ctx is done. What finished
// in time counts even when ctx has run out by now.
func waitDone(ctx context.Context, done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

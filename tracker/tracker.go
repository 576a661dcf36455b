package tracker

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"time"
)

// Tracker is an open-registration BitTorrent tracker. Its HTTP and UDP
// frontends share one swarm store. It is safe for concurrent use.
type Tracker struct {
	cfg   Config
	log   *slog.Logger
	store *swarmStore

	allowed allowSet
	local   *Local

	start   time.Time
	connKey maphash.Seed // keys UDP connection ids

	interval, minInterval int // seconds
	timeout               uint16
	retryMinutes          int

	counters counters

	noBatch bool // read UDP packets one by one (for tests)
}

// Log attribute keys.
const (
	logKeyInfohash = "infohash"
	logKeyAddr     = "addr"
	logKeyErr      = "err"
)

// New returns a tracker with cfg, which must be valid.
func New(cfg Config, logger *slog.Logger) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tracker.New: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{
		cfg:          cfg,
		log:          logger,
		store:        newSwarmStore(cfg),
		start:        time.Now(),
		connKey:      maphash.MakeSeed(),
		interval:     int(cfg.AnnounceInterval / time.Second),
		minInterval:  int(cfg.MinInterval / time.Second),
		timeout:      uint16(cfg.peerTimeout() / time.Second),
		retryMinutes: int((cfg.RetryIn + time.Minute - 1) / time.Minute),
	}
	return t, nil
}

// stamp returns the current second in the swarm store's 15-bit clock.
func (t *Tracker) stamp() uint16 {
	return uint16(time.Since(t.start)/time.Second) & stampMask
}

// SetAllowed replaces the infohashes accepted in catalog-only mode. The
// tracker keeps its own copy. Swarms no longer allowed are dropped at the
// next expiry pass.
func (t *Tracker) SetAllowed(hashes [][20]byte) { t.allowed.replace(hashes) }

// Allow adds (ok) or removes one infohash of the catalog-only set.
func (t *Tracker) Allow(infohash [20]byte, ok bool) { t.allowed.set(infohash, ok) }

func (t *Tracker) isAllowed(ih *[20]byte) bool { return t.allowed.has(ih) }

// announce applies the tracker-wide rules and records op.
func (t *Tracker) announce(op *announceOp, wantV4, wantV6 bool, out4, out6 []byte) (announceResult, []byte, []byte, error) {
	// The local seeder is asked first: it loads the torrent before the
	// reply lists it. A peer leaving needs nothing loaded.
	local := t.localHas(&op.infohash, op.event != eventStopped)
	others := t.others(&op.infohash)
	if t.cfg.CatalogOnly && !local && len(others) == 0 && !t.isAllowed(&op.infohash) {
		return announceResult{}, out4, out6, errNotAllowed
	}
	if op.numWant < 0 {
		op.numWant = t.cfg.DefaultNumWant
	}
	if op.numWant > t.cfg.MaxNumWant {
		op.numWant = t.cfg.MaxNumWant
	}
	op.stamp = t.stamp()
	want := op.numWant
	if local && want > 0 {
		op.numWant = max(op.numWant-len(t.local.Addrs), 0)
	}
	for _, o := range others {
		op.numWant = max(op.numWant-len(o.Addrs), 0)
	}
	res, out4, out6, err := t.store.announce(op, wantV4, wantV6, out4, out6)
	if err != nil || (!local && len(others) == 0) {
		return res, out4, out6, err
	}
	if local {
		res.seeders++
		if op.event != eventStopped && want > 0 {
			out4, out6 = t.appendSeeder(Seeder{t.local.Addrs, t.local.PeerID}, op, wantV4, wantV6, &res, out4, out6)
		}
	}
	for _, o := range others {
		res.seeders++
		if op.event != eventStopped && want > 0 {
			out4, out6 = t.appendSeeder(o, op, wantV4, wantV6, &res, out4, out6)
		}
	}
	return res, out4, out6, nil
}

// scrape returns the counts of one swarm, the local seeder included.
func (t *Tracker) scrape(ih *[20]byte) (seeders, leechers, completed int, ok bool) {
	seeders, leechers, completed, ok = t.store.scrape(ih)
	if t.localHas(ih, false) {
		seeders++
		ok = true
	}
	if o := t.others(ih); len(o) > 0 {
		seeders += len(o)
		ok = true
	}
	return
}

// Run expires peers that stopped announcing and drops empty swarms until ctx
// is done. It returns nil then.
func (t *Tracker) Run(ctx context.Context) error {
	every := t.cfg.peerTimeout() / 4
	every = min(max(every, time.Second), 30*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	t.log.Info("tracker running",
		slog.Duration("announce_interval", t.cfg.AnnounceInterval),
		slog.Duration("peer_timeout", t.cfg.peerTimeout()),
		slog.Bool("catalog_only", t.cfg.CatalogOnly))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.expire()
		}
	}
}

func (t *Tracker) expire() {
	var allowed func(*[20]byte) bool
	if t.cfg.CatalogOnly {
		allowed = func(ih *[20]byte) bool { return t.isAllowed(ih) || t.localHas(ih, false) || len(t.others(ih)) > 0 }
	}
	start := time.Now()
	peers, swarms := t.store.expire(t.stamp(), t.timeout, allowed)
	if peers > 0 || swarms > 0 {
		t.log.Debug("expired peers",
			slog.Int("peers", peers), slog.Int("swarms", swarms),
			slog.Duration("took", time.Since(start)))
	}
}

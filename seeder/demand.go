package seeder

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// Seeding on demand. A ready row costs nothing in memory: the catalog is
// the registry (its state table is indexed by infohash), our tracker lists
// this seeder in the swarm of every ready row (Has), and the torrent is
// loaded into the client only when a peer asks for it, from its .torrent
// and a stat of its files: nothing is read of content, nothing re-hashed.
// Loaded torrents go again after Config.UnloadAfter without peers or
// announces, or when Config.MaxLoaded is reached, least recently used
// first.

// activationTimeout bounds one activation: the catalog lookup, the stat of
// the files and the load.
const activationTimeout = 5 * time.Second

// errNotReady says an infohash is no ready row's.
var errNotReady = errors.New("no ready row has this infohash")

// demand is the seeder's on-demand bookkeeping.
type demand struct {
	mu sync.Mutex
	// used is when each loaded torrent was last wanted: announced for,
	// connected to, or seen with peers.
	used map[metainfo.Hash]time.Time
	// activating holds the activations under way, so that concurrent
	// announces for one torrent wait for a single load.
	activating map[metainfo.Hash]*activation
	// ready and notReady remember catalog lookups for a while, so that
	// scrapes, expiry passes and announces for other torrents (the tracker
	// is open) do not each cost a query.
	ready, notReady hashCache
	// lately are the torrents published or loaded in the last day: what
	// loads them while the catalog is unreachable, and the keys tried on
	// obfuscated handshakes (see newClient).
	lately hashCache

	activations, failures, quiet, evicted atomic.Int64
	latency                               histogram
}

type activation struct {
	done chan struct{}
	err  error
}

func newDemand() *demand {
	return &demand{
		used:       make(map[metainfo.Hash]time.Time),
		activating: make(map[metainfo.Hash]*activation),
		ready:      hashCache{max: 1 << 16, ttl: time.Minute},
		notReady:   hashCache{max: 1 << 16, ttl: 30 * time.Second},
		lately:     hashCache{max: 1 << 16, ttl: 24 * time.Hour},
	}
}

// Has reports whether the seeder has infohash: a loaded torrent or, in
// demand mode, a ready row's. With activate, the torrent is loaded before
// Has returns true. It is the tracker's Local.Has.
func (s *Seeder) Has(infohash [20]byte, activate bool) bool {
	ih := metainfo.Hash(infohash)
	if s.closed.Load() {
		return false // a stopped seeder serves nothing
	}
	if activate && s.touch(ih) {
		return true
	}
	if s.cl.seeding(ih) {
		return true
	}
	if s.cfg.Load != LoadDemand {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), activationTimeout)
	defer cancel()
	if activate {
		return s.activate(ctx, ih) == nil
	}
	_, err := s.lookup(ctx, ih)
	return err == nil
}

// touch records that a torrent is wanted, and reports whether it is
// loaded. Under d.mu, as unloading: a torrent touched stays loaded for
// Config.UnloadAfter, so a peer told of it (or whose handshake named it)
// finds it.
func (s *Seeder) touch(ih metainfo.Hash) bool {
	d := s.demand
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.used[ih]; ok {
		d.used[ih] = time.Now()
		return true
	}
	return false
}

// lookup finds the ready row of ih in the catalog, remembering the answer
// for a while.
func (s *Seeder) lookup(ctx context.Context, ih metainfo.Hash) (lanseedd.Row, error) {
	d := s.demand
	if k, ok := d.ready.get(ih); ok {
		return k.row(ih), nil
	}
	if _, ok := d.notReady.get(ih); ok {
		return lanseedd.Row{}, errNotReady
	}
	row, err := s.cat.GetByInfoHash(ctx, ih.HexString())
	switch {
	case errors.Is(err, lanseedd.ErrNotFound):
		d.notReady.put(ih, known{})
		return row, errNotReady
	case err != nil:
		// The catalog is unreachable: what was published or loaded
		// lately is still served (its files are stat'ed at load).
		if k, ok := d.lately.get(ih); ok {
			return k.row(ih), nil
		}
		return row, err
	}
	if s.foreignOwn(ctx, row, false) {
		// Another node's row, not seeded here (yet): this node's copy
		// is checked, and the row published here once it is.
		return row, errNotReady
	}
	d.ready.put(ih, knownRow(row))
	return row, nil
}

// published tells the on-demand caches that ih became row's, ready.
func (s *Seeder) published(ih metainfo.Hash, row lanseedd.Row) {
	s.demand.notReady.forget(ih)
	s.demand.ready.put(ih, knownRow(row))
	s.demand.lately.put(ih, knownRow(row))
}

// withdrawn tells them that ih may no longer be a ready row's.
func (s *Seeder) withdrawn(ih metainfo.Hash) {
	s.demand.ready.forget(ih)
}

// activate loads the torrent of ih, once however many ask at the same time.
func (s *Seeder) activate(ctx context.Context, ih metainfo.Hash) error {
	d := s.demand
	d.mu.Lock()
	if a, ok := d.activating[ih]; ok {
		d.mu.Unlock()
		select {
		case <-a.done:
			return a.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a := &activation{done: make(chan struct{})}
	d.activating[ih] = a
	d.mu.Unlock()

	start := time.Now()
	a.err = s.load(ctx, ih)
	if a.err == nil {
		d.activations.Add(1)
		d.latency.observe(time.Since(start))
	} else if !errors.Is(a.err, errNotReady) {
		d.failures.Add(1)
		s.log.Warn("cannot load torrent for a peer", "infohash", ih.HexString(), "err", a.err)
	}
	d.mu.Lock()
	delete(d.activating, ih)
	d.mu.Unlock()
	close(a.done)
	return a.err
}

// load adds the torrent of ih's ready row to the client.
func (s *Seeder) load(ctx context.Context, ih metainfo.Hash) error {
	if s.cl.seeding(ih) {
		s.touch(ih)
		return nil
	}
	row, err := s.lookup(ctx, ih)
	if err != nil {
		return err
	}
	if row.State != lanseedd.StateReady || row.InfoHash != ih.HexString() {
		s.withdrawn(ih)
		return errNotReady
	}
	mi, l, err := s.prepare(row, false)
	if errors.Is(err, errContentChanged) {
		s.withdrawn(ih)
		if err := s.requeue(ctx, row.FileID, "file changed on disk since it was hashed; rehashing"); err != nil {
			s.log.Warn("requeue failed", "file_id", row.FileID, "err", err)
		}
		return err
	}
	if err != nil {
		return err
	}
	return s.seedRow(row, mi, l)
}

// seedRow adds row's torrent to the client and watches its files.
func (s *Seeder) seedRow(row lanseedd.Row, mi *metainfo.MetaInfo, l torrentfile.Layout) error {
	d := s.demand
	d.mu.Lock()
	defer d.mu.Unlock() // a torrent is loaded and unloaded under d.mu
	if s.cfg.Load == LoadDemand && !s.cl.seeding(mi.HashInfoBytes()) {
		// Room first, so the cap holds however many load at once.
		for s.cl.count() >= s.cfg.MaxLoaded && s.evictLocked() {
		}
	}
	ih, err := s.cl.seed(mi, l, s.extraTiers)
	if err != nil {
		return err
	}
	d.used[ih] = time.Now()
	d.lately.put(ih, knownRow(row))
	s.track(row.FileID, ih)
	s.watch.track(row.FileID, row.Path, lanseedd.StateReady, &l)
	return nil
}

// unload drops a loaded torrent from the client unless it was wanted
// since idleSince (zero: whatever its use). Its rows stay ready.
func (s *Seeder) unload(ih metainfo.Hash, idleSince time.Time) bool {
	d := s.demand
	d.mu.Lock()
	defer d.mu.Unlock()
	used, ok := d.used[ih]
	if !ok || (!idleSince.IsZero() && used.After(idleSince)) {
		return false
	}
	s.unloadLocked(ih)
	return true
}

// unloadLocked unloads ih; d.mu is held.
func (s *Seeder) unloadLocked(ih metainfo.Hash) {
	delete(s.demand.used, ih)
	for _, id := range s.untrack(ih) {
		s.watch.forget(id)
	}
	s.cl.drop(ih)
}

// evictLocked unloads the least recently used torrent, and reports whether
// there was one; d.mu is held. (A linear look: at most MaxLoaded, at a
// load, which costs more.)
func (s *Seeder) evictLocked() bool {
	d := s.demand
	var (
		lru  metainfo.Hash
		when time.Time
	)
	for ih, t := range d.used {
		if when.IsZero() || t.Before(when) {
			lru, when = ih, t
		}
	}
	if when.IsZero() {
		return false
	}
	s.unloadLocked(lru)
	d.evicted.Add(1)
	return true
}

// unloadIdle unloads, every so often, the torrents that had no peer and no
// announce for Config.UnloadAfter, until ctx is done.
func (s *Seeder) unloadIdle(ctx context.Context) {
	every := min(max(s.cfg.UnloadAfter/4, 100*time.Millisecond), 30*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	d := s.demand
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		d.mu.Lock()
		loaded := make([]metainfo.Hash, 0, len(d.used))
		for ih := range d.used {
			loaded = append(loaded, ih)
		}
		d.mu.Unlock()
		for _, ih := range loaded {
			if s.cl.peers(ih) > 0 {
				s.touch(ih)
				continue
			}
			if s.unload(ih, now.Add(-s.cfg.UnloadAfter)) {
				d.quiet.Add(1)
				s.log.Debug("unloaded idle torrent", "infohash", ih.HexString())
			}
		}
	}
}

// known is what loading a ready row needs of it besides its .torrent.
type known struct {
	fileID int64
	path   string
	fp     lanseedd.Fingerprint
}

func knownRow(r lanseedd.Row) known { return known{r.FileID, r.Path, r.Fingerprint} }

func (k known) row(ih metainfo.Hash) lanseedd.Row {
	return lanseedd.Row{FileID: k.fileID, Path: k.path, Fingerprint: k.fp, InfoHash: ih.HexString(), State: lanseedd.StateReady}
}

// hashCache is a bounded memory of infohashes, each with its row, for ttl.
// When full it forgets an arbitrary half: it saves queries, it is not a
// registry.
type hashCache struct {
	max int
	ttl time.Duration

	mu sync.Mutex
	m  map[metainfo.Hash]cached
}

type cached struct {
	known
	at time.Time
}

func (c *hashCache) get(ih metainfo.Hash) (known, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[ih]
	if !ok || time.Since(e.at) > c.ttl {
		return known{}, false
	}
	return e.known, true
}

func (c *hashCache) put(ih metainfo.Hash, k known) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[metainfo.Hash]cached)
	}
	if len(c.m) >= c.max {
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= c.max/2 {
				break
			}
		}
	}
	c.m[ih] = cached{k, time.Now()}
}

// each yields the infohashes held, until yield returns false.
func (c *hashCache) each(yield func(metainfo.Hash) bool) {
	c.mu.Lock()
	keys := make([]metainfo.Hash, 0, len(c.m))
	for k, e := range c.m {
		if time.Since(e.at) <= c.ttl {
			keys = append(keys, k)
		}
	}
	c.mu.Unlock()
	for _, k := range keys {
		if !yield(k) {
			return
		}
	}
}

func (c *hashCache) forget(ih metainfo.Hash) {
	c.mu.Lock()
	delete(c.m, ih)
	c.mu.Unlock()
}

// activationBuckets are the upper bounds, in seconds, of the activation
// latency histogram.
var activationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// histogram counts durations in activationBuckets.
type histogram struct {
	mu     sync.Mutex
	counts [13]uint64 // per bucket, the last for +Inf
	sum    float64
}

func (h *histogram) observe(d time.Duration) {
	v := d.Seconds()
	i, _ := slices.BinarySearch(activationBuckets, v)
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.mu.Unlock()
}

// snapshot returns the histogram in the lanseedd.Histogram form: cumulative
// counts per upper bound.
func (h *histogram) snapshot() lanseedd.Histogram {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := lanseedd.Histogram{Sum: h.sum, Buckets: make([]lanseedd.Bucket, len(activationBuckets))}
	var n uint64
	for i, le := range activationBuckets {
		n += h.counts[i]
		out.Buckets[i] = lanseedd.Bucket{LE: le, Count: n}
	}
	out.Count = n + h.counts[len(activationBuckets)]
	return out
}

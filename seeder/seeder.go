// Package seeder turns catalog rows into torrents and seeds them read-only:
// the .torrent directory, the BitTorrent client, its read-only storage and
// the reconcile loop between the catalog and the client. Reading content
// and making torrents of it is package torrentfile's.
package seeder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/publish"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// Catalog is what the seeder needs of lanseedd's state table.
type Catalog interface {
	// Work returns pending rows and deletion tombstones, but for those
	// of busy.
	Work(ctx context.Context, limit int, busy []int64) ([]lanseedd.Row, error)
	// Finish records a result unless the row's generation moved on.
	Finish(ctx context.Context, r lanseedd.Result) (bool, error)
	// Forget deletes a tombstone at that generation.
	Forget(ctx context.Context, fileID, generation int64) (bool, error)
	// Requeue marks a row pending again, bumping its generation.
	Requeue(ctx context.Context, fileID int64, reason string) error
	// Rows returns rows in the given states (the few: missing, error).
	Rows(ctx context.Context, states ...lanseedd.State) ([]lanseedd.Row, error)
	// Scan returns up to limit rows in the given states (any when none)
	// with file ids above after, in file id order.
	Scan(ctx context.Context, after int64, limit int, states ...lanseedd.State) ([]lanseedd.Row, error)
	// States returns the states of the rows of ids that exist.
	States(ctx context.Context, ids []int64) (map[int64]lanseedd.State, error)
	// Get returns one row.
	Get(ctx context.Context, fileID int64) (lanseedd.Row, error)
	// GetByInfoHash returns the ready row with that infohash, or an error
	// wrapping lanseedd.ErrNotFound.
	GetByInfoHash(ctx context.Context, infohash string) (lanseedd.Row, error)
	// ReadyByPaths returns the ready rows whose catalog path is one of
	// paths.
	ReadyByPaths(ctx context.Context, paths []string) ([]lanseedd.Row, error)
	// Expiring returns ready rows past their expiry, counting maxAge
	// (0: none) from their publication.
	Expiring(ctx context.Context, maxAge time.Duration) ([]lanseedd.Row, error)
	// Unexpiring returns expired rows no longer past their expiry.
	Unexpiring(ctx context.Context, maxAge time.Duration) ([]lanseedd.Row, error)
	// ChangedSince returns rows in a state changed after the row (at,
	// id), in order of change; LastChanged the time and id of the last.
	ChangedSince(ctx context.Context, state lanseedd.State, at time.Time, id int64, limit int) ([]lanseedd.Row, error)
	LastChanged(ctx context.Context, state lanseedd.State) (time.Time, int64, error)
	// RecordCopy records what this node found of its copy of a row
	// another node hashed.
	RecordCopy(ctx context.Context, c lanseedd.Copy) error
}

// Seeder keeps the BitTorrent client in step with the catalog.
type Seeder struct {
	cfg      Config
	cat      Catalog
	announce [][]string // tiers
	// extraTiers are the tiers loaded torrents announce to: the extra
	// trackers only, as ours lists this seeder by itself (Has).
	extraTiers [][]string
	// trackers are the tiers torrents are served with (Trackers), set
	// by SetTrackers; nil until then.
	trackers atomic.Pointer[[][]string]
	webSeeds WebSeeds
	// magnetSeeds, if set, are the web seeds of the stored magnets.
	magnetSeeds WebSeeds
	log         *slog.Logger
	cl          *client
	torrents    string // directory of .torrent files

	wake   chan struct{}
	hashed hashCounters
	watch  *watcher
	demand *demand
	closed atomic.Bool
	// sweepStats are the figures of the last sweep of ready rows.
	sweepStats atomic.Pointer[lanseedd.SweepStats]
	// hashing bounds the rows hashed at once (Config.Parallel); more rows
	// are in flight, waiting on the tracker or the catalog. smallLane is
	// one more slot that only files under smallFile take, so that a few
	// huge hashes cannot make small rows wait.
	hashing   chan struct{}
	smallLane chan struct{}
	// validator runs publish.validate_command; nil when none is set.
	validator *publish.Validator
	// retries spaces the attempts at rows whose failure may pass.
	retries retries
	// state says whether .torrent files can be written.
	state *stateDir

	mu       sync.Mutex
	byFile   map[int64]metainfo.Hash          // what is seeded for each row
	byHash   map[metainfo.Hash]map[int64]bool // rows that share a torrent
	inflight map[int64]bool
	// settling holds rows whose files are too fresh to publish (or changed
	// while being hashed): not worked on again before until.
	settling map[int64]settle
	// checking holds the rows other nodes hashed whose copy here is
	// being checked (copies.go), checkSlots bounds them, and checks are
	// the goroutines. readied and missing are where the last looks at
	// the rows made ready and missing ended (Run's goroutine only).
	checking   map[int64]bool
	checkSlots chan struct{}
	checks     sync.WaitGroup
	readied    cursor
	missing    cursor
	deleted    cursor
	expired    cursor
	runCtx     atomic.Pointer[context.Context]
	// nodes lists the nodes sharing the catalog (SetNodes); fetched
	// counts the bytes a mirror fetched, and noRoom is set while its
	// free-space floor stops fetches (mirror.go).
	nodes   atomic.Pointer[func() []lanseedd.Node]
	fetched atomic.Int64
	noRoom  atomic.Bool
	// othersSince is when the other nodes up came up, Unix nanoseconds
	// by the catalog's clock; 0 while none is.
	othersSince atomic.Int64
}

// WebSeeds returns the BEP 19 web seed URLs of a row's torrent.
type WebSeeds func(row lanseedd.Row) []string

// New starts the BitTorrent client. Torrents announce to announce and carry
// the web seeds webSeeds gives (which may be nil); the client seeds nothing
// until Run.
func New(cfg Config, cat Catalog, announce []string, webSeeds WebSeeds, logger *slog.Logger) (*Seeder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := torrentfile.CleanRoot(cfg.ContentRoot)
	if err != nil {
		return nil, err
	}
	cfg.ContentRoot = root
	s := &Seeder{
		cfg:        cfg,
		cat:        cat,
		announce:   announceTiers(announce, cfg.ExtraAnnounce),
		extraTiers: announceTiers(nil, cfg.ExtraAnnounce),
		demand:     newDemand(),
		webSeeds:   webSeeds,
		log:        logger,
		torrents:   filepath.Join(cfg.StateDir, "torrents"),
		wake:       make(chan struct{}, 1),
		byFile:     make(map[int64]metainfo.Hash),
		byHash:     make(map[metainfo.Hash]map[int64]bool),
		inflight:   make(map[int64]bool),
		settling:   make(map[int64]settle),
		checking:   make(map[int64]bool),
		checkSlots: make(chan struct{}, rowsInFlight*cfg.Parallel),
		hashing:    make(chan struct{}, cfg.Parallel),
	}
	s.smallLane = make(chan struct{}, 1)
	s.state = &stateDir{dir: s.torrents, log: logger, resumed: s.Wake}
	if err := os.MkdirAll(s.torrents, 0o755); err != nil {
		return nil, fmt.Errorf("seeder: %w", err)
	}
	if s.validator, err = publish.NewValidator(cfg.Publish); err != nil {
		return nil, err
	}
	s.cl, err = newClient(cfg, logger, s.badPiece, s.incoming)
	if err != nil {
		return nil, err
	}
	s.cl.lately = s.demand.lately.each
	s.watch = newWatcher(root, cfg.Debounce, logger, s.requeue)
	if cfg.Load == LoadDemand {
		s.watch.lookup = s.checkPaths
	}
	return s, nil
}

// Close stops the BitTorrent client.
func (s *Seeder) Close() {
	s.closed.Store(true)
	s.cl.close()
}

// Port returns the BitTorrent listen port.
func (s *Seeder) Port() int { return s.cl.port() }

// PeerID returns the peer id the seeder sends in its handshakes.
func (s *Seeder) PeerID() [20]byte { return s.cl.cl.PeerID() }

// ContentRoot returns the resolved content root.
func (s *Seeder) ContentRoot() string { return s.cfg.ContentRoot }

// TorrentFile returns the path of row fileID's .torrent (which exists only
// while the row is ready).
func (s *Seeder) TorrentFile(fileID int64) string {
	return filepath.Join(s.torrents, torrentName(fileID))
}

// Seeding reports whether the client seeds infohash ih.
func (s *Seeder) Seeding(ih metainfo.Hash) bool { return s.cl.seeding(ih) }

// incoming keeps loaded, or loads, the torrent a peer's handshake names,
// if it is a ready row's (demand mode).
func (s *Seeder) incoming(ih metainfo.Hash) {
	if s.cfg.Load == LoadDemand {
		s.Has(ih, true)
	}
}

// Wake tells the seeder that the catalog may have changed. It never blocks.
func (s *Seeder) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// workGap is the least time between two calls for catalog work.
const workGap = 20 * time.Millisecond

// rowsInFlight is how many rows per hashing slot may be worked on at once:
// a small file is hashed in microseconds, then its row waits for the disk
// (its .torrent) and the catalog, which must not hold up the next one.
// (Measured with 4 KiB files: 8 per slot published 1,250 rows/s, 32 about
// 2,000; the catalog commits the results that wait together.)
const rowsInFlight = 32

// Run restores what was ready before a restart, then works on catalog
// changes until ctx is done. It returns nil on cancellation.
func (s *Seeder) Run(ctx context.Context) error {
	s.runCtx.Store(&ctx)
	var watching sync.WaitGroup
	defer watching.Wait()
	watching.Go(func() { s.watch.run(ctx, s.cfg.RescanInterval) })
	// Expiries first: a torrent that expired while the daemon was down is
	// withdrawn, not restored.
	s.checkExpiry(ctx)
	if s.cfg.Load == LoadDemand {
		if err := s.restoreDemand(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("restoring state failed", "err", err)
		}
		watching.Go(func() { s.unloadIdle(ctx) })
		watching.Go(func() { s.sweepEvery(ctx) })
	} else if err := s.restore(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("restoring seeded torrents failed; they are rehashed as they come", "err", err)
	}
	defer s.retries.stop()
	defer s.state.stop()
	s.startLooks(ctx)
	// A file that came while the daemon was stopped, or that another node
	// found missing and is here, is taken at once. A mirror takes no row:
	// it removes the copies of rows gone while it was stopped.
	if s.cfg.Mirror {
		s.dropStrayMirrored(ctx)
	} else {
		s.retryMissing(ctx)
	}
	retry := time.NewTicker(s.cfg.RetryMissing)
	defer retry.Stop()
	expiry := time.NewTicker(s.cfg.Publish.CheckInterval)
	defer expiry.Stop()
	sem := make(chan struct{}, rowsInFlight*s.cfg.Parallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer s.checks.Wait()
	// The looks at the rows other nodes changed run beside the loop: a
	// look whose checks wait for a slot holds up no claim of pending rows.
	looks := make(chan struct{}, 1)
	var looker sync.WaitGroup
	looker.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-looks:
			}
			s.lookChanged(ctx)
		}
	})
	defer looker.Wait()
	s.Wake()
	told := 0 // the state directory probe whose failure rows were told of
	var lastWork time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-retry.C:
			if s.cfg.Mirror {
				s.dropStrayMirrored(ctx)
			} else {
				s.retryMissing(ctx)
			}
			continue
		case <-expiry.C:
			s.checkExpiry(ctx)
			continue
		case <-s.wake:
		}
		// A row done wakes the loop: wait a little for others, so that
		// one call claims them together (each call is a round trip and a
		// commit on the catalog).
		if wait := workGap - time.Since(lastWork); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		lastWork = time.Now()
		if err, probe := s.state.failure(); err != nil {
			// No new work while the state directory cannot be written:
			// it would be hashed only to fail; the probe wakes us.
			if probe != told {
				told = probe
				s.holdAll(ctx, cap(sem), err)
			}
			continue
		}
		select {
		case looks <- struct{}{}:
		default: // a look is due already
		}
		if s.cfg.Mirror {
			continue // a mirror hashes no pending row: its root holds copies
		}
		// As many rows as may be in flight, but for those in flight.
		rows, err := s.cat.Work(ctx, cap(sem), s.busy())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading catalog work failed", "err", err)
			}
			continue
		}
		for _, row := range rows {
			if !s.claim(row.FileID) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				s.release(row.FileID)
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				defer s.release(row.FileID)
				if err := s.process(ctx, row); err != nil && ctx.Err() == nil {
					s.failedRow(ctx, row, err)
					return
				}
				s.Wake() // look for what came meanwhile or did not fit in the batch
			}()
		}
	}
}

func (s *Seeder) claim(fileID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[fileID] || time.Now().Before(s.settling[fileID].until) {
		return false
	}
	s.inflight[fileID] = true
	return true
}

// busy returns the rows in flight.
func (s *Seeder) busy() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Keys(s.inflight))
}

func (s *Seeder) release(fileID int64) {
	s.mu.Lock()
	delete(s.inflight, fileID)
	s.mu.Unlock()
}

// process does the work one row needs, with no lock held, and records it.
func (s *Seeder) process(ctx context.Context, row lanseedd.Row) error {
	log := s.log.With("file_id", row.FileID, "path", row.Path)
	if row.State == lanseedd.StateDeleted {
		s.unseed(row.FileID, metainfo.Hash{})
		if err := os.Remove(s.TorrentFile(row.FileID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return s.state.failed(fmt.Errorf("remove .torrent: %w", err))
		}
		if _, err := s.cat.Forget(ctx, row.FileID, row.Generation); err != nil {
			return err
		}
		s.retries.reset(row.FileID)
		s.watch.forget(row.FileID)
		log.Info("dropped deleted row")
		return nil
	}

	// Past the catalog's expiry: not worth validating or hashing. (Age is
	// looked at once the torrent is known: new content is a new
	// publication.)
	if why := s.cfg.Publish.Expired(lanseedd.Row{ExpiresAt: row.ExpiresAt}, time.Now()); why != "" {
		return s.withdraw(ctx, row, why)
	}
	res := lanseedd.Result{FileID: row.FileID, Generation: row.Generation}
	l, mi, err := s.build(ctx, row)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, new(*settlingError)):
		log.Info("file is fresh or changing; waiting for it to settle", "reason", err)
		return nil
	case err != nil:
		s.unseed(row.FileID, metainfo.Hash{})
		// Nothing serves or restores the .torrent of a row that is not
		// ready, and its file is gone or changed: do not leave it behind.
		if err := os.Remove(s.TorrentFile(row.FileID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return s.state.failed(fmt.Errorf("remove .torrent: %w", err))
		}
		res.State, res.Error = lanseedd.StateError, err.Error()
		var watch *torrentfile.Layout
		transient := false
		switch {
		case errors.Is(err, torrentfile.ErrMissing):
			res.State = lanseedd.StateMissing
		case errors.Is(err, torrentfile.ErrEmpty), errors.Is(err, publish.ErrRejected), errors.Is(err, publish.ErrSize):
			// Watched like a seeded file: once it changes (gets content,
			// is fixed, grows or shrinks), it is tried again.
			watch, res.Name, res.Size, res.Fingerprint = &l, l.Name, l.Total, l.Fingerprint
		case !permanent(s.cfg.ContentRoot, row.Path):
			// Tried again with backoff, and at once when the file or its
			// directory changes (the watcher).
			transient = true
			res.Error = s.retryLater(ctx, row, err)
		}
		if !transient {
			s.retries.reset(row.FileID)
		}
		if _, err := s.cat.Finish(ctx, res); err != nil {
			return err
		}
		if res.State == lanseedd.StateError && !transient && watch == nil {
			s.watch.forget(row.FileID) // only an edit of the row helps
		} else {
			s.watch.track(row.FileID, row.Path, res.State, watch)
		}
		log.Warn("row cannot be seeded", "state", res.State, "err", res.Error)
		return nil
	}
	ih := mi.HashInfoBytes()
	if ih.HexString() == row.InfoHash {
		// The torrent it had: still published when it was first, so it
		// may be past publish.max_age already.
		if why := s.cfg.Publish.Expired(row, time.Now()); why != "" {
			return s.withdraw(ctx, row, why)
		}
	}
	if err := writeTorrent(s.TorrentFile(row.FileID), mi); err != nil {
		return s.state.failed(err)
	}
	s.unseed(row.FileID, ih)
	// Eager mode loads every torrent; demand mode only keeps a torrent
	// already loaded (the same content, rehashed after a touch). Either
	// way our tracker lists this seeder as soon as the row is ready.
	loaded := s.cl.seeding(ih)
	if s.cfg.Load == LoadEager || loaded {
		if err := s.seedRow(row, mi, l); err != nil {
			return err
		}
		loaded = true
	}
	res.State, res.InfoHash, res.Name, res.Size, res.Fingerprint = lanseedd.StateReady, ih.HexString(), l.Name, l.Total, l.Fingerprint
	res.Magnet = s.magnet(row, mi, l)
	ok, err := s.cat.Finish(ctx, res)
	if err != nil {
		return err
	}
	s.retries.reset(row.FileID)
	if loaded {
		s.watch.track(row.FileID, row.Path, lanseedd.StateReady, &l)
	} else {
		// A ready row not loaded is watched by its directory, and looked
		// at by the sweep and when it is loaded: nothing of it stays in
		// memory.
		s.watch.forget(row.FileID)
		s.watch.watchLayout(&l)
	}
	if ok {
		s.published(ih, lanseedd.Row{FileID: row.FileID, Path: row.Path, Fingerprint: l.Fingerprint})
		log.Info("torrent ready", "infohash", res.InfoHash, "size", l.Total)
	} else {
		log.Debug("row changed while hashing; redone")
	}
	return nil
}

// build resolves, scans and hashes a row's path.
func (s *Seeder) build(ctx context.Context, row lanseedd.Row) (torrentfile.Layout, *metainfo.MetaInfo, error) {
	abs, err := torrentfile.Resolve(s.cfg.ContentRoot, row.Path)
	if err != nil {
		return torrentfile.Layout{}, nil, err
	}
	l, err := torrentfile.ScanBeneath(s.cfg.ContentRoot, abs)
	if errors.Is(err, torrentfile.ErrChanged) {
		return torrentfile.Layout{}, nil, s.unsettled(row.FileID, lanseedd.Fingerprint{})
	}
	if err != nil {
		return torrentfile.Layout{}, nil, torrentfile.Classify(err)
	}
	if err := s.settled(row.FileID, l.Fingerprint); err != nil {
		return torrentfile.Layout{}, nil, err
	}
	if l.Total == 0 {
		return l, nil, fmt.Errorf("%w: %s", torrentfile.ErrEmpty, abs)
	}
	if err := s.cfg.Publish.CheckSize(l.Total); err != nil {
		return l, nil, err
	}
	if s.validator != nil {
		// Before hashing, which costs more, and outside the hashing slots,
		// so that a validator that hangs holds up no hashing.
		if err := s.validator.Check(ctx, l.Abs, row.FileID, row.Path); err != nil {
			return l, nil, err
		}
	}
	release, err := s.hashSlot(ctx, l.Total)
	if err != nil {
		return torrentfile.Layout{}, nil, err
	}
	start := time.Now()
	info, err := torrentfile.Info(ctx, l, s.cfg.PieceLength, s.cfg.HashWorkers)
	s.hashed.add(l.Total, time.Since(start))
	release()
	if errors.Is(err, torrentfile.ErrChanged) {
		// A file was swapped between the scan and its open (for a link,
		// a FIFO or another file): nothing of it was read; look again
		// once it has settled.
		return torrentfile.Layout{}, nil, s.unsettled(row.FileID, l.Fingerprint)
	}
	if err != nil {
		return torrentfile.Layout{}, nil, torrentfile.Classify(err)
	}
	after, err := torrentfile.ScanBeneath(s.cfg.ContentRoot, abs)
	if err != nil || after.Fingerprint != l.Fingerprint || len(after.Files) != len(l.Files) {
		return torrentfile.Layout{}, nil, s.unsettled(row.FileID, after.Fingerprint)
	}
	ib, err := torrentfile.InfoBytes(info)
	if err != nil {
		return torrentfile.Layout{}, nil, err
	}
	return l, MetaInfo(ib, s.announce, s.webSeedsOf(row)), nil
}

// SetMagnetWebSeeds sets the web seeds the stored magnet of a row lists,
// when they differ from its .torrent's (the daemon's own web seed stands in
// only while the seeder does not seed). Set it before Run.
func (s *Seeder) SetMagnetWebSeeds(f WebSeeds) { s.magnetSeeds = f }

// magnet is the magnet link recorded for a row seeded as mi.
func (s *Seeder) magnet(row lanseedd.Row, mi *metainfo.MetaInfo, l torrentfile.Layout) string {
	if s.magnetSeeds != nil {
		c := *mi
		c.UrlList = s.magnetSeeds(row)
		mi = &c
	}
	return torrentfile.Magnet(mi, l.Name, l.Total)
}

func (s *Seeder) webSeedsOf(row lanseedd.Row) []string {
	if s.webSeeds == nil {
		return nil
	}
	return s.webSeeds(row)
}

// track records that row fileID is seeded as ih.
func (s *Seeder) track(fileID int64, ih metainfo.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byFile[fileID] = ih
	if s.byHash[ih] == nil {
		s.byHash[ih] = make(map[int64]bool)
	}
	s.byHash[ih][fileID] = true
}

// unseed forgets what row fileID seeded, unless it is keep, and drops the
// torrent from the client when no other row shares it.
func (s *Seeder) unseed(fileID int64, keep metainfo.Hash) {
	s.mu.Lock()
	old, ok := s.byFile[fileID]
	if !ok || old == keep {
		s.mu.Unlock()
		return
	}
	delete(s.byFile, fileID)
	delete(s.byHash[old], fileID)
	unused := len(s.byHash[old]) == 0
	if unused {
		delete(s.byHash, old)
	}
	s.mu.Unlock()
	s.withdrawn(old)
	if unused {
		d := s.demand
		d.mu.Lock()
		delete(d.used, old)
		s.cl.drop(old)
		d.mu.Unlock()
	}
}

// untrack forgets the rows seeded as ih and returns their ids.
func (s *Seeder) untrack(ih metainfo.Hash) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for id := range s.byHash[ih] {
		ids = append(ids, id)
		delete(s.byFile, id)
	}
	delete(s.byHash, ih)
	return ids
}

// sweepEvery sweeps the ready rows at start, then every
// Config.RescanInterval (if not 0).
func (s *Seeder) sweepEvery(ctx context.Context) {
	s.sweep(ctx, true)
	if s.cfg.RescanInterval == 0 {
		return
	}
	tick := time.NewTicker(s.cfg.RescanInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.sweep(ctx, false)
		}
	}
}

// badPiece is called by the storage when content under a seeded torrent
// changed: a piece no longer matches its hash, or (piece -1) a file's stat
// data changed. The rows seeding that torrent go back to pending.
func (s *Seeder) badPiece(ih metainfo.Hash, piece int) {
	s.mu.Lock()
	var ids []int64
	for id := range s.byHash[ih] {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	reason := "file changed on disk while seeded; rehashing"
	if piece >= 0 {
		reason = fmt.Sprintf("piece %d no longer matches the file on disk; rehashing", piece)
	}
	for _, id := range ids {
		s.log.Warn("seeded content changed on disk", "file_id", id, "infohash", ih.HexString(), "piece", piece)
		if err := s.requeue(context.Background(), id, reason); err != nil {
			s.log.Warn("requeue failed", "file_id", id, "err", err)
		}
	}
}

// retryMissing requeues missing rows whose path now resolves.
func (s *Seeder) retryMissing(ctx context.Context) {
	rows, err := s.cat.Rows(ctx, lanseedd.StateMissing)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reading missing rows failed", "err", err)
		}
		return
	}
	for _, r := range rows {
		if _, err := torrentfile.Resolve(s.cfg.ContentRoot, r.Path); err == nil {
			if err := s.cat.Requeue(ctx, r.FileID, ""); err != nil {
				s.log.Warn("requeue failed", "file_id", r.FileID, "err", err)
			}
		}
	}
	if len(rows) > 0 {
		s.Wake()
	}
}

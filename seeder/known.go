package seeder

import (
	"slices"

	"github.com/anacrolix/torrent/metainfo"
)

// Seeded reports the infohash row fileID is seeded as, from the seeder's
// own state: the public listener serves a seeded row's .torrent from it
// while the catalog is unreachable.
func (s *Seeder) Seeded(fileID int64) ([20]byte, bool) {
	s.mu.Lock()
	ih, ok := s.byFile[fileID]
	s.mu.Unlock()
	if ok || s.cfg.Load != LoadDemand {
		return ih, ok
	}
	// Not loaded: a ready row's .torrent is in the state directory (and
	// only a ready row's).
	mi, err := metainfo.LoadFromFile(s.TorrentFile(fileID))
	if err != nil {
		return ih, false
	}
	return mi.HashInfoBytes(), true
}

// OnDemand reports whether torrents are loaded on demand, so that every
// ready row is seeded, loaded or not.
func (s *Seeder) OnDemand() bool { return s.cfg.Load == LoadDemand && !s.closed.Load() }

// SeededRow reports a row seeded as infohash ih (the lowest id, when rows
// share a torrent), from the seeder's own state.
func (s *Seeder) SeededRow(ih [20]byte) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		id    int64
		found bool
	)
	for fid := range s.byHash[ih] {
		if !found || fid < id {
			id, found = fid, true
		}
	}
	if !found && s.cfg.Load == LoadDemand {
		// Not loaded: published or loaded lately, perhaps.
		if k, ok := s.demand.lately.get(ih); ok {
			return k.fileID, true
		}
	}
	return id, found
}

// SetTrackers sets the trackers of the nodes sharing the catalog, one tier
// per node in the order clients are to try them (BEP 12: a client uses
// the first tier that answers, so they all meet on one tracker while it is
// up). The extra trackers follow. The .torrent files stay as written, with
// this node's tracker: the public listener serves them with Trackers.
func (s *Seeder) SetTrackers(nodes [][]string) {
	tiers := make([][]string, 0, len(nodes)+len(s.extraTiers))
	for _, t := range nodes {
		if len(t) > 0 {
			tiers = append(tiers, slices.Clone(t))
		}
	}
	tiers = append(tiers, s.extraTiers...)
	s.trackers.Store(&tiers)
}

// Trackers are the announce tiers torrents are served with: those of
// SetTrackers, else the tiers the .torrent files are written with.
func (s *Seeder) Trackers() [][]string {
	if t := s.trackers.Load(); t != nil && len(*t) > 0 {
		return *t
	}
	return s.announce
}

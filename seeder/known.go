package seeder

import "github.com/anacrolix/torrent/metainfo"

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

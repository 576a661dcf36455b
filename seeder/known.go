package seeder

// Seeded reports the infohash row fileID is seeded as, from the seeder's
// own state: the public listener serves a seeded row's .torrent from it
// while the catalog is unreachable.
func (s *Seeder) Seeded(fileID int64) ([20]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ih, ok := s.byFile[fileID]
	return ih, ok
}

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
	return id, found
}

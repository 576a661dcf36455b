package tracker

import "sync"

// allowSet is the catalog-only mode's set of accepted infohashes. It is
// sharded so that the daemon can add and remove single infohashes as rows
// become ready or go away, without copying the set and without allocating
// on the announce path.
type allowSet struct {
	shards [64]struct {
		sync.RWMutex
		m map[[20]byte]struct{}
	}
}

func (a *allowSet) shard(ih *[20]byte) *struct {
	sync.RWMutex
	m map[[20]byte]struct{}
} {
	return &a.shards[ih[0]&63]
}

func (a *allowSet) has(ih *[20]byte) bool {
	s := a.shard(ih)
	s.RLock()
	_, ok := s.m[*ih]
	s.RUnlock()
	return ok
}

func (a *allowSet) set(ih [20]byte, ok bool) {
	s := a.shard(&ih)
	s.Lock()
	if ok {
		if s.m == nil {
			s.m = make(map[[20]byte]struct{})
		}
		s.m[ih] = struct{}{}
	} else {
		delete(s.m, ih)
	}
	s.Unlock()
}

// replace makes the set exactly hashes.
func (a *allowSet) replace(hashes [][20]byte) {
	var next [64]map[[20]byte]struct{}
	for _, h := range hashes {
		i := h[0] & 63
		if next[i] == nil {
			next[i] = make(map[[20]byte]struct{})
		}
		next[i][h] = struct{}{}
	}
	for i := range a.shards {
		s := &a.shards[i]
		s.Lock()
		s.m = next[i]
		s.Unlock()
	}
}

package seeder

import (
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
)

// hashCounters count hashing work for the status page and metrics.
type hashCounters struct {
	bytes atomic.Int64
	nanos atomic.Int64
}

func (h *hashCounters) add(bytes int64, d time.Duration) {
	h.bytes.Add(bytes)
	h.nanos.Add(int64(d))
}

// Stats returns the client's totals.
func (s *Seeder) Stats() lanseedd.SeederStats {
	st := lanseedd.SeederStats{
		HashedBytes: s.hashed.bytes.Load(),
		HashSeconds: time.Duration(s.hashed.nanos.Load()).Seconds(),
	}
	st.UploadRate, st.DownloadRate = s.Rates()
	st.ConnectionsTCP, st.ConnectionsUTP = s.cl.tcp.Load(), s.cl.utp.Load()
	d := s.demand
	st.Load, st.MaxLoaded = string(s.cfg.Load), s.cfg.MaxLoaded
	st.Activations, st.ActivationFailures = d.activations.Load(), d.failures.Load()
	st.Unloads, st.Evictions = d.quiet.Load(), d.evicted.Load()
	st.ActivationSeconds = d.latency.snapshot()
	st.Sweep = s.lastSweep()
	st.MirrorFetchedBytes, st.MirrorNoRoom = s.fetched.Load(), s.noRoom.Load()
	if err := s.state.Err(); err != nil {
		st.StateDirError = err.Error()
	}
	for _, t := range s.cl.cl.Torrents() {
		ts := t.Stats()
		st.Torrents++
		st.Peers += ts.ActivePeers
		st.UploadedBytes += ts.BytesWrittenData.Int64()
	}
	return st
}

// TorrentStats returns one seeded torrent's figures.
func (s *Seeder) TorrentStats(infohash [20]byte) (lanseedd.TorrentStats, bool) {
	t, ok := s.cl.cl.Torrent(metainfo.Hash(infohash))
	if !ok || s.closed.Load() {
		return lanseedd.TorrentStats{}, false
	}
	ts := t.Stats()
	return lanseedd.TorrentStats{Peers: ts.ActivePeers, UploadedBytes: ts.BytesWrittenData.Int64()}, true
}

package seeder

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/torrentfile"
	"golang.org/x/time/rate"
)

// client is the BitTorrent client that seeds ready rows, read-only.
type client struct {
	cl       *torrent.Client
	st       *roStorage
	log      *slog.Logger
	up, down *rate.Limiter
	// lately yields infohashes not loaded that peers may still ask for;
	// set before the client accepts connections.
	lately func(yield func(metainfo.Hash) bool)

	mu       sync.Mutex
	torrents map[metainfo.Hash]*torrent.Torrent
	// added counts how often each infohash was added (see seed).
	added    map[metainfo.Hash]int
	maxConns int
	// tcp and utp count the connections whose handshake completed, by
	// transport.
	tcp, utp atomic.Int64
}

// newClient starts the client. changed is the storage's hook (see
// roStorage.notify); incoming is called, before the client looks the
// torrent up, with the infohash every peer's handshake names.
func newClient(cfg Config, logger *slog.Logger, changed func(metainfo.Hash, int), incoming func(metainfo.Hash)) (*client, error) {
	st := newROStorage(cfg.OpenFiles, changed)
	cc := torrent.NewDefaultClientConfig()
	// The client's own files live in the state directory, never in content.
	cc.DataDir = filepath.Join(cfg.StateDir, "client")
	if err := os.MkdirAll(cc.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("seeder: %w", err)
	}
	cc.DefaultStorage = st
	cc.Seed = true
	cc.ListenPort = cfg.PeerPort
	if cfg.PeerBind != "" {
		// anacrolix listens on tcp4 and tcp6 with the same host: one
		// address family only can take a given address.
		addr, err := netip.ParseAddr(cfg.PeerBind)
		if err != nil {
			return nil, fmt.Errorf("seeder.peer_bind: %w", err)
		}
		addr = addr.Unmap()
		host := addr.String()
		cc.ListenHost = func(string) string { return host }
		cc.DisableIPv6 = addr.Is4()
		cc.DisableIPv4 = addr.Is6()
	}
	// A LAN server: no DHT, no port forwarding, no web torrent; peers come
	// from our tracker (and PEX between them).
	// Connections are accepted with no torrent loaded, or a peer could
	// never reach a torrent not loaded yet (see CompletedHandshake below);
	// the per-torrent bounds still apply once it is.
	cc.AlwaysWantConns = true
	cc.NoDHT = true
	cc.NoDefaultPortForwarding = true
	cc.DisableWebtorrent = true
	cc.DisableWebseeds = true
	// uTP unless configured off: Transmission 3.00 dials uTP first and, to
	// a server without it, never falls back to TCP. Its uTP needed a change
	// in the library too (nudgePeer in third_party/anacrolix-torrent).
	cc.DisableUTP = !cfg.UTP
	cc.SuperSeed = cfg.SuperSeed
	// anacrolix sizes each torrent's connection map for twice this: with
	// 100 it is 6 KB per torrent, 600 MB for 100,000 torrents that mostly
	// have no peer. Each torrent gets the real bound once added.
	cc.EstablishedConnsPerTorrent = min(2, cfg.MaxConnsPerTorrent)
	cc.TotalHalfOpenConns = cfg.MaxHalfOpenConns
	cc.HalfOpenConnsPerTorrent = min(cc.HalfOpenConnsPerTorrent, cfg.MaxHalfOpenConns)
	// Limiters of our own (not the library's shared unlimited one), so that
	// SetRates can change them while running. The burst is what one peer
	// request may take; it must not be 0, or the client, which reads an
	// empty download bucket as "no new connections", refuses every peer.
	up := rate.NewLimiter(rateLimit(cfg.UploadRate), cc.MaxAllocPeerRequestDataPerConn)
	down := rate.NewLimiter(rateLimit(cfg.DownloadRate), cc.MaxAllocPeerRequestDataPerConn)
	cc.UploadRateLimiter, cc.DownloadRateLimiter = up, down
	// Accept both plain and obfuscated peers, and prefer plain when dialling:
	// on a LAN encryption only costs CPU.
	cc.HeaderObfuscationPolicy.Preferred = false
	cc.HeaderObfuscationPolicy.RequirePreferred = false
	cc.Slogger = logger.With("component", "bittorrent")
	c := &client{st: st, log: logger, up: up, down: down,
		torrents: make(map[metainfo.Hash]*torrent.Torrent),
		added:    make(map[metainfo.Hash]int),
		maxConns: cfg.MaxConnsPerTorrent,
	}
	// A peer that knows us from PEX or an old peer list connects without
	// announcing: the handshake names the torrent, which is loaded before
	// the client looks for it (anacrolix calls this without its lock, on
	// the connection's own goroutine). Obfuscated handshakes are matched
	// against loaded torrents only, before this point.
	cc.Callbacks.CompletedHandshake = func(pc *torrent.PeerConn, ih torrent.InfoHash) {
		if strings.Contains(pc.Network, "udp") {
			c.utp.Add(1)
		} else {
			c.tcp.Add(1)
		}
		if incoming != nil {
			incoming(ih)
		}
	}
	// An obfuscated handshake is matched against the infohashes the
	// receiver tries: the loaded torrents, then those known lately
	// (published or loaded in the last day), which covers the peers that
	// have us in a peer list. Others connect in the clear or announce.
	cc.Callbacks.ReceiveEncryptedHandshakeSkeys = func(f func([]byte) bool) {
		c.mu.Lock()
		loaded := make([]metainfo.Hash, 0, len(c.torrents))
		for ih := range c.torrents {
			loaded = append(loaded, ih)
		}
		c.mu.Unlock()
		for _, ih := range loaded {
			if !f(ih[:]) {
				return
			}
		}
		if c.lately != nil {
			c.lately(func(ih metainfo.Hash) bool { return f(ih[:]) })
		}
	}
	cl, err := torrent.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("seeder: start BitTorrent client on port %d: %w", cfg.PeerPort, err)
	}
	c.cl = cl
	return c, nil
}

// seed adds a torrent whose data is the layout's files, all pieces complete.
// It announces to trackers only (not to the torrent's own announce list:
// our tracker lists this seeder without it).
func (c *client) seed(mi *metainfo.MetaInfo, l torrentfile.Layout, trackers [][]string) (metainfo.Hash, error) {
	ih := mi.HashInfoBytes()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.torrents[ih]; ok {
		return ih, nil
	}
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return ih, fmt.Errorf("seed %s: %w", ih.HexString(), err)
	}
	// One announce per tier, to its first URL, as BEP 12 has a client use
	// one URL of a tier. The slices are cut from copies: spec.Trackers was
	// mi's own announce-list, which the .torrent served and the magnet
	// made from mi keep whole.
	spec.Trackers = make([][]string, len(trackers))
	for i, tier := range trackers {
		spec.Trackers[i] = slices.Clone(tier[:min(len(tier), 1)])
	}
	// anacrolix keeps each infohash's announce state per tracker for the
	// client's lifetime: a torrent dropped (its file went missing) and added
	// again announces nothing until an interval after its "stopped"
	// announce, which took it out of the swarm, so no peer would find it
	// for minutes. A torrent added again announces to its trackers' URLs
	// with a query parameter that trackers ignore, which anacrolix sees as
	// new trackers. The .torrent served to clients is unchanged.
	if len(spec.Trackers) > 0 {
		if n := c.added[ih]; n > 0 {
			spec.Trackers = reannounceURLs(spec.Trackers, n)
		}
		c.added[ih]++
	}
	c.st.register(ih, l.Files)
	t, _, err := c.cl.AddTorrentSpec(spec)
	if err != nil {
		c.st.unregister(ih)
		return ih, fmt.Errorf("seed %s: %w", ih.HexString(), err)
	}
	t.SetMaxEstablishedConns(c.maxConns)
	c.torrents[ih] = t
	return ih, nil
}

// drop stops seeding a torrent.
func (c *client) drop(ih metainfo.Hash) {
	c.mu.Lock()
	t, ok := c.torrents[ih]
	delete(c.torrents, ih)
	c.mu.Unlock()
	if ok {
		t.Drop()
		c.st.unregister(ih)
	}
}

// seeding reports whether the client seeds ih.
func (c *client) seeding(ih metainfo.Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.torrents[ih]
	return ok
}

// peers is how many peers are connected for ih.
func (c *client) peers(ih metainfo.Hash) int {
	c.mu.Lock()
	t, ok := c.torrents[ih]
	c.mu.Unlock()
	if !ok {
		return 0
	}
	return len(t.PeerConns())
}

// count is how many torrents the client seeds.
func (c *client) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.torrents)
}

// port is the BitTorrent listen port.
func (c *client) port() int { return c.cl.LocalPort() }

func (c *client) close() {
	c.cl.Close()
	c.st.fds.closeAll()
}

// ContentRead returns the bytes of content read since start: hashed, served
// to peers, and re-read to check pieces of changed files. A restart that
// finds every file unchanged reads none.
func (s *Seeder) ContentRead() int64 {
	return s.hashed.bytes.Load() + s.cl.st.served.Load() + s.cl.st.verified.Load()
}

// reannounceURLs returns the tiers with readd=n added to every URL's query.
func reannounceURLs(tiers [][]string, n int) [][]string {
	out := make([][]string, len(tiers))
	for i, tier := range tiers {
		for _, a := range tier {
			if u, err := url.Parse(a); err == nil {
				q := u.Query()
				q.Set("readd", strconv.Itoa(n))
				u.RawQuery = q.Encode()
				a = u.String()
			}
			out[i] = append(out[i], a)
		}
	}
	return out
}

// rateLimit turns bytes per second, 0 meaning none, into a limit.
func rateLimit(bytesPerSecond int64) rate.Limit {
	if bytesPerSecond <= 0 {
		return rate.Inf
	}
	return rate.Limit(bytesPerSecond)
}

// SetRates changes the upload and download limits, in bytes per second (0:
// none), while seeding.
func (s *Seeder) SetRates(upload, download int64) {
	s.cl.up.SetLimit(rateLimit(upload))
	s.cl.down.SetLimit(rateLimit(download))
}

// Rates returns the upload and download limits in bytes per second, 0 for
// none.
func (s *Seeder) Rates() (upload, download int64) {
	get := func(l *rate.Limiter) int64 {
		if l.Limit() == rate.Inf {
			return 0
		}
		return int64(l.Limit())
	}
	return get(s.cl.up), get(s.cl.down)
}

// SeedingCount returns how many torrents the client seeds.
func (s *Seeder) SeedingCount() int { return s.cl.count() }

package tracker

import (
	"fmt"
	"net/netip"
	"time"
)

// Config holds the tracker's tunables. The zero value is not usable; start
// from DefaultConfig.
type Config struct {
	// AnnounceInterval is the interval a client is told to wait between
	// regular announces. The LAN default is far shorter than the 30 minutes
	// usual on the internet, so that new peers are found quickly.
	AnnounceInterval time.Duration `yaml:"announce_interval"`

	// MinInterval is the "min interval" sent to clients: they must not
	// re-announce more often than this.
	MinInterval time.Duration `yaml:"min_interval"`

	// PeerTimeout is how long a peer stays in a swarm without announcing.
	// Zero means twice AnnounceInterval.
	PeerTimeout time.Duration `yaml:"peer_timeout"`

	// DefaultNumWant is the number of peers returned when the client does
	// not say how many it wants.
	DefaultNumWant int `yaml:"default_numwant"`

	// MaxNumWant caps the number of peers returned in one reply.
	MaxNumWant int `yaml:"max_numwant"`

	// MaxSwarms bounds the number of swarms (infohashes) held. Announces that
	// would create a swarm beyond it are refused; existing swarms keep working.
	MaxSwarms int `yaml:"max_swarms"`

	// MaxPeersPerSwarm bounds the peers stored in one swarm. A new peer in a
	// full swarm still gets peers back but is not stored.
	MaxPeersPerSwarm int `yaml:"max_peers_per_swarm"`

	// MaxPeers bounds the peers stored in all swarms together, and with it
	// the memory the tracker can be made to use.
	MaxPeers int `yaml:"max_peers"`

	// MaxScrapeHashes bounds the infohashes accepted in one HTTP scrape.
	MaxScrapeHashes int `yaml:"max_scrape_hashes"`

	// AllowIPParam makes the tracker honour the announce's ip= parameter
	// (and the UDP announce's IP field). Off by default, since it lets a
	// client register someone else's address.
	AllowIPParam bool `yaml:"allow_ip_param"`

	// TrustedProxies are the networks whose X-Forwarded-For header is
	// believed. Requests from other addresses are taken at their source.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`

	// CatalogOnly makes the tracker accept only infohashes given to
	// SetAllowed instead of any infohash.
	CatalogOnly bool `yaml:"catalog_only"`

	// RetryIn is sent as BEP 31 "retry in" with failures that a later
	// announce may not meet (a swarm limit, an infohash not yet allowed).
	RetryIn time.Duration `yaml:"retry_in"`

	// IdleTimeout closes an HTTP tracker connection that sends no request
	// for this long (as the public listener's http.idle_timeout): clients
	// announce every few minutes and open a new connection each time.
	IdleTimeout time.Duration `yaml:"idle_timeout"`

	// UDPReaders is the number of goroutines ServeUDP reads a socket with.
	// Zero means one per usable CPU.
	UDPReaders int `yaml:"udp_readers"`
}

// DefaultConfig returns the defaults for a LAN tracker. The limits bound the
// tracker's memory to a few hundred megabytes under any announce flood.
func DefaultConfig() Config {
	return Config{
		AnnounceInterval: 2 * time.Minute,
		MinInterval:      30 * time.Second,
		DefaultNumWant:   50,
		MaxNumWant:       200,
		MaxSwarms:        1_000_000,
		MaxPeersPerSwarm: 50_000,
		MaxPeers:         10_000_000,
		MaxScrapeHashes:  100,
		RetryIn:          5 * time.Minute,
		IdleTimeout:      time.Minute,
	}
}

// maxPeerTimeout keeps peer ages within the 15-bit second stamps of the
// swarm store (about 9 hours) with room to spare.
const maxPeerTimeout = 4 * time.Hour

// maxNumWantLimit keeps a UDP reply of IPv6 peers well inside one datagram.
const maxNumWantLimit = 2000

// Validate reports the first invalid field, named as in the config file.
func (c Config) Validate() error {
	switch {
	case c.AnnounceInterval < time.Second:
		return fmt.Errorf("tracker.announce_interval: must be >= 1s, got %v", c.AnnounceInterval)
	case c.AnnounceInterval > 2*time.Hour:
		return fmt.Errorf("tracker.announce_interval: must be <= 2h, got %v", c.AnnounceInterval)
	case c.MinInterval < time.Second:
		return fmt.Errorf("tracker.min_interval: must be >= 1s, got %v", c.MinInterval)
	case c.MinInterval > c.AnnounceInterval:
		return fmt.Errorf("tracker.min_interval: must be <= announce_interval (%v), got %v", c.AnnounceInterval, c.MinInterval)
	case c.PeerTimeout < 0 || (c.PeerTimeout > 0 && c.PeerTimeout < c.AnnounceInterval):
		return fmt.Errorf("tracker.peer_timeout: must be 0 or >= announce_interval (%v), got %v", c.AnnounceInterval, c.PeerTimeout)
	case c.peerTimeout() > maxPeerTimeout:
		return fmt.Errorf("tracker.peer_timeout: must be <= %v, got %v", maxPeerTimeout, c.peerTimeout())
	case c.MaxNumWant < 1 || c.MaxNumWant > maxNumWantLimit:
		return fmt.Errorf("tracker.max_numwant: must be in [1, %d], got %d", maxNumWantLimit, c.MaxNumWant)
	case c.DefaultNumWant < 0 || c.DefaultNumWant > c.MaxNumWant:
		return fmt.Errorf("tracker.default_numwant: must be in [0, max_numwant (%d)], got %d", c.MaxNumWant, c.DefaultNumWant)
	case c.MaxSwarms < 1:
		return fmt.Errorf("tracker.max_swarms: must be >= 1, got %d", c.MaxSwarms)
	case c.MaxPeersPerSwarm < 1:
		return fmt.Errorf("tracker.max_peers_per_swarm: must be >= 1, got %d", c.MaxPeersPerSwarm)
	case c.MaxPeers < 1:
		return fmt.Errorf("tracker.max_peers: must be >= 1, got %d", c.MaxPeers)
	case c.MaxScrapeHashes < 1:
		return fmt.Errorf("tracker.max_scrape_hashes: must be >= 1, got %d", c.MaxScrapeHashes)
	case c.RetryIn < 0:
		return fmt.Errorf("tracker.retry_in: must be >= 0, got %v", c.RetryIn)
	case c.IdleTimeout <= 0 || c.IdleTimeout > time.Hour:
		return fmt.Errorf("tracker.idle_timeout: must be more than 0 and at most 1h, got %v", c.IdleTimeout)
	case c.UDPReaders < 0:
		return fmt.Errorf("tracker.udp_readers: must be >= 0, got %d", c.UDPReaders)
	}
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			return fmt.Errorf("tracker.trusted_proxies[%d]: invalid prefix %v", i, p)
		}
	}
	return nil
}

func (c Config) peerTimeout() time.Duration {
	if c.PeerTimeout == 0 {
		return 2 * c.AnnounceInterval
	}
	return c.PeerTimeout
}

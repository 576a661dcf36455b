package tracker

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; empty for valid
	}{
		{"default", func(*Config) {}, ""},
		{"zero interval", func(c *Config) { c.AnnounceInterval = 0 }, "tracker.announce_interval: must be >= 1s, got 0s"},
		{"huge interval", func(c *Config) { c.AnnounceInterval = 3 * time.Hour }, "tracker.announce_interval: must be <= 2h"},
		{"min above interval", func(c *Config) { c.MinInterval = 3 * time.Minute }, "tracker.min_interval: must be <= announce_interval"},
		{"zero min interval", func(c *Config) { c.MinInterval = 0 }, "tracker.min_interval"},
		{"short timeout", func(c *Config) { c.PeerTimeout = time.Minute }, "tracker.peer_timeout"},
		{"long timeout", func(c *Config) { c.PeerTimeout = 5 * time.Hour }, "tracker.peer_timeout: must be <= 4h"},
		{"numwant above max", func(c *Config) { c.DefaultNumWant = 300 }, "tracker.default_numwant"},
		{"max numwant zero", func(c *Config) { c.MaxNumWant = 0 }, "tracker.max_numwant"},
		{"max numwant huge", func(c *Config) { c.MaxNumWant = 1 << 20 }, "tracker.max_numwant"},
		{"no swarms", func(c *Config) { c.MaxSwarms = 0 }, "tracker.max_swarms: must be >= 1, got 0"},
		{"no peers per swarm", func(c *Config) { c.MaxPeersPerSwarm = 0 }, "tracker.max_peers_per_swarm"},
		{"no peers", func(c *Config) { c.MaxPeers = -1 }, "tracker.max_peers"},
		{"no scrape", func(c *Config) { c.MaxScrapeHashes = 0 }, "tracker.max_scrape_hashes"},
		{"negative retry", func(c *Config) { c.RetryIn = -time.Second }, "tracker.retry_in"},
		{"negative readers", func(c *Config) { c.UDPReaders = -1 }, "tracker.udp_readers"},
		{"no idle timeout", func(c *Config) { c.IdleTimeout = 0 }, "tracker.idle_timeout"},
		{"bad proxy", func(c *Config) { c.TrustedProxies = []netip.Prefix{{}} }, "tracker.trusted_proxies[0]"},
		{"good proxy", func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			if _, nerr := New(c, nil); (nerr == nil) != (err == nil) {
				t.Fatalf("New error %v disagrees with Validate %v", nerr, err)
			}
		})
	}
}

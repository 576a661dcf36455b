package seeder

import (
	"fmt"
	"time"
)

// Config holds the seeder's settings.
type Config struct {
	// ContentRoot is the directory catalog paths are relative to.
	ContentRoot string `yaml:"content_root"`
	// StateDir holds the .torrent files and the client's own state.
	StateDir string `yaml:"state_dir"`
	// PeerPort is the BitTorrent listen port (TCP); 0 picks a free one.
	PeerPort int `yaml:"peer_port"`
	// HashWorkers is how many goroutines hash; 0 means one per core.
	HashWorkers int `yaml:"hash_workers"`
	// Parallel is how many rows are worked on at once.
	Parallel int `yaml:"parallel"`
	// RetryMissing is how often rows whose file was missing are looked at again.
	RetryMissing time.Duration `yaml:"retry_missing"`
	// MaxConnsPerTorrent bounds established peer connections per torrent.
	MaxConnsPerTorrent int `yaml:"max_conns_per_torrent"`
}

// DefaultConfig returns the seeder's defaults.
func DefaultConfig() Config {
	return Config{
		ContentRoot:        "content",
		StateDir:           "lanseedd-data",
		PeerPort:           6881,
		Parallel:           2,
		RetryMissing:       30 * time.Second,
		MaxConnsPerTorrent: 100,
	}
}

// Validate reports the first invalid field, naming its key.
func (c Config) Validate() error {
	switch {
	case c.ContentRoot == "":
		return fmt.Errorf("seeder.content_root: must not be empty")
	case c.StateDir == "":
		return fmt.Errorf("seeder.state_dir: must not be empty")
	case c.PeerPort < 0 || c.PeerPort > 65535:
		return fmt.Errorf("seeder.peer_port: must be 0..65535, got %d", c.PeerPort)
	case c.HashWorkers < 0:
		return fmt.Errorf("seeder.hash_workers: must be >= 0, got %d", c.HashWorkers)
	case c.Parallel < 1:
		return fmt.Errorf("seeder.parallel: must be >= 1, got %d", c.Parallel)
	case c.RetryMissing < time.Second:
		return fmt.Errorf("seeder.retry_missing: must be >= 1s, got %s", c.RetryMissing)
	case c.MaxConnsPerTorrent < 1:
		return fmt.Errorf("seeder.max_conns_per_torrent: must be >= 1, got %d", c.MaxConnsPerTorrent)
	}
	return nil
}

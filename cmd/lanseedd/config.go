package main

import (
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/lanseedd/lanseedd/seeder"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/tracker"
)

// Config is the whole daemon's configuration, one part per package.
type Config struct {
	Catalog store.Config
	Seeder  seeder.Config
	Tracker tracker.Config
	// HTTPAddr serves the .torrent links.
	HTTPAddr string
	// TrackerAddr serves the tracker, HTTP and UDP on the same port.
	TrackerAddr string
	// PublicURL is how LAN clients reach this host.
	PublicURL string
	LogLevel  slog.Level
}

// DefaultConfig returns the daemon's defaults.
func DefaultConfig() Config {
	return Config{
		Catalog:     store.DefaultConfig(),
		Seeder:      seeder.DefaultConfig(),
		Tracker:     tracker.DefaultConfig(),
		HTTPAddr:    ":8080",
		TrackerAddr: ":6969",
	}
}

// catalogFlags registers the flags that name the catalog, shared by every
// subcommand that opens it. The returned function fills in the default DSN
// once the state directory is known.
func catalogFlags(fs *flag.FlagSet, cfg *Config) func() {
	fs.StringVar(&cfg.Catalog.DSN, "catalog", "", "catalog database: sqlite:PATH (default sqlite:<state>/catalog.db)")
	fs.StringVar(&cfg.Catalog.Table, "catalog-table", cfg.Catalog.Table, "catalog table")
	fs.StringVar(&cfg.Catalog.IDColumn, "catalog-id", cfg.Catalog.IDColumn, "catalog id column")
	fs.StringVar(&cfg.Catalog.PathColumn, "catalog-path", cfg.Catalog.PathColumn, "catalog path column")
	fs.StringVar(&cfg.Seeder.StateDir, "state", cfg.Seeder.StateDir, "directory for lanseedd's own files")
	return func() {
		if cfg.Catalog.DSN == "" {
			cfg.Catalog.DSN = "sqlite:" + filepath.Join(cfg.Seeder.StateDir, "catalog.db")
		}
	}
}

// Validate checks every part, naming the key of the first bad value.
func (c Config) Validate() error {
	if err := c.Catalog.Validate(); err != nil {
		return err
	}
	if err := c.Seeder.Validate(); err != nil {
		return err
	}
	if err := c.Tracker.Validate(); err != nil {
		return err
	}
	if c.HTTPAddr == "" {
		return fmt.Errorf("http.listen: must not be empty")
	}
	if c.TrackerAddr == "" {
		return fmt.Errorf("tracker.listen: must not be empty")
	}
	return nil
}

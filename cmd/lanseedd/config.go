package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"

	"github.com/lanseedd/lanseedd/seeder"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/tracker"
	"github.com/lanseedd/lanseedd/web"
)

// Config is the whole daemon's configuration, one part per package.
type Config struct {
	Catalog store.Config
	Seeder  seeder.Config
	Tracker tracker.Config
	Web     web.Config
	// HTTPAddr serves the .torrent links, the feed and the web seeds.
	HTTPAddr string
	// AdminAddr serves the status page, the JSON API and metrics.
	AdminAddr string
	// WebSeeds are extra base URLs that serve the content root as it is
	// (e.g. the catalog site's nginx); torrents list them after our own.
	WebSeeds []string
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
		Web:         web.Config{FeedItems: 50},
		HTTPAddr:    ":8080",
		AdminAddr:   "127.0.0.1:8081",
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
	if err := c.Web.Validate(); err != nil {
		return err
	}
	for _, ws := range c.WebSeeds {
		if u, err := url.Parse(ws); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("http.web_seeds: want http(s)://HOST/PATH, got %q", ws)
		}
	}
	if c.HTTPAddr == "" {
		return fmt.Errorf("http.listen: must not be empty")
	}
	if c.TrackerAddr == "" {
		return fmt.Errorf("tracker.listen: must not be empty")
	}
	return nil
}

package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/lanseedd/lanseedd/publish"
	"github.com/lanseedd/lanseedd/seeder"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/tracker"
	"github.com/lanseedd/lanseedd/web"
)

// Config is the whole daemon's configuration, one part per package, as the
// config file spells it.
type Config struct {
	Node    NodeConfig     `yaml:"node"`
	Catalog CatalogConfig  `yaml:"catalog"`
	Seeder  seeder.Config  `yaml:"seeder"`
	Publish publish.Config `yaml:"publish"`
	Tracker TrackerConfig  `yaml:"tracker"`
	HTTP    HTTPConfig     `yaml:"http"`
	Admin   AdminConfig    `yaml:"admin"`
	Log     LogConfig      `yaml:"log"`

	// File is the config file the values were read from, if any.
	File string `yaml:"-"`
}

// storeConfig is the catalog's part as the store takes it: with the
// expiry column, which is configured among the publishing policies.
func (c Config) storeConfig() store.Config {
	sc := c.Catalog.Config
	sc.ExpiresColumn = c.Publish.ExpiresColumn
	return sc
}

// seederConfig is the seeder's part with the publishing policies.
func (c Config) seederConfig() seeder.Config {
	sc := c.Seeder
	sc.Publish = c.Publish
	sc.Node = c.Node.Name
	sc.Mirror, sc.MirrorMinFree = c.Node.Mirror, c.Node.MirrorMinFree
	return sc
}

// CatalogConfig is the catalog's part; the DSN may come from a file so that
// the password stays out of the config and the environment.
type CatalogConfig struct {
	store.Config `yaml:",inline"`
	DSNFile      string `yaml:"dsn_file"`
}

// NodeConfig names this daemon among those sharing the catalog (nodes):
// each has its own content root, tracker and seeder, and the torrents
// served list the trackers of every node up.
type NodeConfig struct {
	// Name identifies the node in lanseedd_nodes; the host name by
	// default. Two daemons on one catalog need two names.
	Name string `yaml:"name"`
	// Heartbeat is how often the node records that it is up; a node
	// whose last heartbeat is older than Timeout is down, and its tracker
	// leaves the torrents served.
	Heartbeat time.Duration `yaml:"heartbeat"`
	Timeout   time.Duration `yaml:"timeout"`
	// Mirror makes the node a mirror: its content root is a mirror root,
	// filled from the swarm with every ready row the other nodes seed,
	// and the only place lanseedd writes. Fetches stop while the mirror
	// root's free space would go below MirrorMinFree bytes.
	Mirror        bool  `yaml:"mirror"`
	MirrorMinFree int64 `yaml:"mirror_min_free"`
}

// Validate checks the node's part.
func (c NodeConfig) Validate() error {
	if c.Name == "" || len(c.Name) > 255 || strings.ContainsFunc(c.Name, unicode.IsSpace) {
		return fmt.Errorf("node.name: want a name of up to 255 characters without spaces, got %q", c.Name)
	}
	if c.Heartbeat < time.Second {
		return fmt.Errorf("node.heartbeat: want at least 1s, got %s", c.Heartbeat)
	}
	if c.MirrorMinFree < 0 {
		return fmt.Errorf("node.mirror_min_free: want bytes >= 0, got %d", c.MirrorMinFree)
	}
	if c.Timeout < 2*c.Heartbeat {
		return fmt.Errorf("node.timeout: want at least twice node.heartbeat (%s), got %s", 2*c.Heartbeat, c.Timeout)
	}
	return nil
}

// hostName is the default node name.
func hostName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "lanseedd"
}

// TrackerConfig is the tracker's part and its listener.
type TrackerConfig struct {
	tracker.Config `yaml:",inline"`
	// Listen serves the tracker, HTTP and UDP on the same port.
	Listen string `yaml:"listen"`
}

// HTTPConfig is the public listener's part.
type HTTPConfig struct {
	web.Config `yaml:",inline"`
	// Listen serves the .torrent links, the feed and the web seeds.
	Listen string `yaml:"listen"`
	// PublicURL is how LAN clients reach this host.
	PublicURL string `yaml:"public_url"`
	// WebSeeds are extra base URLs that serve the content root as it is
	// (e.g. the catalog site's nginx); torrents list them after our own.
	WebSeeds []string `yaml:"web_seeds"`
}

// AdminConfig is the admin listener's part.
type AdminConfig struct {
	web.AdminConfig `yaml:",inline"`
	// Listen serves the status page, the JSON API and metrics.
	Listen string `yaml:"listen"`
}

// LogConfig says how to log.
type LogConfig struct {
	Level  LogLevel `yaml:"level"`
	Format string   `yaml:"format"` // text or json
}

// LogLevel is a slog level spelt as in the config file: debug, info, warn
// or error.
type LogLevel slog.Level

// Level is the slog level.
func (l LogLevel) Level() slog.Level { return slog.Level(l) }

// MarshalText writes the level in lower case, as the config file has it.
func (l LogLevel) MarshalText() ([]byte, error) {
	return []byte(strings.ToLower(slog.Level(l).String())), nil
}

// UnmarshalText reads a level in any case.
func (l *LogLevel) UnmarshalText(b []byte) error {
	var v slog.Level
	if err := v.UnmarshalText(b); err != nil {
		return err
	}
	*l = LogLevel(v)
	return nil
}

// DefaultConfig returns the daemon's defaults.
func DefaultConfig() Config {
	return Config{
		Node:    NodeConfig{Name: hostName(), Heartbeat: 10 * time.Second, Timeout: 45 * time.Second, MirrorMinFree: 1 << 30},
		Catalog: CatalogConfig{Config: store.DefaultConfig()},
		Seeder:  seeder.DefaultConfig(),
		Publish: publish.DefaultConfig(),
		Tracker: TrackerConfig{Config: tracker.DefaultConfig(), Listen: ":6969"},
		HTTP:    HTTPConfig{Config: web.DefaultConfig(), Listen: ":8080"},
		Admin:   AdminConfig{Listen: "127.0.0.1:8081"},
		Log:     LogConfig{Format: "text"},
	}
}

// validateCatalog checks what the commands that open the catalog without
// running the daemon (files, migrate, nodes, status, verify) depend on:
// the catalog's settings, and that neither an embedded SQLite catalog nor
// the state directory is inside the content root, which lanseedd never
// writes to.
func (c Config) validateCatalog() error {
	if err := c.Catalog.Validate(); err != nil {
		return err
	}
	if err := c.Seeder.CheckApart(); err != nil {
		return err
	}
	return c.checkCatalogFile()
}

// checkCatalogFile refuses an embedded SQLite catalog inside the content
// root: SQLite writes the file and its journal beside it.
func (c Config) checkCatalogFile() error {
	if path, ok := store.SQLiteFile(c.Catalog.DSN); ok {
		return c.Seeder.CheckOutside("catalog.dsn", path)
	}
	return nil
}

// Validate checks every part, naming the key of the first bad value.
func (c Config) Validate() error {
	if err := c.Node.Validate(); err != nil {
		return err
	}
	if err := c.Catalog.Validate(); err != nil {
		return err
	}
	if err := c.Seeder.Validate(); err != nil {
		return err
	}
	if err := c.checkCatalogFile(); err != nil {
		return err
	}
	if err := c.Publish.Validate(); err != nil {
		return err
	}
	if err := c.Tracker.Validate(); err != nil {
		return err
	}
	if err := c.HTTP.Validate(); err != nil {
		return err
	}
	if err := c.Admin.Validate(); err != nil {
		return err
	}
	for i, ws := range c.HTTP.WebSeeds {
		if u, err := url.Parse(ws); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("http.web_seeds[%d]: want http(s)://HOST/PATH, got %q", i, ws)
		}
	}
	if c.HTTP.PublicURL != "" {
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("http.public_url: want http://HOST[:PORT][/PATH], got %q", c.HTTP.PublicURL)
		}
	}
	for _, l := range []struct{ key, val string }{
		{"http.listen", c.HTTP.Listen}, {"tracker.listen", c.Tracker.Listen}, {"admin.listen", c.Admin.Listen},
	} {
		if l.val == "" || !strings.Contains(l.val, ":") {
			return fmt.Errorf("%s: want HOST:PORT or :PORT, got %q", l.key, l.val)
		}
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("log.format: want text or json, got %q", c.Log.Format)
	}
	return nil
}

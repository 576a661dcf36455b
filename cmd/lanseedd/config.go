package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/lanseedd/lanseedd/seeder"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/tracker"
	"github.com/lanseedd/lanseedd/web"
	"go.yaml.in/yaml/v3"
)

// DefaultConfigFile is read when no -config flag or LANSEEDD_CONFIG names
// another file, if it exists.
const DefaultConfigFile = "/etc/lanseedd/lanseedd.yml"

// Config is the whole daemon's configuration, one part per package, as the
// config file spells it.
type Config struct {
	Catalog CatalogConfig `yaml:"catalog"`
	Seeder  seeder.Config `yaml:"seeder"`
	Tracker TrackerConfig `yaml:"tracker"`
	HTTP    HTTPConfig    `yaml:"http"`
	Admin   AdminConfig   `yaml:"admin"`
	Log     LogConfig     `yaml:"log"`

	// File is the config file the values were read from, if any.
	File string `yaml:"-"`
}

// CatalogConfig is the catalog's part; the DSN may come from a file so that
// the password stays out of the config and the environment.
type CatalogConfig struct {
	store.Config `yaml:",inline"`
	DSNFile      string `yaml:"dsn_file"`
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
	// Listen serves the status page, the JSON API and metrics.
	Listen string `yaml:"listen"`
}

// LogConfig says how to log.
type LogConfig struct {
	Level  slog.Level `yaml:"level"`
	Format string     `yaml:"format"` // text or json
}

// DefaultConfig returns the daemon's defaults.
func DefaultConfig() Config {
	return Config{
		Catalog: CatalogConfig{Config: store.DefaultConfig()},
		Seeder:  seeder.DefaultConfig(),
		Tracker: TrackerConfig{Config: tracker.DefaultConfig(), Listen: ":6969"},
		HTTP:    HTTPConfig{Config: web.Config{FeedItems: 50, WebSeedMode: web.WebSeedStandIn}, Listen: ":8080"},
		Admin:   AdminConfig{Listen: "127.0.0.1:8081"},
		Log:     LogConfig{Format: "text"},
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
	if err := c.HTTP.Validate(); err != nil {
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

// Redacted returns the config as YAML with the DSN's password hidden.
func (c Config) Redacted() string {
	c.Catalog.DSN = store.RedactDSN(c.Catalog.DSN)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.Encode(c)
	return buf.String()
}

// commonFlags are the flags of every subcommand that opens the catalog.
func commonFlags(fs *flag.FlagSet, cfg *Config) {
	fs.String("config", "", "config file (default "+DefaultConfigFile+" if it exists)")
	fs.StringVar(&cfg.Catalog.DSN, "catalog", cfg.Catalog.DSN,
		"catalog database: sqlite:PATH, postgres://…, mysql://… or USER:PASS@tcp(HOST:PORT)/DB (default sqlite:<state>/catalog.db)")
	fs.StringVar(&cfg.Catalog.DSNFile, "catalog-dsn-file", cfg.Catalog.DSNFile, "file holding the catalog DSN (keeps the password out of the config)")
	fs.StringVar(&cfg.Catalog.Table, "catalog-table", cfg.Catalog.Table, "catalog table")
	fs.StringVar(&cfg.Catalog.IDColumn, "catalog-id", cfg.Catalog.IDColumn, "catalog id column")
	fs.StringVar(&cfg.Catalog.PathColumn, "catalog-path", cfg.Catalog.PathColumn, "catalog path column")
	fs.StringVar(&cfg.Seeder.StateDir, "state", cfg.Seeder.StateDir, "directory for lanseedd's own files")
	fs.StringVar(&cfg.Seeder.ContentRoot, "content", cfg.Seeder.ContentRoot, "content root; catalog paths are relative to it")
	fs.TextVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "log level: debug, info, warn, error")
	fs.StringVar(&cfg.Log.Format, "log-format", cfg.Log.Format, "log format: text or json")
}

// daemonFlags are the flags of `lanseedd run` beyond the common ones.
func daemonFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.HTTP.Listen, "http", cfg.HTTP.Listen, "public listener: .torrent links, feed, web seeds")
	fs.StringVar(&cfg.Tracker.Listen, "tracker", cfg.Tracker.Listen, "tracker listener (HTTP and UDP)")
	fs.StringVar(&cfg.Admin.Listen, "admin", cfg.Admin.Listen, "admin listener: status page, JSON API, metrics (keep it on loopback or a trusted network)")
	fs.Var(&configList{p: &cfg.HTTP.WebSeeds}, "webseed", "extra web seed base URL serving the content root (repeatable; comma-separated in the environment)")
	fs.StringVar(&cfg.HTTP.WebSeedMode, "webseed-mode", cfg.HTTP.WebSeedMode,
		"lanseedd's own web seed: standin (listed and served only while the seeder does not seed the torrent), always, or off")
	fs.StringVar(&cfg.HTTP.PublicURL, "public-url", cfg.HTTP.PublicURL, "how LAN clients reach this host, e.g. http://fileserver.lan (default: from the host name)")
	fs.IntVar(&cfg.Seeder.PeerPort, "peer-port", cfg.Seeder.PeerPort, "BitTorrent listen port")
	fs.Int64Var(&cfg.Seeder.UploadRate, "upload-rate", cfg.Seeder.UploadRate, "seeder upload limit in bytes per second (0: none)")
}

// configList is a repeatable string flag; its first use replaces the list
// from the config file, later ones add to it.
type configList struct {
	p   *[]string
	set bool
}

func (l *configList) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *configList) Set(s string) error {
	if !l.set {
		*l.p, l.set = nil, true
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.p = append(*l.p, v)
		}
	}
	return nil
}

// envName is the environment variable that sets flag name.
func envName(name string) string {
	return "LANSEEDD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parseConfig builds a subcommand's configuration: defaults, then the config
// file, then LANSEEDD_* environment variables, then flags, each overriding
// the one before. register adds the subcommand's own flags. The flag set is
// returned for its arguments.
func parseConfig(name string, args []string, stderr io.Writer, register func(*flag.FlagSet, *Config)) (Config, *flag.FlagSet, error) {
	newFlags := func(cfg *Config) *flag.FlagSet {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		commonFlags(fs, cfg)
		if register != nil {
			register(fs, cfg)
		}
		return fs
	}
	// First pass: the flags' syntax, and where the config file is.
	scratch := DefaultConfig()
	fs := newFlags(&scratch)
	if err := fs.Parse(args); err != nil {
		return scratch, fs, err
	}
	file, required := fs.Lookup("config").Value.String(), true
	if file == "" {
		file = os.Getenv(envName("config"))
	}
	if file == "" {
		file, required = DefaultConfigFile, false
	}

	cfg := DefaultConfig()
	if err := loadFile(&cfg, file, required); err != nil {
		return cfg, fs, err
	}
	fs = newFlags(&cfg)
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && f.Name != "config" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return cfg, fs, envErr
	}
	if err := fs.Parse(args); err != nil {
		return cfg, fs, err
	}
	if cfg.Catalog.DSN == "" && cfg.Catalog.DSNFile != "" {
		b, err := os.ReadFile(cfg.Catalog.DSNFile)
		if err != nil {
			return cfg, fs, fmt.Errorf("catalog.dsn_file: %w", err)
		}
		cfg.Catalog.DSN = strings.TrimSpace(string(b))
	}
	if cfg.Catalog.DSN == "" {
		cfg.Catalog.DSN = "sqlite:" + filepath.Join(cfg.Seeder.StateDir, "catalog.db")
	}
	return cfg, fs, nil
}

// loadFile reads a YAML config file over cfg. Unknown keys are errors, so a
// misspelt key is never silently ignored.
func loadFile(cfg *Config, path string, required bool) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	cfg.File = path
	return nil
}

// catalogFlags registers the common flags on fs and returns a function that
// fills in the default DSN once flags are parsed. Subcommands that need the
// config file and environment as well use parseConfig.
func catalogFlags(fs *flag.FlagSet, cfg *Config) func() {
	commonFlags(fs, cfg)
	return func() {
		if cfg.Catalog.DSN == "" {
			cfg.Catalog.DSN = "sqlite:" + filepath.Join(cfg.Seeder.StateDir, "catalog.db")
		}
	}
}

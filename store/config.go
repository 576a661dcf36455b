package store

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config says which catalog to open and how to watch it.
type Config struct {
	// DSN names the catalog database: "sqlite:PATH",
	// "postgres://USER:PASS@HOST:PORT/DB", "mysql://USER:PASS@HOST:PORT/DB"
	// or the go-sql-driver form "USER:PASS@tcp(HOST:PORT)/DB".
	DSN string `yaml:"dsn"`
	// Table, IDColumn and PathColumn name the catalog table and its columns.
	Table      string `yaml:"table"`
	IDColumn   string `yaml:"id_column"`
	PathColumn string `yaml:"path_column"`
	// PollInterval is how often a MySQL or SQLite catalog is polled for
	// changes (PostgreSQL notifies).
	PollInterval time.Duration `yaml:"poll_interval"`
	// ResyncInterval is how often the whole catalog is compared with
	// lanseedd's state table, to catch what row triggers cannot see.
	ResyncInterval time.Duration `yaml:"resync_interval"`
	// ClaimLease is how long a row claimed for work stays this daemon's
	// without renewal, so that several daemons on one catalog never work on
	// the same row at once and the rows of one that died are taken over.
	ClaimLease time.Duration `yaml:"claim_lease"`
	// ExpiresColumn is the catalog table's optional expiry column, which
	// the triggers copy into lanseedd's state table. It is configured as
	// publish.expires_column, so it has no key of its own here.
	ExpiresColumn string `yaml:"-"`
	// Node is the name of the node this daemon is among those sharing the
	// catalog (node.name): the rows it makes ready are recorded as its,
	// and the rows of other nodes are read with what it found of its own
	// copy. "" for commands that are no node.
	Node string `yaml:"-"`
}

// DefaultConfig returns the defaults: a catalog table files(id, path),
// polled every 200ms, fully compared every 5 minutes, claims held 2 minutes.
func DefaultConfig() Config {
	return Config{
		Table:          "files",
		IDColumn:       "id",
		PathColumn:     "path",
		PollInterval:   200 * time.Millisecond,
		ResyncInterval: 5 * time.Minute,
		ClaimLease:     2 * time.Minute,
	}
}

// Validate reports the first invalid field, naming its key.
func (c Config) Validate() error {
	if c.DSN == "" {
		return fmt.Errorf("catalog.dsn: must not be empty")
	}
	if _, _, err := parseDSN(c.DSN); err != nil {
		return fmt.Errorf("catalog.dsn: %w", err)
	}
	for _, f := range []struct{ key, val string }{
		{"catalog.table", c.Table},
		{"catalog.id_column", c.IDColumn},
		{"catalog.path_column", c.PathColumn},
		{"publish.expires_column", c.ExpiresColumn},
	} {
		if f.key == "publish.expires_column" && f.val == "" {
			continue // optional
		}
		if f.val == "" {
			return fmt.Errorf("%s: must not be empty", f.key)
		}
		if strings.ContainsRune(f.val, 0) {
			return fmt.Errorf("%s: must not contain a NUL byte, got %q", f.key, f.val)
		}
	}
	if c.PollInterval < 10*time.Millisecond || c.PollInterval > time.Minute {
		return fmt.Errorf("catalog.poll_interval: must be between 10ms and 1m, got %s", c.PollInterval)
	}
	if c.ResyncInterval < time.Second {
		return fmt.Errorf("catalog.resync_interval: must be >= 1s, got %s", c.ResyncInterval)
	}
	if c.ClaimLease < time.Second {
		return fmt.Errorf("catalog.claim_lease: must be >= 1s, got %s", c.ClaimLease)
	}
	return nil
}

// LogValue keeps the DSN's password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("dsn", RedactDSN(c.DSN)),
		slog.String("table", c.Table),
		slog.String("id_column", c.IDColumn),
		slog.String("path_column", c.PathColumn),
		slog.String("expires_column", c.ExpiresColumn),
		slog.Duration("poll_interval", c.PollInterval),
		slog.Duration("resync_interval", c.ResyncInterval),
		slog.Duration("claim_lease", c.ClaimLease),
	)
}

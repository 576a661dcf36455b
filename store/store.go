// Package store is the catalog database: lanseedd's state table and the
// triggers on the catalog table, their migrations, and change watching.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lanseedd/lanseedd/migrations"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is an open catalog database.
type Store struct {
	cfg   Config
	d     dialect
	t     target
	db    *sql.DB
	names migrations.Names
	log   *slog.Logger
	path  string // SQLite file
	// opened identifies the SQLite file opened, to notice its replacement.
	opened  fileIdentity
	created bool
	// owner names this process in the claims it takes on rows.
	owner string
	// deadReleased: the claims of this host's dead daemons were released.
	deadReleased atomic.Bool
	// down is set while the watcher cannot reach the database, so that an
	// outage is logged once.
	down        atomic.Bool
	outageSince atomic.Int64 // unix nanoseconds
	resyncs     resyncStats
	// writes serializes this process's statements that write to a SQLite
	// catalog: SQLite has one writer at a time, and a connection that
	// finds the lock taken sleeps in its busy handler (milliseconds),
	// which bounded publishing at a few hundred rows a second.
	writes sync.Mutex
	// finishes groups the results recorded at the same time (SQLite).
	finishes finishGroup
}

// ErrNoCatalog is returned by OpenExisting when the SQLite catalog file does
// not exist.
var ErrNoCatalog = errors.New("catalog does not exist")

// Open connects to the catalog named by cfg.DSN. An SQLite catalog that does
// not exist yet, or a file with no tables at all (made by the sqlite3 shell,
// say), is set up with an empty catalog table (id, path). The catalog table
// of a PostgreSQL or MySQL catalog belongs to the site and is never created.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	return open(ctx, cfg, logger, true)
}

// OpenExisting is Open for commands that only read: an SQLite catalog that
// does not exist is ErrNoCatalog, and no file or directory is created.
func OpenExisting(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	return open(ctx, cfg, logger, false)
}

func open(ctx context.Context, cfg Config, logger *slog.Logger, create bool) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, err := parseTarget(cfg.DSN)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, t: t, log: logger, owner: newOwner()}
	switch t.dialect {
	case "sqlite":
		s.d = sqliteDialect
		s.path = t.path
		err = s.openSQLite(ctx, create)
	case "postgres":
		s.d = postgresDialect
		err = s.openServer(ctx, stdlib.OpenDB(*t.pg.Copy()))
	case "mysql":
		s.d = mysqlDialect
		quietMySQLDriver()
		connector, cerr := mysql.NewConnector(t.my)
		if cerr != nil {
			return nil, s.connectError(cerr)
		}
		err = s.openServer(ctx, sql.OpenDB(connector))
	}
	if err != nil {
		return nil, err
	}
	s.names = migrations.Names{
		Table: s.d.quote(cfg.Table),
		ID:    s.d.quote(cfg.IDColumn),
		Path:  s.d.quote(cfg.PathColumn),
	}
	if cfg.ExpiresColumn != "" {
		s.names.Expires = s.d.quote(cfg.ExpiresColumn)
	}
	if s.created {
		q := fmt.Sprintf("CREATE TABLE %s (%s INTEGER PRIMARY KEY, %s TEXT NOT NULL)",
			s.names.Table, s.names.ID, s.names.Path)
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("create catalog table in %s: %w", s.path, err)
		}
		logger.Info("created catalog", "path", s.path, "table", cfg.Table)
	}
	if s.d.name == "sqlite" {
		// A failure leaves opened zero, and the check off.
		s.opened, _ = identityOf(s.path)
	}
	return s, nil
}

// newOwner names this process for claims: host, pid and a random part, so
// that two daemons on one host (or one test) differ.
func newOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
}

func (s *Store) openSQLite(ctx context.Context, create bool) error {
	_, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !create:
		return fmt.Errorf("catalog %s: %w", s.path, ErrNoCatalog)
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
			return fmt.Errorf("create catalog directory: %w", err)
		}
		s.created = true
	}
	// WAL lets the catalog site and sqlite3 write while the daemon reads;
	// busy_timeout makes writers wait for each other instead of failing.
	dsn := "file:" + s.path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open catalog %s: %w", s.path, err)
	}
	// Every SQLite connection holds its own descriptors on the catalog and
	// its WAL: unbounded, a burst of requests opened one per request.
	limitPool(db)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("open catalog %s: %w", s.path, err)
	}
	s.db = db
	if create && !s.created {
		// A file with no tables at all (touched, or made by the sqlite3
		// shell before the first start) is a new catalog like a missing one.
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
			db.Close()
			return fmt.Errorf("open catalog %s: %w", s.path, err)
		}
		s.created = n == 0
	}
	return nil
}

// openServer checks that a PostgreSQL or MySQL catalog answers.
func (s *Store) openServer(ctx context.Context, db *sql.DB) error {
	limitPool(db)
	ctx, cancel := context.WithTimeout(ctx, connectTimeout+time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return s.connectError(err)
	}
	s.db = db
	return nil
}

// Pool limits, for every dialect: requests beyond MaxOpenConns wait for a
// connection (or their context) instead of each opening one of its own.
const (
	MaxOpenConns = 16
	maxIdleConns = 4
)

func limitPool(db *sql.DB) {
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	// Servers close idle connections (MySQL's wait_timeout); recycling them
	// first avoids a failed query after a quiet night.
	db.SetConnMaxIdleTime(2 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
}

// connectError turns a failure to connect into one line that says what is
// wrong, with the password hidden.
func (s *Store) connectError(err error) error {
	return redact(fmt.Errorf("catalog %s: %s: %w", RedactDSN(s.cfg.DSN), connectReason(err), err), s.cfg.DSN, s.t.secret)
}

// Close releases this daemon's claims and closes the database.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	s.releaseAll(ctx)
	cancel()
	return s.db.Close()
}

// DB returns the underlying database, for tests and the files subcommand.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect names the catalog's SQL dialect: "sqlite", "postgres" or "mysql".
func (s *Store) Dialect() string { return s.d.name }

// Created reports whether Open created the catalog file.
func (s *Store) Created() bool { return s.created }

// Quote quotes an identifier for the catalog's dialect.
func (s *Store) Quote(id string) string { return s.d.quote(id) }

// Rebind turns "?" placeholders into the catalog dialect's own.
func (s *Store) Rebind(q string) string { return s.d.rebind(q) }

// exec runs a statement, again on another connection if the one it got
// turns out to be dead: every statement lanseedd runs this way is idempotent
// or guarded by a generation.
func (s *Store) exec(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	if s.d.name == "sqlite" {
		s.writes.Lock()
		defer s.writes.Unlock()
	}
	err = retry(ctx, func() error {
		res, err = s.db.ExecContext(ctx, s.d.rebind(q), args...)
		return err
	})
	return res, err
}

// query runs a query, again on another connection if the one it got turns
// out to be dead.
func (s *Store) query(ctx context.Context, q string, args ...any) (rows *sql.Rows, err error) {
	err = retry(ctx, func() error {
		rows, err = s.db.QueryContext(ctx, s.d.rebind(q), args...)
		return err
	})
	return rows, err
}

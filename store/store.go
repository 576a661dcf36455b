// Package store is the catalog database: lanseedd's state table and the
// triggers on the catalog table, their migrations, and change watching.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/lanseedd/lanseedd/migrations"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is an open catalog database.
type Store struct {
	cfg     Config
	d       dialect
	db      *sql.DB
	names   migrations.Names
	log     *slog.Logger
	path    string // SQLite file
	created bool
}

// Open connects to the catalog named by cfg.DSN. An SQLite catalog that does
// not exist yet is created with an empty catalog table (id, path).
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name, rest, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: logger}
	switch name {
	case "sqlite":
		s.d = sqliteDialect
		s.path = rest
		if err := s.openSQLite(ctx); err != nil {
			return nil, err
		}
	}
	s.names = migrations.Names{
		Table: s.d.quote(cfg.Table),
		ID:    s.d.quote(cfg.IDColumn),
		Path:  s.d.quote(cfg.PathColumn),
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
	return s, nil
}

func (s *Store) openSQLite(ctx context.Context) error {
	if _, err := os.Stat(s.path); errors.Is(err, os.ErrNotExist) {
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
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("open catalog %s: %w", s.path, err)
	}
	s.db = db
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying database, for tests and the files subcommand.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect names the catalog's SQL dialect: "sqlite".
func (s *Store) Dialect() string { return s.d.name }

// Created reports whether Open created the catalog file.
func (s *Store) Created() bool { return s.created }

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.d.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.d.rebind(q), args...)
}

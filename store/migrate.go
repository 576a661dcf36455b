package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lanseedd/lanseedd/migrations"
	"github.com/pressly/goose/v3"
)

// ErrNotMigrated is returned by CheckMigrated when lanseedd's tables or
// triggers are missing or out of date.
var ErrNotMigrated = errors.New("catalog is not migrated")

const (
	gooseTable      = "lanseedd_schema"
	metaTriggerHash = "triggers_sha256"
)

func (s *Store) provider() (*goose.Provider, error) {
	fsys, err := migrations.Schema(s.d.name)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(s.d.goose, s.db, fsys,
		goose.WithTableName(gooseTable),
		goose.WithDisableGlobalRegistry(true))
}

// Migrate installs or upgrades lanseedd's tables and the triggers on the
// catalog table, then compares the catalog with the state table so rows that
// existed before become pending.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.checkCatalog(ctx); err != nil {
		return err
	}
	p, err := s.provider()
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate lanseedd tables: %w", err)
	}
	for _, r := range results {
		s.log.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path)
	}
	script, err := migrations.Render(s.d.name, "triggers", s.names)
	if err != nil {
		return err
	}
	installed, err := s.meta(ctx, metaTriggerHash)
	if err != nil {
		return err
	}
	if installed != script.Hash {
		if err := s.installTriggers(ctx, script); err != nil {
			return err
		}
		s.log.Info("installed catalog triggers", "table", s.cfg.Table)
	}
	if _, err := s.Resync(ctx); err != nil {
		return err
	}
	return nil
}

// checkCatalog reports a missing catalog table or column by name before
// anything is installed.
func (s *Store) checkCatalog(ctx context.Context) error {
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE 1 = 0", s.names.ID, s.names.Path, s.names.Table)
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("catalog table %q with columns %q and %q: %w",
			s.cfg.Table, s.cfg.IDColumn, s.cfg.PathColumn, err)
	}
	return rows.Close()
}

func (s *Store) installTriggers(ctx context.Context, script migrations.Script) error {
	drop, err := migrations.Render(s.d.name, "untriggers", s.names)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("install triggers: %w", err)
	}
	defer tx.Rollback()
	for _, stmt := range append(drop.Statements, script.Statements...) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("install triggers on %q: %w\n%s", s.cfg.Table, err, stmt)
		}
	}
	if err := setMeta(ctx, tx, s.d, metaTriggerHash, script.Hash); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("install triggers: %w", err)
	}
	return nil
}

// CheckMigrated returns ErrNotMigrated, with what is missing, unless
// lanseedd's tables are current and its triggers match the configured names.
func (s *Store) CheckMigrated(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil || current < target {
		return fmt.Errorf("%w: lanseedd tables at version %d of %d", ErrNotMigrated, current, target)
	}
	script, err := migrations.Render(s.d.name, "triggers", s.names)
	if err != nil {
		return err
	}
	installed, err := s.meta(ctx, metaTriggerHash)
	if err != nil {
		return err
	}
	if installed != script.Hash {
		return fmt.Errorf("%w: triggers on %q are missing or were made for other names", ErrNotMigrated, s.cfg.Table)
	}
	return nil
}

// MigrationStatus describes one applied or pending piece of the schema.
type MigrationStatus struct {
	Name    string
	Applied bool
}

// MigrateStatus lists lanseedd's migrations and the trigger set, applied or not.
func (s *Store) MigrateStatus(ctx context.Context) ([]MigrationStatus, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	var out []MigrationStatus
	for _, m := range st {
		out = append(out, MigrationStatus{Name: m.Source.Path, Applied: m.State == goose.StateApplied})
	}
	script, err := migrations.Render(s.d.name, "triggers", s.names)
	if err != nil {
		return nil, err
	}
	installed, _ := s.meta(ctx, metaTriggerHash)
	out = append(out, MigrationStatus{
		Name:    fmt.Sprintf("triggers on %s (%s…)", s.cfg.Table, script.Hash[:12]),
		Applied: installed == script.Hash,
	})
	return out, nil
}

// Uninstall removes lanseedd's triggers and tables. The catalog's own rows
// and columns are not touched.
func (s *Store) Uninstall(ctx context.Context) error {
	drop, err := migrations.Render(s.d.name, "untriggers", s.names)
	if err != nil {
		return err
	}
	for _, stmt := range drop.Statements {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("drop triggers: %w", err)
		}
	}
	p, err := s.provider()
	if err != nil {
		return err
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		return fmt.Errorf("drop lanseedd tables: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+s.d.quote(gooseTable)); err != nil {
		return fmt.Errorf("drop %s: %w", gooseTable, err)
	}
	return nil
}

// meta reads a value of lanseedd_meta; "" when absent.
func (s *Store) meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.d.rebind("SELECT value FROM lanseedd_meta WHERE key = ?"), key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil && strings.Contains(err.Error(), "no such table"):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read lanseedd_meta: %w", err)
	}
	return v, nil
}

func setMeta(ctx context.Context, tx *sql.Tx, d dialect, key, value string) error {
	if _, err := tx.ExecContext(ctx, d.rebind("DELETE FROM lanseedd_meta WHERE key = ?"), key); err != nil {
		return fmt.Errorf("write lanseedd_meta: %w", err)
	}
	if _, err := tx.ExecContext(ctx, d.rebind("INSERT INTO lanseedd_meta (key, value) VALUES (?, ?)"), key, value); err != nil {
		return fmt.Errorf("write lanseedd_meta: %w", err)
	}
	return nil
}

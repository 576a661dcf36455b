package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	cols, where, err := s.catalogColumns(ctx)
	if err != nil {
		return fmt.Errorf("inspect catalog table %q: %w", s.cfg.Table, err)
	}
	if len(cols) == 0 {
		return fmt.Errorf("catalog table %q not found in %s (set -catalog-table or catalog.table)", s.cfg.Table, where)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	wants := []struct{ key, name string }{
		{"id", s.cfg.IDColumn},
		{"path", s.cfg.PathColumn},
	}
	if s.cfg.ExpiresColumn != "" {
		wants = append(wants, struct{ key, name string }{"expiry", s.cfg.ExpiresColumn})
	}
	for _, want := range wants {
		i := slices.IndexFunc(cols, func(c column) bool { return s.sameColumn(c.name, want.name) })
		if i < 0 && want.key == "expiry" {
			return fmt.Errorf("catalog table %q has no expiry column %q (set publish.expires_column); its columns are %s",
				s.cfg.Table, want.name, strings.Join(names, ", "))
		}
		if i < 0 {
			return fmt.Errorf("catalog table %q has no %s column %q (set -catalog-%s); its columns are %s",
				s.cfg.Table, want.key, want.name, want.key, strings.Join(names, ", "))
		}
		if want.key == "id" && !integerType(cols[i].typ) {
			return fmt.Errorf("catalog table %q: id column %q must hold integers, it is %s",
				s.cfg.Table, want.name, cols[i].typ)
		}
	}
	return nil
}

type column struct{ name, typ string }

// catalogColumns lists the catalog table's columns (none if there is no
// such table), and says where the table was looked for.
func (s *Store) catalogColumns(ctx context.Context) ([]column, string, error) {
	var q, where string
	switch s.d.name {
	case "sqlite":
		q, where = "SELECT name, type FROM pragma_table_info(?) ORDER BY cid", s.path
	case "postgres":
		if err := s.db.QueryRowContext(ctx, "SELECT 'schema ' || current_schema()").Scan(&where); err != nil {
			return nil, "", err
		}
		q = `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`
	case "mysql":
		if err := s.db.QueryRowContext(ctx, "SELECT CONCAT('database ', DATABASE())").Scan(&where); err != nil {
			return nil, "", err
		}
		q = `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`
	}
	rows, err := s.query(ctx, q, s.cfg.Table)
	if err != nil {
		return nil, where, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, where, err
		}
		cols = append(cols, c)
	}
	return cols, where, rows.Err()
}

// sameColumn compares column names as the database does: MySQL and SQLite
// ignore case.
func (s *Store) sameColumn(a, b string) bool {
	if s.d.name == "postgres" {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// integerType reports whether a column type holds integers. SQLite's
// declared types are free text: its own rule is that one containing "INT"
// has integer affinity.
func integerType(typ string) bool {
	return strings.Contains(strings.ToUpper(typ), "INT")
}

func (s *Store) installTriggers(ctx context.Context, script migrations.Script) error {
	drop, err := migrations.Render(s.d.name, "untriggers", s.names)
	if err != nil {
		return err
	}
	stmts := append(drop.Statements, script.Statements...)
	if !s.d.transactionalDDL {
		// MySQL commits each CREATE TRIGGER by itself: dropping first makes
		// a second run after a failure start from a clean slate, and the
		// hash is written last, so an interrupted install is redone.
		for _, stmt := range stmts {
			if _, err := s.db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("install triggers on %q: %w", s.cfg.Table, withHint(err))
			}
		}
		return s.setMetaDB(ctx, metaTriggerHash, script.Hash)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("install triggers: %w", err)
	}
	defer tx.Rollback()
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("install triggers on %q: %w", s.cfg.Table, withHint(err))
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
	if err != nil && !s.d.missingTable(err) {
		return fmt.Errorf("read lanseedd's schema version: %w", err)
	}
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
	if current, _, err := p.GetVersions(ctx); err == nil && current > 0 {
		if _, err := p.DownTo(ctx, 0); err != nil {
			return fmt.Errorf("drop lanseedd tables: %w", err)
		}
	}
	// Also what an interrupted uninstall or a hand-made table left.
	for _, t := range []string{"lanseedd_node_rows", "lanseedd_nodes", "lanseedd_meta", "lanseedd_torrents", gooseTable} {
		if _, err := s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+s.d.quote(t)); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	return nil
}

// meta reads a value of lanseedd_meta; "" when absent.
func (s *Store) meta(ctx context.Context, key string) (string, error) {
	var v string
	q := fmt.Sprintf("SELECT %s FROM lanseedd_meta WHERE %s = ?", s.d.quote("value"), s.d.quote("key"))
	err := s.db.QueryRowContext(ctx, s.d.rebind(q), key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil && s.d.missingTable(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read lanseedd_meta: %w", err)
	}
	return v, nil
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func setMeta(ctx context.Context, tx execer, d dialect, key, value string) error {
	k, v := d.quote("key"), d.quote("value")
	if _, err := tx.ExecContext(ctx, d.rebind("DELETE FROM lanseedd_meta WHERE "+k+" = ?"), key); err != nil {
		return fmt.Errorf("write lanseedd_meta: %w", err)
	}
	q := fmt.Sprintf("INSERT INTO lanseedd_meta (%s, %s) VALUES (?, ?)", k, v)
	if _, err := tx.ExecContext(ctx, d.rebind(q), key, value); err != nil {
		return fmt.Errorf("write lanseedd_meta: %w", err)
	}
	return nil
}

func (s *Store) setMetaDB(ctx context.Context, key, value string) error {
	return setMeta(ctx, s.db, s.d, key, value)
}

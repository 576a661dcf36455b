package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/lanseedd/lanseedd/migrations"
)

// resyncChunk is how many rows one step of Resync reads: each statement
// reads a range of that many ids through the primary keys, so its cost and
// what Go holds of it do not grow with the catalog, and on SQLite the write
// lock is held for one range at a time.
const resyncChunk = 2000

// ResyncStats describe the last completed catalog comparison.
type ResyncStats struct {
	Started  time.Time
	Duration time.Duration
	// Examined is how many state rows were compared with the catalog.
	Examined int64
	// Changed is how many rows were made pending or deleted.
	Changed int64
}

// resyncStats holds the figures of the last Resync.
type resyncStats struct {
	mu   sync.Mutex
	last ResyncStats
}

// LastResync returns the figures of the last completed Resync; zero before
// the first.
func (s *Store) LastResync() ResyncStats {
	s.resyncs.mu.Lock()
	defer s.resyncs.mu.Unlock()
	return s.resyncs.last
}

// Resync compares the whole catalog table with the state table: catalog rows
// without state become pending, changed paths pending, rows gone from the
// catalog deleted. It returns how many rows it changed. Each fix is guarded
// by the generation read, so a trigger that fires meanwhile is never undone.
// Both tables are walked in ranges of resyncChunk ids.
func (s *Store) Resync(ctx context.Context) (int64, error) {
	insert, err := migrations.Render(s.d.name, "resync", s.names)
	if err != nil {
		return 0, err
	}
	drift, err := migrations.Render(s.d.name, "drift", s.names)
	if err != nil {
		return 0, err
	}
	st := ResyncStats{Started: time.Now()}
	// Catalog rows without state first, so that the state table then holds
	// every catalog row and the second walk sees all of them.
	err = s.walk(ctx, `SELECT `+s.names.ID+` FROM `+s.names.Table, s.names.ID, func(lo, hi, _ int64) error {
		return retry(ctx, func() error {
			n, err := s.insertMissing(ctx, insert.Statements, lo, hi)
			st.Changed += n
			return err
		})
	})
	if err != nil {
		return st.Changed, err
	}
	err = s.walk(ctx, `SELECT file_id FROM lanseedd_torrents`, "file_id", func(lo, hi, n int64) error {
		changed, err := s.fixDrift(ctx, drift.Statements[0], lo, hi)
		st.Changed += changed
		st.Examined += n
		return err
	})
	if err != nil {
		return st.Changed, err
	}
	if st.Changed > 0 && s.d.name == "postgres" {
		// Other daemons on this catalog learn of it at once.
		s.db.ExecContext(ctx, "SELECT pg_notify('lanseedd', '')")
	}
	st.Duration = time.Since(st.Started)
	s.resyncs.mu.Lock()
	s.resyncs.last = st
	s.resyncs.mu.Unlock()
	return st.Changed, nil
}

// walk calls step with consecutive ranges (lo, hi] of the ids that ids (a
// SELECT of column id from one table) reads, resyncChunk ids each, in
// order, and with how many ids the range holds. The first range starts at the smallest int64 and the last ends at
// the largest, so that no id is left out, whatever was added meanwhile.
func (s *Store) walk(ctx context.Context, ids, id string, step func(lo, hi, n int64) error) error {
	q := `SELECT COUNT(*), MAX(w.` + id + `) FROM (` + ids + ` WHERE ` + id + ` > ` + s.d.idParam + `
		ORDER BY ` + id + ` LIMIT ?) AS w`
	lo := int64(math.MinInt64)
	for {
		var (
			n  int64
			hi sql.NullInt64
		)
		err := retry(ctx, func() error {
			return s.db.QueryRowContext(ctx, s.d.rebind(q), lo, resyncChunk).Scan(&n, &hi)
		})
		if err != nil {
			return fmt.Errorf("compare catalog %q: %w", s.cfg.Table, err)
		}
		last := n < resyncChunk
		if last {
			hi.Int64 = math.MaxInt64
		}
		if err := step(lo, hi.Int64, n); err != nil {
			return err
		}
		if last {
			return nil
		}
		lo = hi.Int64
	}
}

// rangeArgs are the arguments of a statement of the resync and drift
// templates, whose placeholders come in pairs: lo then hi, once per table
// the statement restricts to the range.
func rangeArgs(stmt string, lo, hi int64) []any {
	args := make([]any, strings.Count(stmt, "?"))
	for i := range args {
		args[i] = lo
		if i%2 == 1 {
			args[i] = hi
		}
	}
	return args
}

// insertMissing runs the statements of the resync template on the catalog
// ids in (lo, hi], in one transaction. On MySQL it reads the catalog at READ
// COMMITTED, where INSERT … SELECT takes no shared locks on the catalog's
// rows that could stall the site's writes.
func (s *Store) insertMissing(ctx context.Context, stmts []string, lo, hi int64) (int64, error) {
	var opts *sql.TxOptions
	if s.d.name == "mysql" {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return 0, fmt.Errorf("resync: %w", err)
	}
	defer tx.Rollback()
	var total int64
	for _, stmt := range stmts {
		res, err := tx.ExecContext(ctx, s.d.rebind(stmt), rangeArgs(stmt, lo, hi)...)
		if err != nil {
			return 0, fmt.Errorf("resync catalog %q: %w", s.cfg.Table, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("resync: %w", err)
	}
	return total, nil
}

// fixDrift fixes the state rows in (lo, hi] that disagree with the catalog
// (the drift template), and returns how many it changed.
func (s *Store) fixDrift(ctx context.Context, drift string, lo, hi int64) (changed int64, err error) {
	type fix struct {
		id, gen int64
		path    string
		gone    bool
	}
	var fixes []fix // at most resyncChunk
	err = retry(ctx, func() error {
		fixes = fixes[:0]
		rows, err := s.db.QueryContext(ctx, s.d.rebind(drift), rangeArgs(drift, lo, hi)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f fix
			if err := rows.Scan(&f.id, &f.gen, &f.path, &f.gone); err != nil {
				return err
			}
			fixes = append(fixes, f)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("compare catalog %q: %w", s.cfg.Table, err)
	}
	for _, f := range fixes {
		var res sql.Result
		if f.gone {
			res, err = s.exec(ctx, `UPDATE lanseedd_torrents SET
					state = 'deleted', generation = generation + 1, updated_at = `+s.d.now+`
				WHERE file_id = ? AND generation = ? AND state <> 'deleted'`, f.id, f.gen)
		} else {
			res, err = s.exec(ctx, `UPDATE lanseedd_torrents SET
					path = ?, state = 'pending', generation = generation + 1, error = NULL,
					updated_at = `+s.d.now+`
				WHERE file_id = ? AND generation = ?`, f.path, f.id, f.gen)
		}
		if err != nil {
			return changed, fmt.Errorf("resync row %d: %w", f.id, err)
		}
		n, _ := res.RowsAffected()
		changed += n
	}
	return changed, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lanseedd/lanseedd"
)

// Ping checks that the catalog answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return s.checkFile()
}

// Counts returns how many rows are in each state.
func (s *Store) Counts(ctx context.Context) (map[lanseedd.State]int64, error) {
	rows, err := s.query(ctx, `SELECT state, COUNT(*) FROM lanseedd_torrents GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	defer rows.Close()
	out := make(map[lanseedd.State]int64)
	for rows.Next() {
		var (
			st string
			n  int64
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count rows: %w", err)
		}
		out[lanseedd.State(st)] = n
	}
	return out, rows.Err()
}

// Query selects a page of rows for the status page and the API.
type Query struct {
	States []lanseedd.State // any state but deleted when empty
	Search string           // substring of the path, case-insensitive for ASCII
	// After, when above 0, starts the page after the row with that file id
	// (the last of the previous page), and Offset is ignored: the page is
	// read through the primary key's index and costs the same at any
	// depth, where an offset costs a scan of the rows it skips. Not with
	// Newest.
	After  int64
	Offset int
	Limit  int
	// Newest orders by last change, newest first, instead of by file id.
	Newest bool
}

// ErrNewestAfter is returned by Page for a Query with both Newest and After.
var ErrNewestAfter = errors.New("a page after a file id is ordered by file id, not newest first")

// where returns q's conditions and their arguments, without After.
func (q Query) where() (string, []any) {
	var (
		where []string
		args  []any
	)
	if len(q.States) > 0 {
		where = append(where, stateIn(len(q.States)))
		args = stateArgs(q.States)
	} else {
		where = append(where, `state <> 'deleted'`)
	}
	if q.Search != "" {
		where = append(where, `LOWER(path) LIKE ? ESCAPE '!'`)
		esc := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(strings.ToLower(q.Search))
		args = append(args, "%"+esc+"%")
	}
	return ` WHERE ` + strings.Join(where, ` AND `), args
}

// pageQuery returns the SELECT of Page and its arguments.
func (q Query) pageQuery() (string, []any, error) {
	cond, args := q.where()
	if q.After > 0 {
		if q.Newest {
			return "", nil, ErrNewestAfter
		}
		cond += ` AND file_id > ?`
		args = append(args, q.After)
	}
	order := ` ORDER BY file_id`
	if q.Newest {
		order = ` ORDER BY updated_at DESC, file_id DESC`
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	sel := `SELECT ` + rowColumns + ` FROM lanseedd_torrents` + cond + order + ` LIMIT ?`
	args = append(args, limit)
	if q.After <= 0 {
		sel += ` OFFSET ?`
		args = append(args, max(q.Offset, 0))
	}
	return sel, args, nil
}

// Page returns the rows matching q. How many match in all is Count's
// business: at a million rows, counting costs more than reading a page.
func (s *Store) Page(ctx context.Context, q Query) ([]lanseedd.Row, error) {
	sel, args, err := q.pageQuery()
	if err != nil {
		return nil, err
	}
	rows, err := s.queryRows(ctx, sel, args...)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return rows, nil
}

// Count returns how many rows match q's states and search; its After,
// Offset and Limit play no part. It reads every matching row's index
// entry (every row with a search): where q has no search, the sum of Counts
// over its states is the same figure, and can be shared between callers.
func (s *Store) Count(ctx context.Context, q Query) (int64, error) {
	cond, args := q.where()
	var total int64
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM lanseedd_torrents`+cond), args...).Scan(&total)
	})
	if err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	return total, nil
}

// OldestPending returns when the longest-waiting pending row last changed;
// ok is false when nothing is pending.
func (s *Store) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var v any
	err := s.db.QueryRowContext(ctx, `SELECT MIN(updated_at) FROM lanseedd_torrents WHERE state = 'pending'`).Scan(&v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("oldest pending row: %w", err)
	}
	if v == nil {
		return time.Time{}, false, nil
	}
	return parseTime(v), true, nil
}

package store

import (
	"context"
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
	States []lanseedd.State // any state when empty
	Search string           // substring of the path, case-insensitive for ASCII
	Offset int
	Limit  int
	// Newest orders by last change, newest first, instead of by file id.
	Newest bool
}

// Page returns the rows matching q and how many match in all.
func (s *Store) Page(ctx context.Context, q Query) ([]lanseedd.Row, int64, error) {
	var (
		where []string
		args  []any
	)
	if len(q.States) > 0 {
		where = append(where, `state IN (?`+strings.Repeat(", ?", len(q.States)-1)+`)`)
		for _, st := range q.States {
			args = append(args, string(st))
		}
	} else {
		where = append(where, `state <> 'deleted'`)
	}
	if q.Search != "" {
		where = append(where, `LOWER(path) LIKE ? ESCAPE '!'`)
		esc := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(strings.ToLower(q.Search))
		args = append(args, "%"+esc+"%")
	}
	cond := ` WHERE ` + strings.Join(where, ` AND `)
	var total int64
	if err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM lanseedd_torrents`+cond), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count rows: %w", err)
	}
	order := ` ORDER BY file_id`
	if q.Newest {
		order = ` ORDER BY updated_at DESC, file_id DESC`
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.queryRows(ctx, `SELECT `+rowColumns+` FROM lanseedd_torrents`+cond+order+` LIMIT ? OFFSET ?`,
		append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("read rows: %w", err)
	}
	return rows, total, nil
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

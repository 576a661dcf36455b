package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/lanseedd/lanseedd"
)

// Scan returns up to limit rows in the given states (any when none) with
// file ids above after, in file id order: a page that costs the same at any
// depth.
func (s *Store) Scan(ctx context.Context, after int64, limit int, states ...lanseedd.State) ([]lanseedd.Row, error) {
	q := `SELECT ` + rowColumns + ` FROM lanseedd_torrents WHERE file_id > ?`
	args := []any{after}
	if len(states) > 0 {
		q += ` AND state IN (?` + strings.Repeat(", ?", len(states)-1) + `)`
		for _, st := range states {
			args = append(args, string(st))
		}
	}
	rows, err := s.queryRows(ctx, q+` ORDER BY file_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return rows, nil
}

// States returns the states of the rows of ids that exist.
func (s *Store) States(ctx context.Context, ids []int64) (map[int64]lanseedd.State, error) {
	out := make(map[int64]lanseedd.State, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.query(ctx, `SELECT file_id, state FROM lanseedd_torrents WHERE file_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			st string
		)
		if err := rows.Scan(&id, &st); err != nil {
			return nil, fmt.Errorf("read states: %w", err)
		}
		out[id] = lanseedd.State(st)
	}
	return out, rows.Err()
}

// ReadyByPaths returns the ready rows whose catalog path is one of paths.
func (s *Store) ReadyByPaths(ctx context.Context, paths []string) ([]lanseedd.Row, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	args := make([]any, len(paths))
	for i, p := range paths {
		args[i] = p
	}
	rows, err := s.queryRows(ctx, `SELECT `+rowColumns+` FROM lanseedd_torrents
		WHERE state = 'ready' AND path IN (?`+strings.Repeat(", ?", len(paths)-1)+`) ORDER BY file_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read rows by path: %w", err)
	}
	return rows, nil
}

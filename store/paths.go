package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/lanseedd/lanseedd"
)

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

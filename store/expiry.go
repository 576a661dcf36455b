package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lanseedd/lanseedd"
)

// Expiring returns the ready rows past their expiry: the catalog's expiry
// (expires_at) has passed, or, when maxAge is not 0, the torrent was
// published more than maxAge ago.
func (s *Store) Expiring(ctx context.Context, maxAge time.Duration) ([]lanseedd.Row, error) {
	q := `SELECT ` + rowColumns + ` FROM lanseedd_torrents
		WHERE state = 'ready' AND (expires_at <= ` + s.d.now
	var args []any
	if maxAge > 0 {
		q += ` OR published_at <= ?`
		args = append(args, s.timeArg(time.Now().Add(-maxAge)))
	}
	rows, err := s.queryRows(ctx, q+`) ORDER BY file_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read expiring rows: %w", err)
	}
	return rows, nil
}

// Unexpiring returns the expired rows that are no longer past their expiry:
// the catalog's expiry moved into the future or went away, or maxAge grew.
func (s *Store) Unexpiring(ctx context.Context, maxAge time.Duration) ([]lanseedd.Row, error) {
	q := `SELECT ` + rowColumns + ` FROM lanseedd_torrents
		WHERE state = 'expired' AND (expires_at IS NULL OR expires_at > ` + s.d.now + `)`
	var args []any
	if maxAge > 0 {
		q += ` AND (published_at IS NULL OR published_at > ?)`
		args = append(args, s.timeArg(time.Now().Add(-maxAge)))
	}
	rows, err := s.queryRows(ctx, q+` ORDER BY file_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read expired rows: %w", err)
	}
	return rows, nil
}

// timeArg is t as a query argument comparable with the dialect's
// timestamps: SQLite's are text in the triggers' format.
func (s *Store) timeArg(t time.Time) any {
	if s.d.name == "sqlite" {
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return t.UTC()
}

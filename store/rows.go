package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lanseedd/lanseedd"
)

const rowColumns = `file_id, path, state, generation, infohash, name, size, error,
	fp_size, fp_mtime_ns, fp_inode, fp_device, updated_at, magnet, expires_at, published_at, node`

// scanRow reads the rowColumns of a row, then extra destinations.
func scanRow(sc interface{ Scan(...any) error }, extra ...any) (lanseedd.Row, error) {
	var (
		r                       lanseedd.Row
		state                   string
		infohash, name, errText sql.NullString
		size, fpSize, fpMtime   sql.NullInt64
		fpInode, fpDev          sql.NullInt64
		updated                 any
		magnet                  sql.NullString
		expires, published      any
		node                    sql.NullString
	)
	dest := append([]any{&r.FileID, &r.Path, &state, &r.Generation, &infohash, &name, &size, &errText,
		&fpSize, &fpMtime, &fpInode, &fpDev, &updated, &magnet, &expires, &published, &node}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return r, err
	}
	r.State = lanseedd.State(state)
	r.InfoHash, r.Name, r.Error = infohash.String, name.String, errText.String
	r.Size = size.Int64
	r.Fingerprint = lanseedd.Fingerprint{
		Size: fpSize.Int64, MtimeNs: fpMtime.Int64,
		Inode: uint64(fpInode.Int64), Device: uint64(fpDev.Int64),
	}
	r.UpdatedAt = parseTime(updated)
	r.Magnet = magnet.String
	r.ExpiresAt, r.PublishedAt = parseTime(expires), parseTime(published)
	r.Node = node.String
	return r, nil
}

// parseTime reads a timestamp column, which drivers hand over as time.Time
// or as text.
func parseTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t.UTC()
	case []byte:
		return parseTime(string(t))
	case string:
		for _, layout := range []string{"2006-01-02T15:04:05.999Z07:00", "2006-01-02 15:04:05.999999", time.RFC3339Nano} {
			if p, err := time.Parse(layout, t); err == nil {
				return p.UTC()
			}
		}
	}
	return time.Time{}
}

func (s *Store) queryRows(ctx context.Context, q string, args ...any) ([]lanseedd.Row, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lanseedd.Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, s.own(ctx, out)
}

// Finish records the result of work on a row and releases its claim, unless
// the row changed since the work started (its generation moved on): the row
// then stays claimed by this daemon, which redoes it. It reports whether the
// result was recorded. A row made ready with a torrent other than the one it
// had is published anew (published_at, from which publish.max_age counts).
func (s *Store) Finish(ctx context.Context, r lanseedd.Result) (bool, error) {
	return s.finishes.finish(ctx, s, r)
}

// finishSQL records one result; finishArgs are its arguments.
func (s *Store) finishSQL() string {
	// published_at comes first: MySQL assigns left to right, and it must
	// compare with the old infohash.
	return `UPDATE lanseedd_torrents SET
			published_at = CASE WHEN ? <> 'ready' THEN published_at
				WHEN published_at IS NULL OR infohash IS NULL OR infohash <> ? THEN ` + s.d.now + `
				ELSE published_at END,
			state = ?, infohash = ?, name = ?, size = ?, error = ?, magnet = ?,
			fp_size = ?, fp_mtime_ns = ?, fp_inode = ?, fp_device = ?,
			node = ?, claimed_by = NULL, claimed_until = NULL,
			updated_at = ` + s.d.now + `
		WHERE file_id = ? AND generation = ? AND state <> 'deleted'`
}

func (s *Store) finishArgs(r lanseedd.Result) []any {
	return []any{string(r.State), r.InfoHash,
		string(r.State), nullString(r.InfoHash), nullString(r.Name), r.Size, nullString(r.Error), nullString(r.Magnet),
		r.Fingerprint.Size, r.Fingerprint.MtimeNs, int64(r.Fingerprint.Inode), int64(r.Fingerprint.Device),
		nullString(s.cfg.Node), r.FileID, r.Generation}
}

// finishOne records one result in a statement of its own.
func (s *Store) finishOne(ctx context.Context, r lanseedd.Result) (bool, error) {
	res, err := s.exec(ctx, s.finishSQL(), s.finishArgs(r)...)
	if err != nil {
		return false, fmt.Errorf("record row %d: %w", r.FileID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Forget deletes a deletion tombstone once the daemon has dropped its
// torrent, unless the row was re-created meanwhile.
func (s *Store) Forget(ctx context.Context, fileID, generation int64) (bool, error) {
	res, err := s.exec(ctx, `DELETE FROM lanseedd_torrents
		WHERE file_id = ? AND generation = ? AND state = 'deleted'`, fileID, generation)
	if err != nil {
		return false, fmt.Errorf("forget row %d: %w", fileID, err)
	}
	n, err := res.RowsAffected()
	if n == 1 {
		// The nodes' records of their copies go with the row.
		if _, err := s.exec(ctx, `DELETE FROM lanseedd_node_rows WHERE file_id = ?`, fileID); err != nil {
			return true, fmt.Errorf("forget the copies of row %d: %w", fileID, err)
		}
	}
	return n == 1, err
}

// Requeue marks a row pending again (its file changed on disk), bumping its
// generation so that work in flight on the old content is not recorded. A
// node (Config.Node) claims the row as it does: what it saw is in its
// content root, where another node may have another copy, or none (a
// missing row whose file came here).
func (s *Store) Requeue(ctx context.Context, fileID int64, reason string) error {
	claim, args := "", []any{nullString(reason)}
	if s.cfg.Node != "" {
		claim = `, claimed_by = ?, claimed_until = ` + s.d.later(s.cfg.ClaimLease)
		args = append(args, s.owner)
	}
	_, err := s.exec(ctx, `UPDATE lanseedd_torrents SET
			state = 'pending', generation = generation + 1, error = ?, updated_at = `+s.d.now+claim+`
		WHERE file_id = ? AND state <> 'deleted'`, append(args, fileID)...)
	if err != nil {
		return fmt.Errorf("requeue row %d: %w", fileID, err)
	}
	return nil
}

// Get returns the state of catalog row fileID, or lanseedd.ErrNotFound.
func (s *Store) Get(ctx context.Context, fileID int64) (lanseedd.Row, error) {
	r, err := s.getRow(ctx, `SELECT `+rowColumns+` FROM lanseedd_torrents WHERE file_id = ?`, fileID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("row %d: %w", fileID, lanseedd.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("read row %d: %w", fileID, err)
	}
	one := []lanseedd.Row{r}
	err = s.own(ctx, one)
	return one[0], err
}

// getRow reads one row, again on another connection if the one it got
// turns out to be dead.
func (s *Store) getRow(ctx context.Context, q string, args ...any) (r lanseedd.Row, err error) {
	err = retry(ctx, func() error {
		r, err = scanRow(s.db.QueryRowContext(ctx, s.d.rebind(q), args...))
		return err
	})
	return r, err
}

// byInfoHash reads the rows of an infohash (two rows have one when they name
// the same bytes under the same name). It names no state and no order: an
// index on the infohash is then the one a planner can use, whatever its
// statistics (with a state and an order, PostgreSQL without statistics read
// the ready rows in file_id order, a million of them, for each lookup).
const byInfoHash = `SELECT ` + rowColumns + ` FROM lanseedd_torrents WHERE infohash = ?`

// GetByInfoHash returns the ready row with that infohash (40 hex
// characters), the first by file_id if several have it.
func (s *Store) GetByInfoHash(ctx context.Context, infohash string) (lanseedd.Row, error) {
	rows, err := s.queryRows(ctx, byInfoHash, strings.ToLower(infohash))
	if err != nil {
		return lanseedd.Row{}, fmt.Errorf("read infohash %s: %w", infohash, err)
	}
	var ready []lanseedd.Row
	for _, r := range rows {
		if r.State == lanseedd.StateReady {
			ready = append(ready, r)
		}
	}
	if len(ready) == 0 {
		return lanseedd.Row{}, fmt.Errorf("infohash %s: %w", infohash, lanseedd.ErrNotFound)
	}
	return slices.MinFunc(ready, func(a, b lanseedd.Row) int { return cmp.Compare(a.FileID, b.FileID) }), nil
}

// Rows returns every row in any of the given states (all rows when none),
// ordered by file id, in one slice. It is for the states that stay small
// (missing, error): a walk over ready rows, or over all rows, holds the
// whole catalog in memory at once and should go through Scan.
func (s *Store) Rows(ctx context.Context, states ...lanseedd.State) ([]lanseedd.Row, error) {
	q := `SELECT ` + rowColumns + ` FROM lanseedd_torrents`
	args := stateArgs(states)
	if len(states) > 0 {
		q += ` WHERE ` + stateIn(len(states))
	}
	rows, err := s.queryRows(ctx, q+` ORDER BY file_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return rows, nil
}

// Scan returns at most limit rows whose file id is above after, in any of
// the given states (any state when none), ordered by file id. A walk over
// the table passes the last row's FileID as the next call's after, starting
// from 0, and ends at a page shorter than limit: each page is read from the
// primary key's index and costs the same at any depth, and nothing is held
// between pages.
func (s *Store) Scan(ctx context.Context, after int64, limit int, states ...lanseedd.State) ([]lanseedd.Row, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("scan rows: limit must be positive, got %d", limit)
	}
	q := `SELECT ` + rowColumns + ` FROM lanseedd_torrents WHERE file_id > ?`
	args := append([]any{after}, stateArgs(states)...)
	if len(states) > 0 {
		q += ` AND ` + stateIn(len(states))
	}
	rows, err := s.queryRows(ctx, q+` ORDER BY file_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("scan rows after %d: %w", after, err)
	}
	return rows, nil
}

// statesBatch is how many ids States asks for in one query: far below every
// dialect's limit on placeholders, and a statement the server parses fast.
const statesBatch = 1000

// States returns the state of each of the rows ids that exists; ids absent
// from the state table are absent from the map. It runs one query per
// statesBatch ids.
func (s *Store) States(ctx context.Context, ids []int64) (map[int64]lanseedd.State, error) {
	out := make(map[int64]lanseedd.State, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), statesBatch)]
		ids = ids[len(batch):]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		rows, err := s.query(ctx, `SELECT file_id, state FROM lanseedd_torrents
			WHERE file_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read states: %w", err)
		}
		for rows.Next() {
			var (
				id int64
				st string
			)
			if err := rows.Scan(&id, &st); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read states: %w", err)
			}
			out[id] = lanseedd.State(st)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read states: %w", err)
		}
	}
	return out, nil
}

// stateIn is the condition "state IN (?, …)" for n states.
func stateIn(n int) string {
	return `state IN (?` + strings.Repeat(", ?", n-1) + `)`
}

// stateArgs are the arguments of stateIn.
func stateArgs(states []lanseedd.State) []any {
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = string(st)
	}
	return args
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lanseedd/lanseedd"
)

// A ready row's infohash and fingerprint are those of the node that hashed
// it (Row.Node). Every other node checks its own copy and records what it
// found in lanseedd_node_rows (RecordCopy); the rows the store reads for a
// node carry what it found and its own fingerprint (own).

const copyColumns = `file_id, node, state, infohash, row_infohash, error,
	fp_size, fp_mtime_ns, fp_inode, fp_device, updated_at`

func scanCopy(sc interface{ Scan(...any) error }, extra ...any) (lanseedd.Copy, error) {
	var (
		c                     lanseedd.Copy
		state                 string
		infohash, errText     sql.NullString
		size, mtime, ino, dev sql.NullInt64
		updated               any
	)
	if err := sc.Scan(append([]any{&c.FileID, &c.Node, &state, &infohash, &c.RowInfoHash, &errText,
		&size, &mtime, &ino, &dev, &updated}, extra...)...); err != nil {
		return c, err
	}
	c.State, c.InfoHash, c.Error = lanseedd.CopyState(state), infohash.String, errText.String
	c.Fingerprint = lanseedd.Fingerprint{Size: size.Int64, MtimeNs: mtime.Int64, Inode: uint64(ino.Int64), Device: uint64(dev.Int64)}
	c.UpdatedAt = parseTime(updated)
	return c, nil
}

func (s *Store) queryCopies(ctx context.Context, q string, args ...any) ([]lanseedd.Copy, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lanseedd.Copy
	for rows.Next() {
		c, err := scanCopy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// foreign reports whether this node reads r with a copy record of its
// own: a ready row another node hashed.
func (s *Store) foreign(r lanseedd.Row) bool {
	return s.cfg.Node != "" && r.State == lanseedd.StateReady && r.Node != "" && r.Node != s.cfg.Node
}

// own marks the ready rows other nodes hashed Foreign, with what this
// node found of its own copy (Here) and its fingerprint. A catalog with
// one node reads nothing more.
func (s *Store) own(ctx context.Context, rows []lanseedd.Row) error {
	var ids []any
	for _, r := range rows {
		if s.foreign(r) {
			ids = append(ids, r.FileID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	mine := make(map[int64]lanseedd.Copy, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 500)]
		ids = ids[len(batch):]
		cs, err := s.queryCopies(ctx, `SELECT `+copyColumns+` FROM lanseedd_node_rows
			WHERE node = ? AND file_id IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`,
			append([]any{s.cfg.Node}, batch...)...)
		if err != nil {
			return fmt.Errorf("read this node's copies: %w", err)
		}
		for _, c := range cs {
			mine[c.FileID] = c
		}
	}
	for i, r := range rows {
		if !s.foreign(r) {
			continue
		}
		rows[i].Foreign, rows[i].Fingerprint = true, lanseedd.Fingerprint{}
		if c, ok := mine[r.FileID]; ok && c.RowInfoHash == r.InfoHash {
			rows[i].Here, rows[i].Fingerprint = c.State, c.Fingerprint
		}
	}
	return nil
}

// RecordCopy records what this node found of its copy of a row another
// node made ready.
func (s *Store) RecordCopy(ctx context.Context, c lanseedd.Copy) error {
	cols := `file_id, node, state, infohash, row_infohash, error, fp_size, fp_mtime_ns, fp_inode, fp_device, updated_at`
	set := []string{"state", "infohash", "row_infohash", "error", "fp_size", "fp_mtime_ns", "fp_inode", "fp_device", "updated_at"}
	var upsert strings.Builder
	if s.d.name == "mysql" {
		upsert.WriteString(" ON DUPLICATE KEY UPDATE ")
		for i, c := range set {
			if i > 0 {
				upsert.WriteString(", ")
			}
			fmt.Fprintf(&upsert, "%s = VALUES(%s)", c, c)
		}
	} else {
		upsert.WriteString(" ON CONFLICT (file_id, node) DO UPDATE SET ")
		for i, c := range set {
			if i > 0 {
				upsert.WriteString(", ")
			}
			fmt.Fprintf(&upsert, "%s = excluded.%s", c, c)
		}
	}
	fp := c.Fingerprint
	_, err := s.exec(ctx, `INSERT INTO lanseedd_node_rows (`+cols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+s.d.now+`)`+upsert.String(),
		c.FileID, s.cfg.Node, string(c.State), nullString(c.InfoHash), c.RowInfoHash, nullString(c.Error),
		fp.Size, fp.MtimeNs, int64(fp.Inode), int64(fp.Device))
	if err != nil {
		return fmt.Errorf("record this node's copy of row %d: %w", c.FileID, err)
	}
	return nil
}

// Copies returns the records of every node's copy of the rows of ids, by
// row and node.
func (s *Store) Copies(ctx context.Context, ids ...int64) ([]lanseedd.Copy, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	cs, err := s.queryCopies(ctx, `SELECT `+copyColumns+` FROM lanseedd_node_rows
		WHERE file_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) ORDER BY file_id, node`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the copies of rows: %w", err)
	}
	return cs, nil
}

// Conflicts returns up to limit copies of other bytes than the row's, or
// that cannot be read (conflict, error), of the row's present infohash,
// the newest first with the row's path, and how many there are in all. A
// node without the file (missing) is no conflict: nodes may hold some of
// the catalog only.
func (s *Store) Conflicts(ctx context.Context, limit int) ([]lanseedd.Copy, int64, error) {
	const where = ` FROM lanseedd_node_rows c JOIN lanseedd_torrents t ON t.file_id = c.file_id
		WHERE c.state IN ('conflict', 'error') AND t.state = 'ready' AND t.infohash = c.row_infohash`
	var total int64
	if err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*)`+where)).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count conflicts: %w", err)
	}
	if total == 0 || limit <= 0 {
		return nil, total, nil
	}
	rows, err := s.query(ctx, `SELECT c.file_id, c.node, c.state, c.infohash, c.row_infohash, c.error,
		c.fp_size, c.fp_mtime_ns, c.fp_inode, c.fp_device, c.updated_at, t.path`+where+`
		ORDER BY c.updated_at DESC, c.file_id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("read conflicts: %w", err)
	}
	defer rows.Close()
	var out []lanseedd.Copy
	for rows.Next() {
		var path string
		c, err := scanCopy(rows, &path)
		if err != nil {
			return nil, 0, fmt.Errorf("read conflicts: %w", err)
		}
		c.Path = path
		out = append(out, c)
	}
	return out, total, rows.Err()
}

// SeedingNodes returns the nodes that seed infohash: the node that hashed
// a ready row of it, and those whose copy is the same bytes.
func (s *Store) SeedingNodes(ctx context.Context, infohash string) ([]string, error) {
	ih := strings.ToLower(infohash)
	rows, err := s.query(ctx, `SELECT node FROM lanseedd_torrents WHERE infohash = ? AND state = 'ready' AND node IS NOT NULL
		UNION SELECT node FROM lanseedd_node_rows WHERE infohash = ? AND row_infohash = ? AND state = 'seeding'`, ih, ih, ih)
	if err != nil {
		return nil, fmt.Errorf("read the nodes seeding %s: %w", ih, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// ChangedSince returns up to limit rows in state changed after the row
// (at, id), in order of change, read for this node (own): a node looks at
// the rows other nodes make ready, for its copy, and missing, for those
// it has the file of.
func (s *Store) ChangedSince(ctx context.Context, state lanseedd.State, at time.Time, id int64, limit int) ([]lanseedd.Row, error) {
	t := s.timeArg(at)
	rows, err := s.queryRows(ctx, `SELECT `+rowColumns+` FROM lanseedd_torrents
		WHERE state = ? AND (updated_at > ? OR (updated_at = ? AND file_id > ?))
		ORDER BY updated_at, file_id LIMIT ?`, string(state), t, t, id, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s rows: %w", state, err)
	}
	return rows, nil
}

// LastChanged returns the time and id of the row in state changed last
// (zero for none): where a look at the rows changed from now on starts.
func (s *Store) LastChanged(ctx context.Context, state lanseedd.State) (time.Time, int64, error) {
	var (
		at any
		id int64
	)
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT updated_at, file_id FROM lanseedd_torrents
		WHERE state = ? ORDER BY updated_at DESC, file_id DESC LIMIT 1`), string(state)).Scan(&at, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, 0, nil
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("read the last %s row: %w", state, err)
	}
	return parseTime(at), id, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lanseedd/lanseedd"
)

// CatalogFile is a catalog row with lanseedd's state beside it.
type CatalogFile struct {
	ID       int64
	Path     string
	State    lanseedd.State // "" when the row has no state yet
	InfoHash string
	Error    string
}

// AddFiles inserts catalog rows for paths and returns their ids.
func (s *Store) AddFiles(ctx context.Context, paths []string) ([]int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("add files: %w", err)
	}
	defer tx.Rollback()
	q := s.d.rebind(fmt.Sprintf("INSERT INTO %s (%s) VALUES (?)", s.names.Table, s.names.Path))
	ids := make([]int64, 0, len(paths))
	for _, p := range paths {
		id, err := s.insertFile(ctx, tx, q, p)
		if err != nil {
			return nil, fmt.Errorf("add %q: %w", p, err)
		}
		ids = append(ids, id)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("add files: %w", err)
	}
	return ids, nil
}

// insertFile runs the insert q of one path and returns the new row's id:
// PostgreSQL has no last insert id, it returns the column.
func (s *Store) insertFile(ctx context.Context, tx *sql.Tx, q, path string) (int64, error) {
	var id int64
	if s.d.name == "postgres" {
		err := tx.QueryRowContext(ctx, q+" RETURNING "+s.names.ID, path).Scan(&id)
		return id, err
	}
	res, err := tx.ExecContext(ctx, q, path)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// RemoveFiles deletes catalog rows and returns how many existed.
func (s *Store) RemoveFiles(ctx context.Context, ids []int64) (int64, error) {
	q := s.d.rebind(fmt.Sprintf("DELETE FROM %s WHERE %s = ?", s.names.Table, s.names.ID))
	var n int64
	for _, id := range ids {
		res, err := s.db.ExecContext(ctx, q, id)
		if err != nil {
			return n, fmt.Errorf("remove %d: %w", id, err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// EachFile calls fn with every catalog row joined with its state, by id,
// as the rows arrive: a catalog of any size is listed in the memory of one
// row. An error from fn stops the listing and is returned as it is.
func (s *Store) EachFile(ctx context.Context, fn func(CatalogFile) error) error {
	q := fmt.Sprintf(`SELECT c.%[2]s, c.%[3]s, t.state, t.infohash, t.error
		FROM %[1]s AS c LEFT JOIN lanseedd_torrents AS t ON t.file_id = c.%[2]s
		ORDER BY c.%[2]s`, s.names.Table, s.names.ID, s.names.Path)
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("list files: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			f                  CatalogFile
			path               sql.NullString
			state, ih, errText sql.NullString
		)
		if err := rows.Scan(&f.ID, &path, &state, &ih, &errText); err != nil {
			return fmt.Errorf("list files: %w", err)
		}
		f.Path, f.State, f.InfoHash, f.Error = path.String, lanseedd.State(state.String), ih.String, errText.String
		if err := fn(f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list files: %w", err)
	}
	return nil
}

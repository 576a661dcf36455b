package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
)

// TestNewestPagesReadAnIndex checks that the newest rows of a state (the
// feed, the public page, the status page's rows needing attention) are read
// in order from an index, not sorted: at a million rows a sort costs
// seconds.
func TestNewestPagesReadAnIndex(t *testing.T) {
	for _, be := range dbtest.Backends[:2] {
		t.Run(be.Name, func(t *testing.T) {
			s := migratedStore(t, be)
			sel, args, err := Query{States: []lanseedd.State{lanseedd.StateReady}, Newest: true, Limit: 50}.pageQuery()
			if err != nil {
				t.Fatal(err)
			}
			text := planOf(t, s, sel, args...)
			if !strings.Contains(text, "lanseedd_torrents_newest") || strings.Contains(text, "TEMP B-TREE") || strings.Contains(text, "Sort") {
				t.Errorf("the newest ready rows are not read in order from lanseedd_torrents_newest:\n%s", text)
			}
		})
	}
}

// TestScanPagesReadAnIndex checks that a page of the rows of a state in
// file_id order (the sweep of the ready rows) is found by an index on both:
// it reads one page, whatever the planner believes of how many rows each
// state has. (PostgreSQL, its statistics stale after a first publish of a
// million rows, sorted every ready row for each page.)
func TestScanPagesReadAnIndex(t *testing.T) {
	for _, be := range dbtest.Backends[:2] {
		t.Run(be.Name, func(t *testing.T) {
			s := migratedStore(t, be)
			text := planOf(t, s, `SELECT `+rowColumns+` FROM lanseedd_torrents WHERE file_id > ? AND `+stateIn(1)+` ORDER BY file_id LIMIT ?`,
				int64(5), string(lanseedd.StateReady), 1000)
			found := false
			for _, line := range strings.Split(text, "\n") {
				// PostgreSQL: Index Cond: ((state = 'ready') AND (file_id > 5));
				// SQLite: SEARCH … USING INDEX … (state=? AND rowid>?).
				if (strings.Contains(line, "Index Cond") || strings.Contains(line, "USING")) &&
					strings.Contains(line, "state") && (strings.Contains(line, "file_id >") || strings.Contains(line, "rowid>") || strings.Contains(line, "file_id>")) {
					found = true
				}
			}
			if !found || strings.Contains(text, "Sort") || strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("a page of ready rows is not read from an index on state and file_id:\n%s", text)
			}
		})
	}
}

// migratedStore opens a migrated store on a new database of be.
func migratedStore(t *testing.T, be dbtest.Backend) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DSN = be.New(t)
	s, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if s.Dialect() != "sqlite" {
		if _, err := s.db.ExecContext(ctx, "CREATE TABLE files (id BIGINT PRIMARY KEY, path TEXT)"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// planOf returns the plan the database makes for query, one line a step.
func planOf(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	explain := "EXPLAIN QUERY PLAN "
	if s.Dialect() == "postgres" {
		// An empty table is read whole by choice; say that it is
		// big, to see the plan it would get.
		if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		explain = "EXPLAIN "
	}
	rows, err := conn.QueryContext(ctx, explain+s.d.rebind(query), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var plan []string
	for rows.Next() {
		dest := make([]any, len(cols))
		for i := range dest {
			dest[i] = new(any)
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, fmt.Sprint(*dest[len(dest)-1].(*any)))
	}
	return strings.Join(plan, "\n")
}

// TestReadyByInfoHashReadsAnIndex checks that the lookup of a ready row by
// infohash (every announce of an unloaded torrent) reads an index on the
// infohash: without statistics, PostgreSQL walked another index in file_id
// order and filtered a million rows for each lookup.
func TestReadyByInfoHashReadsAnIndex(t *testing.T) {
	for _, be := range dbtest.Backends[:2] {
		t.Run(be.Name, func(t *testing.T) {
			s := migratedStore(t, be)
			text := planOf(t, s, byInfoHash, strings.Repeat("ab", 20))
			found := false
			for _, line := range strings.Split(text, "\n") {
				if (strings.Contains(line, "Index Cond") || strings.Contains(line, "USING")) && strings.Contains(line, "infohash") {
					found = true
				}
			}
			if !found || strings.Contains(text, "Sort") || strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("a ready row is not looked up by an index on infohash and file_id:\n%s", text)
			}
		})
	}
}

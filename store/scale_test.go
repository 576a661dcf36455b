package store_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/store"
)

// TestScale builds a catalog of $LANSEEDD_SCALE_ROWS rows (95% ready) on
// SQLite and PostgreSQL and logs what the store's reads and the resync cost
// on it. It asserts nothing about time; it is how the figures in the README
// are measured:
//
//	LANSEEDD_SCALE_ROWS=1000000 go test ./store/ -run TestScale -v -timeout 30m
func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LANSEEDD_SCALE_ROWS"))
	if n <= 0 {
		t.Skip("set LANSEEDD_SCALE_ROWS to the catalog size to measure")
	}
	for _, b := range dbtest.Backends[:2] {
		t.Run(b.Name, func(t *testing.T) {
			c := openCatalog(t, b.New(t), plain)
			c.createTable(t, plain)
			ctx := context.Background()
			measure(t, "fill catalog (no triggers yet)", func() { fillCatalog(t, c, n) })
			// Tables as lanseedd 4 left them, so that the upgrade is
			// measured on a full table.
			if err := c.MigrateTableTo(ctx, 4); err != nil {
				t.Fatal(err)
			}
			measure(t, "first Resync (inserts every row)", func() {
				if _, err := c.Resync(ctx); err != nil {
					t.Fatal(err)
				}
			})
			measure(t, "mark 95% ready", func() { markReady(t, c) })
			measure(t, "Migrate (from version 4: indexes, triggers, resync)", func() {
				if err := c.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
			})
			analyze(t, c)

			resync := func(what string) {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				measure(t, what, func() {
					if _, err := c.Resync(ctx); err != nil {
						t.Fatal(err)
					}
				})
				runtime.ReadMemStats(&after)
				st := c.LastResync()
				t.Logf("    %+v, allocated %d KiB", st, (after.TotalAlloc-before.TotalAlloc)>>10)
			}
			resync("Resync, nothing drifted")
			// Paths that differ from the catalog's, as a write with the
			// triggers off leaves them.
			c.mustExec(t, "UPDATE lanseedd_torrents SET path = path || '.old' WHERE file_id % 100 = 7")
			resync(fmt.Sprintf("Resync, %d paths drifted", n/100))
			resync("Resync again")

			measure(t, "Counts", func() {
				if _, err := c.Counts(ctx); err != nil {
					t.Fatal(err)
				}
			})
			listed := []lanseedd.State{lanseedd.StatePending, lanseedd.StateReady, lanseedd.StateMissing, lanseedd.StateError, lanseedd.StateDeleted}
			for _, tc := range []struct {
				what string
				q    store.Query
			}{
				{"Page 1 (all listed states)", store.Query{States: listed, Limit: 50}},
				{"Page at offset n-1000", store.Query{States: listed, Limit: 50, Offset: n - 1000}},
				{"Page at offset 10000", store.Query{States: listed, Limit: 50, Offset: 10000}},
				{"Page at offset 100000", store.Query{States: listed, Limit: 50, Offset: 100000}},
				{"Page after n-1000", store.Query{States: listed, Limit: 50, After: int64(n - 1000)}},
				{"Page, search", store.Query{States: listed, Limit: 50, Search: "file12345"}},
				{"Page, errors newest first (status page)", store.Query{States: []lanseedd.State{lanseedd.StateError, lanseedd.StateMissing}, Newest: true, Limit: 20}},
				{"Page, ready newest first (feed)", store.Query{States: []lanseedd.State{lanseedd.StateReady}, Newest: true, Limit: 50}},
			} {
				measure(t, tc.what, func() {
					if _, err := c.Page(ctx, tc.q); err != nil {
						t.Fatal(err)
					}
				})
			}
			for _, tc := range []struct {
				what string
				q    store.Query
			}{
				{"Count, all listed states", store.Query{States: listed}},
				{"Count, search", store.Query{States: listed, Search: "file12345"}},
			} {
				measure(t, tc.what, func() {
					if _, err := c.Count(ctx, tc.q); err != nil {
						t.Fatal(err)
					}
				})
			}
			for _, after := range []int64{0, int64(n) / 2, int64(n) - 2000} {
				measure(t, fmt.Sprintf("Scan 1000 ready after %d", after), func() {
					if _, err := c.Scan(ctx, after, 1000, lanseedd.StateReady); err != nil {
						t.Fatal(err)
					}
				})
				measure(t, fmt.Sprintf("Scan 1000 missing after %d", after), func() {
					if _, err := c.Scan(ctx, after, 1000, lanseedd.StateMissing); err != nil {
						t.Fatal(err)
					}
				})
			}
			ids := make([]int64, 1000)
			for i := range ids {
				ids[i] = int64(i*(n/1000) + 1)
			}
			measure(t, "States of 1000 ids", func() {
				if _, err := c.States(ctx, ids); err != nil {
					t.Fatal(err)
				}
			})
			measure(t, "Scan every row, by 1000", func() {
				var after int64
				for {
					rows, err := c.Scan(ctx, after, 1000)
					if err != nil {
						t.Fatal(err)
					}
					if len(rows) < 1000 {
						return
					}
					after = rows[len(rows)-1].FileID
				}
			})
			measure(t, "Rows(ready)", func() {
				if _, err := c.Rows(ctx, lanseedd.StateReady); err != nil {
					t.Fatal(err)
				}
			})
			explain(t, c, `SELECT file_id FROM lanseedd_torrents WHERE state IN ('ready')
				ORDER BY updated_at DESC, file_id DESC LIMIT 50`)
			explain(t, c, `SELECT file_id FROM lanseedd_torrents WHERE state IN ('error', 'missing')
				ORDER BY updated_at DESC, file_id DESC LIMIT 20`)
		})
	}
}

// measure logs how long f takes.
func measure(t *testing.T, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	t.Logf("%-45s %8.1f ms", what, float64(time.Since(start).Microseconds())/1000)
}

// fillCatalog writes n catalog rows in one statement.
func fillCatalog(t *testing.T, c *catalog, n int) {
	switch c.Dialect() {
	case "sqlite":
		c.mustExec(t, `INSERT INTO files (id, path, title)
			WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
			SELECT i, 'dir' || (i % 1000) || '/file' || i || '.bin', 't' FROM seq`, n)
	case "postgres":
		c.mustExec(t, `INSERT INTO files (id, path, title)
			SELECT i, 'dir' || (i % 1000) || '/file' || i || '.bin', 't' FROM generate_series(1, ?::bigint) AS i`, n)
	}
}

// markReady makes 95% of the rows ready with an infohash and a publication
// time one second apart, and the rest missing or in error.
func markReady(t *testing.T, c *catalog) {
	switch c.Dialect() {
	case "sqlite":
		c.mustExec(t, `UPDATE lanseedd_torrents SET
			state = CASE file_id % 20 WHEN 0 THEN 'error' WHEN 1 THEN 'missing' ELSE 'ready' END,
			infohash = printf('%040x', file_id), name = 'file' || file_id || '.bin', size = file_id,
			magnet = 'magnet:?xt=urn:btih:' || printf('%040x', file_id),
			updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (2000000 - file_id) || ' seconds'),
			published_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (2000000 - file_id) || ' seconds')`)
	case "postgres":
		c.mustExec(t, `UPDATE lanseedd_torrents SET
			state = CASE file_id % 20 WHEN 0 THEN 'error' WHEN 1 THEN 'missing' ELSE 'ready' END,
			infohash = lpad(to_hex(file_id), 40, '0'), name = 'file' || file_id || '.bin', size = file_id,
			magnet = 'magnet:?xt=urn:btih:' || lpad(to_hex(file_id), 40, '0'),
			updated_at = now() - (2000000 - file_id) * interval '1 second',
			published_at = now() - (2000000 - file_id) * interval '1 second'`)
	}
}

// analyze gathers the planner's statistics, as autovacuum would have.
func analyze(t *testing.T, c *catalog) {
	switch c.Dialect() {
	case "sqlite":
		c.mustExec(t, "ANALYZE")
	case "postgres":
		c.mustExec(t, "VACUUM ANALYZE lanseedd_torrents")
		c.mustExec(t, "VACUUM ANALYZE files")
	}
}

// explain logs the query plan of q.
func explain(t *testing.T, c *catalog, q string) {
	prefix := "EXPLAIN ANALYZE "
	if c.Dialect() == "sqlite" {
		prefix = "EXPLAIN QUERY PLAN "
	}
	rows, err := c.db.Query(prefix + q)
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
	t.Logf("plan of %s:\n%s", strings.Join(strings.Fields(q), " "), strings.Join(plan, "\n"))
}

package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/store"
)

// TestResyncWalksInRanges compares a catalog larger than one step of the
// walk, with rows to fix in several steps, and checks the figures reported.
func TestResyncWalksInRanges(t *testing.T) {
	const n = 4500 // above two steps of the walk
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := openCatalog(t, b.New(t), plain)
		c.createTable(t, plain)
		ctx := context.Background()
		if got := c.LastResync(); got != (store.ResyncStats{}) {
			t.Errorf("LastResync before any: %+v", got)
		}
		// Rows from before lanseedd: Migrate's resync makes each pending.
		// (Ids from two digits of a 100-row sequence: MariaDB stops
		// recursion at 1000 rows.)
		c.mustExec(t, `INSERT INTO files (id, path, title)
			WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 99)
			SELECT a.i * 100 + b.i + 1, CONCAT('f', a.i * 100 + b.i + 1), 't' FROM d AS a, d AS b
			WHERE a.i * 100 + b.i < ?`, n)
		if err := c.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		st := c.LastResync()
		if st.Changed != n || st.Examined != n || st.Duration <= 0 || time.Since(st.Started) > time.Minute {
			t.Errorf("after Migrate: %+v, want %d rows changed and examined", st, n)
		}
		var count int
		if err := c.db.QueryRow("SELECT COUNT(*) FROM lanseedd_torrents WHERE state = 'pending'").Scan(&count); err != nil || count != n {
			t.Fatalf("%d rows pending (%v), want %d", count, err, n)
		}

		// What the triggers miss, in each step: state rows with another
		// path, and a catalog row whose state row is gone.
		c.mustExec(t, "UPDATE lanseedd_torrents SET path = 'old' WHERE file_id % 1000 = 7")
		c.mustExec(t, "DELETE FROM lanseedd_torrents WHERE file_id = 4321")
		changed, err := c.Resync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if changed != 6 {
			t.Errorf("Resync changed %d rows, want 6", changed)
		}
		for _, id := range []int64{7, 1007, 4007, 4321} {
			if r := c.get(t, id); r.Path != fmt.Sprintf("f%d", id) {
				t.Errorf("row %d after Resync: %+v", id, r)
			}
		}
		if st := c.LastResync(); st.Changed != 6 || st.Examined != n {
			t.Errorf("LastResync: %+v, want 6 changed of %d", st, n)
		}
		if changed, err := c.Resync(ctx); changed != 0 || err != nil {
			t.Errorf("second Resync changed %d rows (%v)", changed, err)
		}
	})
}

// TestResyncNarrowIDs compares a catalog whose id column is 32 bits wide,
// as a PostgreSQL serial or a MySQL INT AUTO_INCREMENT is: the walk's
// ranges start at the smallest int64 and end at the largest, which such a
// column cannot hold.
func TestResyncNarrowIDs(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := openCatalog(t, b.New(t), plain)
		ctx := context.Background()
		switch c.Dialect() {
		case "sqlite":
			c.mustExec(t, "DROP TABLE IF EXISTS files")
			c.mustExec(t, "CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT, title TEXT)")
		case "postgres":
			c.mustExec(t, "CREATE TABLE files (id SERIAL PRIMARY KEY, path TEXT, title TEXT)")
		case "mysql":
			c.mustExec(t, "CREATE TABLE files (id INT AUTO_INCREMENT PRIMARY KEY, path VARCHAR(1000), title TEXT)")
		}
		for _, p := range []string{"a", "b", "c"} {
			c.mustExec(t, "INSERT INTO files (path) VALUES (?)", p)
		}
		if err := c.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if st := c.LastResync(); st.Changed != 3 || st.Examined != 3 {
			t.Errorf("after Migrate: %+v, want 3 rows changed and examined", st)
		}
		c.mustExec(t, "UPDATE lanseedd_torrents SET path = 'old' WHERE file_id = 2")
		if changed, err := c.Resync(ctx); changed != 1 || err != nil {
			t.Fatalf("Resync changed %d rows (%v), want 1", changed, err)
		}
		if r := c.get(t, 2); r.Path != "b" {
			t.Errorf("row 2 after Resync: %+v", r)
		}
	})
}

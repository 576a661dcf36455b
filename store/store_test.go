package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/migrations"
	"github.com/lanseedd/lanseedd/store"
)

// catalog is a migrated catalog database with lanseedd's store on it, and
// what a test needs to write the catalog as the site would.
type catalog struct {
	*store.Store
	dsn string
	cfg store.Config
	db  *sql.DB
}

// names of a catalog table and its id and path columns.
type names struct{ table, id, path string }

var plain = names{"files", "id", "path"}

// newCatalog creates a catalog table (id, path, title) under the given names
// in a new database of backend b, and migrates it.
func newCatalog(t *testing.T, b dbtest.Backend, n names) *catalog {
	t.Helper()
	dsn := b.New(t)
	c := openCatalog(t, dsn, n)
	c.createTable(t, n)
	if err := c.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return c
}

// openCatalog opens a store on dsn without migrating it.
func openCatalog(t *testing.T, dsn string, n names, opts ...func(*store.Config)) *catalog {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN = dsn
	cfg.Table, cfg.IDColumn, cfg.PathColumn = n.table, n.id, n.path
	for _, o := range opts {
		o(&cfg)
	}
	st, err := store.Open(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("open %s: %v", store.RedactDSN(dsn), err)
	}
	t.Cleanup(func() { st.Close() })
	return &catalog{Store: st, dsn: dsn, cfg: cfg, db: st.DB()}
}

func (c *catalog) createTable(t *testing.T, n names) {
	t.Helper()
	q := c.Quote
	var ddl string
	switch c.Dialect() {
	case "sqlite":
		// A fresh SQLite catalog already has (id, path); replace it.
		c.mustExec(t, "DROP TABLE IF EXISTS "+q(n.table))
		ddl = "CREATE TABLE %s (%s INTEGER PRIMARY KEY, %s TEXT, title TEXT)"
	case "postgres":
		ddl = "CREATE TABLE %s (%s BIGSERIAL PRIMARY KEY, %s TEXT, title TEXT)"
	case "mysql":
		ddl = "CREATE TABLE %s (%s BIGINT AUTO_INCREMENT PRIMARY KEY, %s VARCHAR(1000), title TEXT) CHARACTER SET utf8mb4"
	}
	c.mustExec(t, fmt.Sprintf(ddl, q(n.table), q(n.id), q(n.path)))
}

func (c *catalog) mustExec(t *testing.T, query string, args ...any) sql.Result {
	t.Helper()
	res, err := c.db.Exec(c.Rebind(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return res
}

// insert adds a catalog row as the site would and returns its id.
func (c *catalog) insert(t *testing.T, n names, path any) int64 {
	t.Helper()
	q := fmt.Sprintf("INSERT INTO %s (%s, title) VALUES (?, 'a title')", c.Quote(n.table), c.Quote(n.path))
	if c.Dialect() == "postgres" {
		var id int64
		if err := c.db.QueryRow(c.Rebind(q+" RETURNING "+c.Quote(n.id)), path).Scan(&id); err != nil {
			t.Fatalf("insert %v: %v", path, err)
		}
		return id
	}
	id, err := c.mustExec(t, q, path).LastInsertId()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (c *catalog) get(t *testing.T, id int64) lanseedd.Row {
	t.Helper()
	r, err := c.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %d: %v", id, err)
	}
	return r
}

// finish marks row id ready at its current generation, as the daemon does.
func (c *catalog) finish(t *testing.T, id int64) lanseedd.Row {
	t.Helper()
	r := c.get(t, id)
	ok, err := c.Finish(context.Background(), lanseedd.Result{
		FileID: id, Generation: r.Generation, State: lanseedd.StateReady,
		InfoHash: strings.Repeat("ab", 20), Name: "n", Size: 1,
	})
	if err != nil || !ok {
		t.Fatalf("finish %d: recorded %v, %v", id, ok, err)
	}
	return c.get(t, id)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eachBackend runs f as a subtest on each catalog database.
func eachBackend(t *testing.T, f func(t *testing.T, b dbtest.Backend)) {
	for _, b := range dbtest.Backends {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

func TestTriggersMarkDesiredState(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		ctx := context.Background()
		start := time.Now()

		id := c.insert(t, plain, "Фильм 01.bin")
		r := c.get(t, id)
		if r.State != lanseedd.StatePending || r.Generation != 1 || r.Path != "Фильм 01.bin" {
			t.Fatalf("after insert: %+v", r)
		}
		// Times are read back right whatever the server's time zone.
		if d := r.UpdatedAt.Sub(start); d < -time.Minute || d > time.Minute {
			t.Errorf("updated_at %s is %s away from now", r.UpdatedAt, d)
		}
		r = c.finish(t, id)

		// Another column: no work, generation unchanged.
		c.mustExec(t, "UPDATE files SET title = 'another' WHERE id = ?", id)
		if got := c.get(t, id); got.State != lanseedd.StateReady || got.Generation != r.Generation {
			t.Errorf("after an update of another column: %+v, want ready at generation %d", got, r.Generation)
		}
		// The same path written again: no work either.
		c.mustExec(t, "UPDATE files SET path = path WHERE id = ?", id)
		if got := c.get(t, id); got.Generation != r.Generation {
			t.Errorf("rewriting the same path bumped the generation to %d", got.Generation)
		}

		// A path update: new work at a new generation.
		c.mustExec(t, "UPDATE files SET path = ? WHERE id = ?", "film.bin", id)
		r2 := c.get(t, id)
		if r2.State != lanseedd.StatePending || r2.Generation != r.Generation+1 || r2.Path != "film.bin" {
			t.Fatalf("after a path update: %+v", r2)
		}
		// A result for the old generation is not recorded.
		if ok, err := c.Finish(ctx, lanseedd.Result{FileID: id, Generation: r.Generation, State: lanseedd.StateReady}); ok || err != nil {
			t.Errorf("stale Finish recorded=%v err=%v", ok, err)
		}
		c.finish(t, id)
		// Only the case changes: that is another file.
		c.mustExec(t, "UPDATE files SET path = ? WHERE id = ?", "FILM.bin", id)
		if got := c.get(t, id); got.State != lanseedd.StatePending || got.Path != "FILM.bin" {
			t.Errorf("after a change of case: %+v", got)
		}

		// A NULL path never fails the site's write.
		nullID := c.insert(t, plain, nil)
		if got := c.get(t, nullID); got.State != lanseedd.StatePending || got.Path != "" {
			t.Errorf("NULL path: %+v", got)
		}

		// Delete leaves a tombstone that Forget removes at its generation.
		c.mustExec(t, "DELETE FROM files WHERE id = ?", id)
		d := c.get(t, id)
		if d.State != lanseedd.StateDeleted {
			t.Fatalf("after delete: %+v", d)
		}
		if ok, err := c.Forget(ctx, id, d.Generation); !ok || err != nil {
			t.Fatalf("forget: %v %v", ok, err)
		}
		if _, err := c.Get(ctx, id); err == nil {
			t.Errorf("row %d still there after Forget", id)
		}

		// Changing the id is a delete of the old and an insert of the new.
		other := c.insert(t, plain, "x.bin")
		c.finish(t, other)
		c.mustExec(t, "UPDATE files SET id = ? WHERE id = ?", other+1000, other)
		if got := c.get(t, other); got.State != lanseedd.StateDeleted {
			t.Errorf("old id after an id change: %+v", got)
		}
		if got := c.get(t, other+1000); got.State != lanseedd.StatePending || got.Path != "x.bin" {
			t.Errorf("new id after an id change: %+v", got)
		}
	})
}

func TestResyncCatchesWhatTriggersMiss(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		ctx := context.Background()
		var ids []int64
		for i := range 5 {
			id := c.insert(t, plain, fmt.Sprintf("f%d.bin", i))
			c.finish(t, id)
			ids = append(ids, id)
		}
		// Bulk deletes fire no row triggers: TRUNCATE on the servers; on
		// SQLite, a delete made with the triggers off.
		switch c.Dialect() {
		case "sqlite":
			c.mustExec(t, "DROP TRIGGER lanseedd_catalog_delete")
			c.mustExec(t, "DELETE FROM files WHERE id <= ?", ids[2])
		default:
			c.mustExec(t, "CREATE TABLE keep AS SELECT * FROM files WHERE id > ?", ids[2])
			c.mustExec(t, "TRUNCATE TABLE files")
			c.mustExec(t, "INSERT INTO files SELECT * FROM keep")
		}
		// TRUNCATE + re-insert fired insert triggers on the rows kept: make
		// them ready again to see that Resync leaves them alone.
		for _, id := range ids[3:] {
			if r := c.get(t, id); r.State == lanseedd.StatePending {
				c.finish(t, id)
			}
		}
		n, err := c.Resync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Errorf("Resync changed %d rows, want 3", n)
		}
		for i, id := range ids {
			want := lanseedd.StateReady
			if i <= 2 {
				want = lanseedd.StateDeleted
			}
			if r := c.get(t, id); r.State != want {
				t.Errorf("row %d: %s, want %s", id, r.State, want)
			}
		}
		if n, err := c.Resync(ctx); n != 0 || err != nil {
			t.Errorf("second Resync changed %d rows (%v), want none", n, err)
		}
	})
}

func TestAwkwardNames(t *testing.T) {
	n := names{table: "Catalog Items", id: "key", path: "order"}
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, n)
		ctx := context.Background()
		q := c.Quote
		id := c.insert(t, n, "a b/c.bin")
		if r := c.get(t, id); r.State != lanseedd.StatePending || r.Path != "a b/c.bin" {
			t.Fatalf("after insert: %+v", r)
		}
		c.finish(t, id)
		c.mustExec(t, fmt.Sprintf("UPDATE %s SET title = 'x' WHERE %s = ?", q(n.table), q(n.id)), id)
		if r := c.get(t, id); r.State != lanseedd.StateReady {
			t.Errorf("update of another column gave work: %+v", r)
		}
		c.mustExec(t, fmt.Sprintf("UPDATE %s SET %s = 'd.bin' WHERE %s = ?", q(n.table), q(n.path), q(n.id)), id)
		if r := c.get(t, id); r.State != lanseedd.StatePending || r.Path != "d.bin" {
			t.Errorf("after a path update: %+v", r)
		}
		var files []store.CatalogFile
		err := c.EachFile(ctx, func(f store.CatalogFile) error { files = append(files, f); return nil })
		if err != nil || len(files) != 1 || files[0].Path != "d.bin" || files[0].State != lanseedd.StatePending {
			t.Errorf("EachFile gave %+v, %v", files, err)
		}
		// An error from the callback stops the listing and comes back as it is.
		c.insert(t, n, "e.bin")
		stop, calls := errors.New("stop"), 0
		err = c.EachFile(ctx, func(store.CatalogFile) error { calls++; return stop })
		if err != stop || calls != 1 {
			t.Errorf("EachFile with a failing callback: %d calls, %v", calls, err)
		}
		if n, err := c.Resync(ctx); n != 0 || err != nil {
			t.Errorf("Resync changed %d rows (%v), want none", n, err)
		}
		c.mustExec(t, fmt.Sprintf("DELETE FROM %s WHERE %s = ?", q(n.table), q(n.id)), id)
		if r := c.get(t, id); r.State != lanseedd.StateDeleted {
			t.Errorf("after delete: %+v", r)
		}
	})
}

func TestMissingTableOrColumnNamed(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		dsn := b.New(t)
		c := openCatalog(t, dsn, plain)
		c.createTable(t, plain)
		ctx := context.Background()
		for _, tc := range []struct {
			n    names
			want []string
		}{
			{names{"nope", "id", "path"}, []string{`"nope"`, "not found"}},
			{names{"files", "id", "file_path"}, []string{`"file_path"`, "id, path, title", "-catalog-path"}},
			{names{"files", "ident", "path"}, []string{`"ident"`, "-catalog-id"}},
			{names{"files", "title", "path"}, []string{`"title"`, "integers"}},
		} {
			bad := openCatalog(t, dsn, tc.n)
			err := bad.Migrate(ctx)
			if err == nil {
				t.Errorf("%+v: Migrate succeeded", tc.n)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%+v: error %q does not say %q", tc.n, err, w)
				}
			}
			if err := bad.CheckMigrated(ctx); err == nil {
				t.Errorf("%+v: something was installed", tc.n)
			}
		}
		// The catalog stays usable without lanseedd.
		c.insert(t, plain, "p")
	})
}

func TestMigrateStatusUninstall(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		dsn := b.New(t)
		c := openCatalog(t, dsn, plain)
		c.createTable(t, plain)
		ctx := context.Background()
		// Rows from before lanseedd become pending when it is installed.
		before := c.insert(t, plain, "old.bin")
		if err := c.CheckMigrated(ctx); err == nil {
			t.Fatal("CheckMigrated passed before Migrate")
		}
		if err := c.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := c.CheckMigrated(ctx); err != nil {
			t.Fatal(err)
		}
		if r := c.get(t, before); r.State != lanseedd.StatePending {
			t.Errorf("row from before: %+v", r)
		}
		st, err := c.MigrateStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		schema, _ := migrations.Schema(c.Dialect())
		files, _ := fs.ReadDir(schema, ".")
		if len(st) != len(files)+1 {
			t.Errorf("status has %d lines, want %d migrations and the triggers: %+v", len(st), len(files), st)
		}
		for _, m := range st {
			if !m.Applied {
				t.Errorf("%s not applied", m.Name)
			}
		}
		after := c.insert(t, plain, "new.bin")

		if err := c.Uninstall(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Uninstall(ctx); err != nil {
			t.Fatalf("second Uninstall: %v", err)
		}
		st, err = c.MigrateStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st {
			if m.Applied {
				t.Errorf("%s still applied after uninstall", m.Name)
			}
		}
		// The catalog's rows are intact and writable without lanseedd.
		var n int
		var paths string
		if err := c.db.QueryRow("SELECT COUNT(*) FROM files").Scan(&n); err != nil || n != 2 {
			t.Errorf("catalog has %d rows after uninstall (%v), want 2", n, err)
		}
		if err := c.db.QueryRow(c.Rebind("SELECT path FROM files WHERE id = ?"), after).Scan(&paths); err != nil || paths != "new.bin" {
			t.Errorf("catalog row changed: %q %v", paths, err)
		}
		c.insert(t, plain, "third.bin")
		c.mustExec(t, "UPDATE files SET path = 'x' WHERE id = ?", before)
		c.mustExec(t, "DELETE FROM files WHERE id = ?", after)
		if _, err := c.Get(ctx, before); err == nil {
			t.Error("state table still readable after uninstall")
		}
		// And lanseedd comes back on the same catalog.
		if err := c.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if r := c.get(t, before); r.State != lanseedd.StatePending || r.Path != "x" {
			t.Errorf("after re-install: %+v", r)
		}
	})
}

func TestRenamedColumnReinstallsTriggers(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		ctx := context.Background()
		// The site renames its path column; the old triggers would fail
		// every write. Migrate with the new name replaces them.
		renamed := names{"files", "id", "location"}
		c.mustExec(t, "DROP TABLE files")
		c.createTable(t, renamed)
		c2 := openCatalog(t, c.dsn, renamed)
		if err := c2.CheckMigrated(ctx); err == nil {
			t.Fatal("CheckMigrated passed with triggers made for other names")
		}
		if err := c2.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		id := c2.insert(t, renamed, "z.bin")
		if r := c2.get(t, id); r.Path != "z.bin" {
			t.Errorf("after rename: %+v", r)
		}
	})
}

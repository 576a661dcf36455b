package store_test

import (
	"context"
	"testing"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
)

// TestUpgradeKeepsRows upgrades a catalog left by an older lanseedd
// (tables at version 3, with rows in every state and, on SQLite, catalog
// triggers that name the state table) to the current version: every row
// keeps its state, torrent and fingerprint, a ready row counts as
// published, and the reinstalled triggers work.
func TestUpgradeKeepsRows(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		ctx := context.Background()
		c := openCatalog(t, b.New(t), plain)
		c.createTable(t, plain)
		if err := c.MigrateTableTo(ctx, 3); err != nil {
			t.Fatal(err)
		}
		ready, errRow := c.insert(t, plain, "film.bin"), c.insert(t, plain, "../out.bin")
		c.mustExec(t, `INSERT INTO lanseedd_torrents (file_id, path, state, generation, infohash, name, size, error,
			fp_size, fp_mtime_ns, fp_inode, fp_device, magnet)
			VALUES (?, 'film.bin', 'ready', 7, ?, 'film.bin', 1234, NULL, 1234, 99, 42, 3, 'magnet:?xt=urn:btih:x')`,
			ready, "0123456789abcdef0123456789abcdef01234567")
		c.mustExec(t, `INSERT INTO lanseedd_torrents (file_id, path, state, generation, error)
			VALUES (?, '../out.bin', 'error', 2, 'leaves the content root')`, errRow)
		if c.Dialect() == "sqlite" {
			// The older triggers name the state table, which SQLite's
			// table rebuild must cope with.
			c.mustExec(t, `CREATE TRIGGER lanseedd_catalog_insert AFTER INSERT ON files
				BEGIN INSERT INTO lanseedd_torrents (file_id, path) VALUES (NEW.id, NEW.path); END`)
		}

		if err := c.Migrate(ctx); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		if err := c.CheckMigrated(ctx); err != nil {
			t.Fatal(err)
		}
		r := c.get(t, ready)
		want := lanseedd.Fingerprint{Size: 1234, MtimeNs: 99, Inode: 42, Device: 3}
		if r.State != lanseedd.StateReady || r.Generation != 7 || r.InfoHash != "0123456789abcdef0123456789abcdef01234567" ||
			r.Size != 1234 || r.Fingerprint != want || r.Magnet != "magnet:?xt=urn:btih:x" {
			t.Errorf("ready row after the upgrade: %+v", r)
		}
		var published any
		if err := c.db.QueryRow(c.Rebind("SELECT published_at FROM lanseedd_torrents WHERE file_id = ?"), ready).Scan(&published); err != nil || published == nil {
			t.Errorf("ready row has no published_at after the upgrade: %v %v", published, err)
		}
		if r := c.get(t, errRow); r.State != lanseedd.StateError || r.Error != "leaves the content root" || r.Generation != 2 {
			t.Errorf("error row after the upgrade: %+v", r)
		}
		added := c.insert(t, plain, "new.bin")
		if r := c.get(t, added); r.State != lanseedd.StatePending || r.Path != "new.bin" {
			t.Errorf("a row added after the upgrade: %+v", r)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/store"
)

// serverCatalog creates, in the new database named by dsn, the catalog table
// a site would have, and installs lanseedd with the migrate subcommand.
// It returns the site's own connection to the catalog.
func serverCatalog(t *testing.T, dsn string) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN = dsn
	site, err := store.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { site.Close() })
	ddl := "CREATE TABLE files (id BIGSERIAL PRIMARY KEY, path TEXT NOT NULL, title TEXT)"
	if site.Dialect() == "mysql" {
		ddl = "CREATE TABLE files (id BIGINT AUTO_INCREMENT PRIMARY KEY, path VARCHAR(1000) NOT NULL, title TEXT) CHARACTER SET utf8mb4"
	}
	if _, err := site.DB().Exec(ddl); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "-catalog", dsn}, &out, &errs); err != nil {
		t.Fatalf("lanseedd migrate: %v\n%s", err, errs.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"migrate", "status", "-catalog", dsn}, &out, &errs); err != nil {
		t.Fatalf("lanseedd migrate status: %v\n%s", err, errs.String())
	}
	if bytes.Contains(out.Bytes(), []byte("pending")) {
		t.Errorf("migrate status after migrate:\n%s", out.String())
	}
	return site
}

// TestEndToEndServerCatalogs runs the daemon on a PostgreSQL and a MariaDB
// catalog: a row the site inserts becomes a torrent a separate client
// downloads, a path update a new torrent, a delete nothing.
func TestEndToEndServerCatalogs(t *testing.T) {
	for _, b := range []dbtest.Backend{{Name: "postgres", New: dbtest.NewPostgres}, {Name: "mysql", New: dbtest.NewMySQL}} {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.New(t)
			content := t.TempDir()
			film := testenv.RandomFile(t, filepath.Join(content, "Фильм.bin"), 1<<20+333)
			other := testenv.RandomFile(t, filepath.Join(content, "other.bin"), 300<<10)

			// Without the migrations, run says which command fixes it.
			cfg := DefaultConfig()
			cfg.Catalog.DSN = dsn
			cfg.Seeder.ContentRoot = content
			cfg.Seeder.StateDir = t.TempDir()
			m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			err := m.Start(context.Background())
			m.Close()
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte("lanseedd migrate")) {
				t.Errorf("start on an unmigrated catalog: %v, want a pointer to 'lanseedd migrate'", err)
			}

			site := serverCatalog(t, dsn)
			d := startDaemon(t, content, func(c *Config) { c.Catalog.DSN = dsn })
			ids, err := site.AddFiles(context.Background(), []string{"Фильм.bin"})
			if err != nil {
				t.Fatal(err)
			}
			id := ids[0]
			row := d.waitState(t, id, lanseedd.StateReady)
			mi := d.fetchTorrent(t, id)
			if mi.HashInfoBytes().HexString() != row.InfoHash {
				t.Errorf("served .torrent is not the row's")
			}
			if got := download(t, mi); !bytes.Equal(got, film) {
				t.Errorf("downloaded bytes differ from the file")
			}

			if _, err := site.DB().Exec(site.Rebind("UPDATE files SET title = 'x' WHERE id = ?"), id); err != nil {
				t.Fatal(err)
			}
			if _, err := site.DB().Exec(site.Rebind("UPDATE files SET path = ? WHERE id = ?"), "other.bin", id); err != nil {
				t.Fatal(err)
			}
			moved := d.waitRow(t, id, "ready with a new infohash", func(r lanseedd.Row) bool {
				return r.State == lanseedd.StateReady && r.InfoHash != row.InfoHash
			})
			if got := download(t, d.fetchTorrent(t, id)); !bytes.Equal(got, other) {
				t.Errorf("after the path update: downloaded bytes differ from other.bin")
			}
			if moved.Generation != row.Generation+1 {
				t.Errorf("generation %d after one path update from %d: the title update made work", moved.Generation, row.Generation)
			}

			if _, err := site.RemoveFiles(context.Background(), []int64{id}); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				_, err := d.Store.Get(context.Background(), id)
				if errors.Is(err, lanseedd.ErrNotFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("deleted row %d still in the state table (%v)", id, err)
				}
			}
			if _, err := os.Stat(d.Seeder.TorrentFile(id)); !os.IsNotExist(err) {
				t.Errorf("deleted row's .torrent still on disk: %v", err)
			}
		})
	}
}

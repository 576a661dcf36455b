package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/store"
)

// BenchmarkCommitToReady measures, on each catalog database, the time from
// the site's INSERT commit to the row being ready (hashed, written, seeded),
// one 1 MiB file at a time, and reports its median and 95th percentile:
//
//	go test ./cmd/lanseedd -run '^$' -bench CommitToReady -benchtime 1x
func BenchmarkCommitToReady(b *testing.B) {
	const inserts = 60
	for _, be := range dbtest.Backends {
		b.Run(be.Name, func(b *testing.B) {
			content := b.TempDir()
			for i := range inserts {
				testenv.RandomFile(b, filepath.Join(content, fmt.Sprintf("f%03d.bin", i)), 1<<20)
			}
			var (
				dsn  string
				site *store.Store
			)
			if be.Name == "sqlite" {
				dsn = dbtest.NewSQLite(b)
			} else {
				dsn = be.New(b)
				site = benchCatalog(b, dsn)
			}
			d := startDaemon(b, content, func(c *Config) { c.Catalog.DSN = dsn })
			if site == nil {
				site = openSite(b, dsn)
			}
			ctx := context.Background()
			for b.Loop() {
				var lat []time.Duration
				for i := range inserts {
					start := time.Now()
					ids, err := site.AddFiles(ctx, []string{fmt.Sprintf("f%03d.bin", i)})
					if err != nil {
						b.Fatal(err)
					}
					for {
						r, err := d.Store.Get(ctx, ids[0])
						if err == nil && r.State == lanseedd.StateReady {
							break
						}
						if time.Since(start) > 20*time.Second {
							b.Fatalf("row %d not ready after 20s: %+v %v", ids[0], r, err)
						}
						time.Sleep(2 * time.Millisecond)
					}
					lat = append(lat, time.Since(start))
				}
				slices.Sort(lat)
				p50, p95 := lat[len(lat)/2], lat[len(lat)*95/100]
				b.ReportMetric(p50.Seconds(), "p50-s")
				b.ReportMetric(p95.Seconds(), "p95-s")
				b.Logf("%s: commit to ready over %d inserts of 1 MiB: p50 %s, p95 %s, max %s",
					be.Name, len(lat), p50.Round(time.Millisecond), p95.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
				// The rows of this round are done; a next round inserts them again.
				if _, err := site.DB().Exec("DELETE FROM files"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchCatalog creates the catalog table and migrates it, on a server.
func benchCatalog(b *testing.B, dsn string) *store.Store {
	site := openSite(b, dsn)
	ddl := "CREATE TABLE files (id BIGSERIAL PRIMARY KEY, path TEXT NOT NULL)"
	if site.Dialect() == "mysql" {
		ddl = "CREATE TABLE files (id BIGINT AUTO_INCREMENT PRIMARY KEY, path VARCHAR(1000) NOT NULL) CHARACTER SET utf8mb4"
	}
	if _, err := site.DB().Exec(ddl); err != nil {
		b.Fatal(err)
	}
	if err := site.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return site
}

func openSite(b *testing.B, dsn string) *store.Store {
	cfg := store.DefaultConfig()
	cfg.DSN = dsn
	st, err := store.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

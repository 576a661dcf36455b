//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// TestOutage stops the catalog's database server for a while
// (LANSEEDD_OUTAGE_SECONDS, default 10; 60 for the full run): a client
// still downloads through our tracker and seeder, and once the database is
// back, the changes made before, during (on disk) and after the outage are
// all applied.
//
//	LANSEEDD_OUTAGE_SECONDS=60 go test -tags integration -run Outage -v ./integration/
func TestOutage(t *testing.T) {
	aria2c := testenv.RequireTool(t, "aria2c")
	outage := time.Duration(envInt("LANSEEDD_OUTAGE_SECONDS", 10)) * time.Second
	for _, srv := range dbServers {
		t.Run(srv.name, func(t *testing.T) {
			dsn, db := srv.catalog(t)
			srv.guard(t)
			dialect := "mysql"
			if srv.name == "postgres" {
				dialect = "postgres"
			}
			content := t.TempDir()
			w := newWorld(t, db, dialect, content)
			film := "Фильм 02 (2024).mkv"
			for p, size := range map[string]int{film: 3<<20 + 17, "b.bin": 100 << 10, "c.bin": 200 << 10} {
				if err := w.writeFile(p, size); err != nil {
					t.Fatal(err)
				}
			}
			filmID, err := w.insert(film)
			if err != nil {
				t.Fatal(err)
			}
			bID, err := w.insert("b.bin")
			if err != nil {
				t.Fatal(err)
			}
			w.d = startDaemon(t, daemonConfig{Catalog: dsn, Content: content})
			w.d.waitReady(t, filmID)
			w.d.waitReady(t, bID)
			code, served, err := w.d.get(w.d.httpURL() + "/t/" + strconv.FormatInt(filmID, 10) + ".torrent")
			if err != nil || code != 200 {
				t.Fatalf("GET .torrent: %d %v", code, err)
			}
			mi, err := metainfo.Load(bytes.NewReader(served))
			if err != nil {
				t.Fatal(err)
			}
			// Only the HTTP tracker and no web seed: the bytes can only come
			// from our seeder, found through our tracker.
			torrent := writeVariant(t, t.TempDir(), mi, []string{mi.Announce}, false)

			// A change just before the outage, not yet applied when it starts.
			if _, err := w.insert("c.bin"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := srv.stopWait(ctx); err != nil {
				t.Fatal(err)
			}
			down := time.Now()
			t.Logf("%s stopped for %s", srv.name, outage)

			// During the outage: a download, and changes on disk.
			dir := t.TempDir()
			dctx, dcancel := context.WithTimeout(context.Background(), max(outage, 30*time.Second))
			out, err := exec.CommandContext(dctx, aria2c, "--dir", dir, "--seed-time=0", "--enable-dht=false",
				"--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
				"--console-log-level=warn", "--summary-interval=0", "--bt-stop-timeout=30", torrent).CombinedOutput()
			dcancel()
			got, rerr := os.ReadFile(filepath.Join(dir, film))
			w.mu.Lock()
			want := w.files[film]
			w.mu.Unlock()
			if err != nil || rerr != nil || sha256.Sum256(got) != want {
				t.Errorf("download during the outage failed: %v %v\n%s", err, rerr, out)
			} else {
				t.Logf("downloaded %s through the tracker and seeder %.1fs into the outage", film, time.Since(down).Seconds())
			}
			if err := w.writeFile("b.bin", 150<<10); err != nil {
				t.Fatal(err)
			}
			if err := w.writeFile("d.bin", 50<<10); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Until(down.Add(outage)))
			if !w.d.running() {
				t.Fatal("lanseedd died during the outage")
			}
			sctx, scancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer scancel()
			if err := srv.startWait(sctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s back after %.1fs", srv.name, time.Since(down).Seconds())

			// Changes after the outage.
			if _, err := w.insert("d.bin"); err != nil {
				t.Fatal(err)
			}
			if err := w.setTitle(bID); err != nil {
				t.Fatal(err)
			}
			took, violations := w.converge(60 * time.Second)
			t.Logf("converged %.1fs after the database came back; %d violations", took.Seconds(), len(violations))
			for _, v := range violations {
				t.Errorf("violation: %s", v)
			}
		})
	}
}

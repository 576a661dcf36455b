//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestChaos makes random catalog and content changes while the daemon is
// killed with SIGKILL at random moments and the database server restarts
// once, then checks that the daemon converges to exactly what the catalog
// and the disk say, and never wrote to content. LANSEEDD_CHAOS_CHANGES sets
// the number of changes (default 300; the full run is 2000):
//
//	LANSEEDD_CHAOS_CHANGES=2000 go test -tags integration -run Chaos -v ./integration/
func TestChaos(t *testing.T) {
	changes := envInt("LANSEEDD_CHAOS_CHANGES", 300)
	for _, srv := range dbServers {
		t.Run(srv.name, func(t *testing.T) { chaos(t, srv, changes) })
	}
}

// pool is the content paths the driver works with: Cyrillic, spaces,
// subdirectories.
func pool() []string {
	var ps []string
	for i := range 48 {
		dir := []string{"", "Фильмы/", "Музыка и звук/", "a/b c/"}[i%4]
		ps = append(ps, fmt.Sprintf("%sФайл %02d (копия).bin", dir, i))
	}
	return ps
}

// randomSize is a file size: mostly small, sometimes a few pieces, rarely
// empty.
func randomSize() int {
	switch r := randUint(100); {
	case r < 3:
		return 0
	case r < 20:
		return 256<<10 + int(randUint(768<<10))
	default:
		return 1 + int(randUint(64<<10))
	}
}

func pick[T any](xs []T) T { return xs[randUint(uint64(len(xs)))] }

func chaos(t *testing.T, srv dbServer, changes int) {
	dsn, db := srv.catalog(t)
	srv.guard(t)
	dialect := "mysql"
	if srv.name == "postgres" {
		dialect = "postgres"
	}
	content := t.TempDir()
	w := newWorld(t, db, dialect, content)
	names := pool()
	for _, p := range names[:24] {
		if err := w.writeFile(p, randomSize()); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range names[:30] {
		if _, err := w.insert(p); err != nil {
			t.Fatal(err)
		}
	}
	// The rescan is the daemon's safety net for changes the filesystem
	// watch does not report; at the default 10 minutes it would never run
	// within the convergence bound.
	w.d = startDaemon(t, daemonConfig{Catalog: dsn, Content: content, YAML: "seeder:\n  rescan_interval: 20s"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.sampleEvery(ctx, 200*time.Millisecond)

	var (
		kills, ops     int
		refused        atomic.Int64
		restarted      = make(chan error, 1)
		restartPending bool
		dbDone         = make(chan error, 1)
		counts         = map[string]int{}
		dbStarted      bool
	)
	defer func() {
		// Never leave with the server restart still under way.
		if dbStarted {
			<-dbDone
		}
	}()
	restarted <- nil
	start := time.Now()
	for i := range changes {
		// The daemon dies at random moments and comes back a little later,
		// while the changes go on.
		if randUint(60) == 0 && !restartPending {
			if err := <-restarted; err != nil {
				t.Fatal(err)
			}
			w.d.kill()
			kills++
			restartPending = true
			go func(delay time.Duration) {
				time.Sleep(delay)
				n, err := w.d.supervise()
				refused.Add(int64(n))
				restarted <- err
			}(time.Duration(randUint(1500)) * time.Millisecond)
		}
		if restartPending && len(restarted) > 0 {
			restartPending = false
		}
		if i == changes/2 {
			dbStarted = true
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				t0 := time.Now()
				err := srv.stopWait(ctx)
				if err == nil {
					err = srv.startWait(ctx)
				}
				t.Logf("%s restarted in %.1fs", srv.name, time.Since(t0).Seconds())
				dbDone <- err
			}()
		}
		op, err := w.change(names)
		counts[op]++
		ops++
		if err != nil {
			t.Fatalf("change %d (%s): %v", i, op, err)
		}
		time.Sleep(time.Duration(randUint(20)) * time.Millisecond)
	}
	dbStarted = false
	if err := <-dbDone; err != nil {
		t.Fatalf("restart %s: %v", srv.name, err)
	}
	if restartPending {
		if err := <-restarted; err != nil {
			t.Fatal(err)
		}
	}
	if !w.d.running() {
		if _, err := w.d.supervise(); err != nil {
			t.Fatal(err)
		}
	}
	driven := time.Since(start)
	took, violations := w.converge(120 * time.Second)
	t.Logf("chaos on %s: %d changes in %.1fs %v, %d SIGKILLs, 1 database restart, %d starts refused while the database was down (retried as systemd would)",
		srv.name, ops, driven.Seconds(), counts, kills, refused.Load())
	t.Logf("converged %.1fs after the last change (goal ≤ 30 s); %d violations", took.Seconds(), len(violations))
	report := fmt.Sprintf("%s: changes=%d kills=%d converge=%.1fs violations=%d\n", srv.name, ops, kills, took.Seconds(), len(violations))
	for i, v := range violations {
		if i == 50 {
			t.Errorf("… and %d more", len(violations)-50)
			break
		}
		t.Errorf("violation: %s", v)
		report += "  " + v + "\n"
	}
	if dir := os.Getenv("LANSEEDD_ARTIFACTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		f, err := os.OpenFile(filepath.Join(dir, "chaos.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			f.WriteString(report)
			f.Close()
		}
	}
}

// change makes one random change to the catalog or the content tree and
// names it.
func (w *world) change(names []string) (string, error) {
	w.mu.Lock()
	var live []int64
	for id := range w.live {
		live = append(live, id)
	}
	var deletedPaths []string
	for _, p := range w.deleted {
		deletedPaths = append(deletedPaths, p)
	}
	var existing, absent []string
	for _, p := range names {
		if _, ok := w.files[p]; ok {
			existing = append(existing, p)
		} else {
			absent = append(absent, p)
		}
	}
	w.mu.Unlock()
	r := randUint(100)
	switch {
	case r < 18 || len(live) == 0:
		p := pick(names)
		if randUint(30) == 0 {
			p = "../outside " + strconv.Itoa(int(randUint(3))) + ".bin"
		}
		_, err := w.insert(p)
		return "insert", err
	case r < 32:
		return "path update", w.setPath(pick(live), pick(names))
	case r < 46:
		return "title update", w.setTitle(pick(live))
	case r < 56:
		return "delete", w.remove(pick(live))
	case r < 62 && len(deletedPaths) > 0:
		_, err := w.insert(pick(deletedPaths))
		return "re-insert", err
	case r < 72 && len(absent) > 0:
		return "create", w.writeFile(pick(absent), randomSize())
	case r < 84 && len(existing) > 0:
		return "overwrite", w.writeFile(pick(existing), randomSize())
	case r < 91 && len(existing) > 0:
		return "remove", w.removeFile(pick(existing))
	case len(existing) > 0:
		return "rename", w.renameFile(pick(existing), pick(names))
	}
	return "title update", w.setTitle(pick(live))
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

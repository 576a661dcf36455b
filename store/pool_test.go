package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/store"
)

// catalogFDs counts this process's descriptors open on the SQLite catalog
// file at path and its -wal and -shm files.
func catalogFDs(t *testing.T, path string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, path) {
			n++
		}
	}
	return n
}

// TestSQLitePoolIsBounded: a burst of concurrent reads shares a bounded pool
// of SQLite connections instead of opening one (and its descriptors) each.
func TestSQLitePoolIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	c := openCatalog(t, "sqlite:"+path, plain)
	c.createTable(t, plain)
	if err := c.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := c.insert(t, plain, "a.bin")
	var (
		peak atomic.Int64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	go func() {
		for {
			if n := int64(catalogFDs(t, path)); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	start := make(chan struct{})
	var failed atomic.Int64
	for range 4000 {
		wg.Go(func() {
			<-start
			for range 3 {
				if _, err := c.Get(context.Background(), id); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(done)
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of 12000 reads failed", n)
	}
	// Two descriptors per connection (the catalog and its WAL), the shared
	// memory file once, and a few to spare.
	if p, limit := peak.Load(), int64(2*store.MaxOpenConns+4); p > limit {
		t.Errorf("%d descriptors open on the catalog at the peak, want at most %d", p, limit)
	}
	t.Logf("peak: %d descriptors on the catalog", peak.Load())
}

package seeder

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requeues collects the rows the watcher requeues. A row requeued before
// the one waited for is kept, not dropped: one rescan can requeue several
// rows, in any order.
type requeues struct {
	c    chan int64
	seen map[int64]bool // arrived while another row was waited for
}

func (r *requeues) wait(tb testing.TB, id int64, within time.Duration) {
	tb.Helper()
	if r.seen[id] {
		delete(r.seen, id)
		return
	}
	deadline := time.After(within)
	for {
		select {
		case got := <-r.c:
			if got == id {
				return
			}
			r.seen[got] = true
		case <-deadline:
			tb.Fatalf("row %d not requeued within %s", id, within)
		}
	}
}

func (r *requeues) none(tb testing.TB, within time.Duration) {
	tb.Helper()
	for id := range r.seen {
		tb.Fatalf("row %d requeued, want none", id)
	}
	select {
	case id := <-r.c:
		tb.Fatalf("row %d requeued, want none", id)
	case <-time.After(within):
	}
}

func startWatcher(tb testing.TB, root string, limit int, rescan time.Duration) (*watcher, *requeues, *syncBuffer) {
	tb.Helper()
	logs := &syncBuffer{}
	r := &requeues{c: make(chan int64, 100), seen: map[int64]bool{}}
	w := newWatcher(root, 20*time.Millisecond, slog.New(slog.NewTextHandler(logs, nil)),
		func(_ context.Context, id int64, _ string) error { r.c <- id; return nil })
	w.limit = limit
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.run(ctx, rescan); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	return w, r, logs
}

func trackFile(tb testing.TB, w *watcher, id int64, root, rel string) {
	tb.Helper()
	l, err := torrentfile.Scan(filepath.Join(root, rel))
	if err != nil {
		tb.Fatal(err)
	}
	w.track(id, rel, lanseedd.StateReady, &l)
}

func TestWatcherSeesChangesInDirectoryRows(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "album", "cd1", "deep"), 0o755)
	testenv.RandomFile(t, filepath.Join(root, "album", "cd1", "deep", "01.flac"), 1000)
	testenv.RandomFile(t, filepath.Join(root, "single.bin"), 1000)
	w, r, _ := startWatcher(t, root, 0, 0)
	trackFile(t, w, 1, root, "album")
	trackFile(t, w, 2, root, "single.bin")

	// A new file deep inside a directory row.
	laterMtime()
	testenv.RandomFile(t, filepath.Join(root, "album", "cd1", "deep", "02.flac"), 10)
	r.wait(t, 1, 2*time.Second)
	r.none(t, 200*time.Millisecond) // the single file is unchanged

	// Requeued rows are not requeued again until tracked anew.
	testenv.RandomFile(t, filepath.Join(root, "album", "cd1", "deep", "03.flac"), 10)
	r.none(t, 200*time.Millisecond)

	os.Remove(filepath.Join(root, "single.bin"))
	r.wait(t, 2, 2*time.Second)
}

func TestWatcherOutOfWatchesFallsBackToRescan(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "a"), 0o755)
	os.Mkdir(filepath.Join(root, "b"), 0o755)
	testenv.RandomFile(t, filepath.Join(root, "a", "x"), 1000)
	testenv.RandomFile(t, filepath.Join(root, "b", "y"), 1000)
	w, r, logs := startWatcher(t, root, 1, 700*time.Millisecond)
	trackFile(t, w, 1, root, "a/x")
	trackFile(t, w, 2, root, "b/y") // no watch left for b
	if !strings.Contains(logs.String(), "fs.inotify.max_user_watches") {
		t.Errorf("no warning naming the sysctl:\n%s", logs)
	}
	trackFile(t, w, 3, root, "b/y")
	if n := strings.Count(logs.String(), "out of inotify watches"); n != 1 {
		t.Errorf("warned %d times, want once", n)
	}

	laterMtime()
	testenv.RandomFile(t, filepath.Join(root, "a", "x"), 999)
	testenv.RandomFile(t, filepath.Join(root, "b", "y"), 999)
	r.wait(t, 1, 500*time.Millisecond) // inotify
	r.wait(t, 2, 15*time.Second)       // the rescan, every 700ms (loaded machines are slow)
}

func laterMtime() { time.Sleep(20 * time.Millisecond) }

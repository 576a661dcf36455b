package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/web"
	"golang.org/x/sys/unix"
)

// swapOpts keep the daemon from reacting to the swaps on its own: the
// filesystem watch waits a minute before it looks, so rows stay ready and
// the web seed and hashing meet the swapped files themselves.
func swapOpts(c *Config) {
	c.HTTP.WebSeedMode = web.WebSeedAlways
	c.Seeder.Debounce = time.Minute
	c.Seeder.RescanInterval = 0
	c.Seeder.QuietPeriod = 0
}

// exchanger swaps two paths atomically (renameat2 RENAME_EXCHANGE) in a
// loop until stop, and swaps once more at the end if needed so that both
// are back in place.
type exchanger struct {
	a, b  string
	swaps atomic.Int64
}

func startExchange(tb testing.TB, ctx context.Context, wg *sync.WaitGroup, a, b string) *exchanger {
	tb.Helper()
	x := &exchanger{a: a, b: b}
	if err := x.swap(); err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			tb.Skipf("renameat2 RENAME_EXCHANGE: %v", err)
		}
		tb.Fatalf("exchange %s %s: %v", a, b, err)
	}
	x.swaps.Add(1)
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := x.swap(); err != nil {
				tb.Errorf("exchange: %v", err)
				return
			}
			x.swaps.Add(1)
		}
		if x.swaps.Load()%2 == 1 {
			if err := x.swap(); err != nil {
				tb.Errorf("exchange back: %v", err)
			}
		}
	})
	return x
}

func (x *exchanger) swap() error {
	return unix.Renameat2(unix.AT_FDCWD, x.a, unix.AT_FDCWD, x.b, unix.RENAME_EXCHANGE)
}

// keepMtimes returns a function that sets the directories' times back:
// the test's own renames change them, and snapshot.Guard is there to catch
// what the daemon changes.
func keepMtimes(tb testing.TB, dirs ...string) func() {
	tb.Helper()
	times := make([]time.Time, len(dirs))
	for i, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			tb.Fatal(err)
		}
		times[i] = fi.ModTime()
	}
	return func() {
		for i, d := range dirs {
			if err := os.Chtimes(d, times[i], times[i]); err != nil {
				tb.Error(err)
			}
		}
	}
}

// threads is the process's OS thread count.
func threads(tb testing.TB) int {
	tb.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no Threads line in /proc/self/status")
	return 0
}

// TestSymlinkSwapServesNothingOutside swaps a link to an outside file of
// the same size in and out of two ready rows' places for 20 s, while three
// clients fetch one of them from the web seed and the other is hashed again
// and again: not one byte of the outside files is served or published.
func TestSymlinkSwapServesNothingOutside(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s of swapping")
	}
	content, outside := t.TempDir(), t.TempDir()
	inWeb := testenv.RandomFile(t, filepath.Join(content, "web.bin"), 64<<10)
	outWeb := testenv.RandomFile(t, filepath.Join(outside, "web.bin"), 64<<10)
	testenv.RandomFile(t, filepath.Join(content, "hash.bin"), 1<<20)
	testenv.RandomFile(t, filepath.Join(outside, "hash.bin"), 1<<20)
	for _, name := range []string{"web.bin", "hash.bin"} {
		if err := os.Symlink(filepath.Join(outside, name), filepath.Join(content, ".swap-"+name)); err != nil {
			t.Fatal(err)
		}
	}
	snapshot.Guard(t, content)
	snapshot.Guard(t, outside)
	d := startDaemon(t, content, swapOpts)
	webID := d.exec(t, "INSERT INTO files(path) VALUES('web.bin')")
	hashID := d.exec(t, "INSERT INTO files(path) VALUES('hash.bin')")
	d.waitState(t, webID, lanseedd.StateReady)
	want := d.waitState(t, hashID, lanseedd.StateReady).InfoHash
	defer keepMtimes(t, content)()

	ctx, stop := context.WithTimeout(t.Context(), 20*time.Second)
	defer stop()
	var wg sync.WaitGroup
	for _, name := range []string{"web.bin", "hash.bin"} {
		startExchange(t, ctx, &wg, filepath.Join(content, name), filepath.Join(content, ".swap-"+name))
	}

	url := web.WebSeedURL(d.HTTPURL(), webID) + "web.bin"
	var answers, served, outsideServed atomic.Int64
	client := &http.Client{Timeout: 5 * time.Second}
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := client.Get(url)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("GET %s: %v", url, err)
					}
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				answers.Add(1)
				switch {
				case bytes.Contains(body, outWeb[:4096]) || bytes.Contains(body, outWeb[len(outWeb)-4096:]):
					outsideServed.Add(1)
				case resp.StatusCode == http.StatusOK && !bytes.Equal(body, inWeb):
					t.Errorf("200 with %d bytes that are not the file", len(body))
				case resp.StatusCode == http.StatusOK:
					served.Add(1)
				}
			}
		})
	}
	// Rehash the other row over and over: changing its catalog path
	// (hash.bin and ./hash.bin name the same file) makes it pending again.
	var rehashes, published, wrong atomic.Int64
	wg.Go(func() {
		paths := []string{"./hash.bin", "hash.bin"}
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := d.db.Exec("UPDATE files SET path = ? WHERE id = ?", paths[i%2], hashID); err != nil {
				t.Errorf("update: %v", err)
				return
			}
			rehashes.Add(1)
			deadline := time.Now().Add(200 * time.Millisecond)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				row, err := d.Store.Get(context.Background(), hashID)
				if err == nil && row.State == lanseedd.StateReady {
					if row.InfoHash != want {
						wrong.Add(1)
						t.Errorf("published infohash %s, want %s (the inside file's)", row.InfoHash, want)
					}
					published.Add(1)
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
	wg.Wait()
	t.Logf("web seed: %d answers, %d served whole, %d with outside bytes; hashing: %d rehashes asked, %d published, %d wrong",
		answers.Load(), served.Load(), outsideServed.Load(), rehashes.Load(), published.Load(), wrong.Load())
	if n := outsideServed.Load(); n > 0 {
		t.Errorf("the web seed served the outside file %d times in %d answers", n, answers.Load())
	}
	if served.Load() == 0 {
		t.Error("the web seed never served the file while it was in place")
	}

	// Swapping over, the row is hashed and published as before.
	d.exec(t, "UPDATE files SET path = 'hash.bin/' WHERE id = ?", hashID)
	if got := d.waitState(t, hashID, lanseedd.StateReady); got.InfoHash != want {
		t.Errorf("after the swapping: infohash %s, want %s", got.InfoHash, want)
	}
}

// TestFIFOSwappedIn puts FIFOs where a ready row's file was, and where
// files of rows being hashed are: every web seed request is answered
// within 5 s without an OS thread held per request, hashing goes on with
// other rows, and the rows are hashed again once the files are back.
func TestFIFOSwappedIn(t *testing.T) {
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "ready.bin"), 64<<10)
	for _, dir := range []string{"slot1", "slot2"} {
		if err := os.Mkdir(filepath.Join(content, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		testenv.RandomFile(t, filepath.Join(content, dir, "a.bin"), 4<<20)
		testenv.RandomFile(t, filepath.Join(content, dir, "z.bin"), 1000)
	}
	for _, name := range []string{".fifo-ready", ".fifo-slot1", ".fifo-slot2"} {
		if err := syscall.Mkfifo(filepath.Join(content, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.RandomFile(t, filepath.Join(content, "later.bin"), 1<<20)
	snapshot.Guard(t, content)
	// 100 requests at once from one address: more than the per-address
	// connection cap, which would refuse some before they reach the FIFO.
	d := startDaemon(t, content, swapOpts, func(c *Config) { c.HTTP.MaxConnsPerIP = 0 })
	readyID := d.exec(t, "INSERT INTO files(path) VALUES('ready.bin')")
	slots := []int64{d.exec(t, "INSERT INTO files(path) VALUES('slot1')"), d.exec(t, "INSERT INTO files(path) VALUES('slot2')")}
	d.waitState(t, readyID, lanseedd.StateReady)
	for _, id := range slots {
		d.waitState(t, id, lanseedd.StateReady)
	}
	before := threads(t)
	defer keepMtimes(t, content, filepath.Join(content, "slot1"), filepath.Join(content, "slot2"))()

	// The web seed, with a FIFO in place of the ready row's file.
	x := &exchanger{a: filepath.Join(content, "ready.bin"), b: filepath.Join(content, ".fifo-ready")}
	if err := x.swap(); err != nil {
		t.Skipf("renameat2 RENAME_EXCHANGE: %v", err)
	}
	url := web.WebSeedURL(d.HTTPURL(), readyID) + "ready.bin"
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	var codes sync.Map
	for range 100 {
		wg.Go(func() {
			resp, err := client.Get(url)
			if err != nil {
				t.Errorf("GET %s with a FIFO in place: %v", url, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes.Store(resp.StatusCode, true)
		})
	}
	wg.Wait()
	codes.Range(func(k, _ any) bool {
		if k.(int) == http.StatusOK {
			t.Errorf("200 for a FIFO")
		}
		return true
	})
	if after := threads(t); after > before+50 {
		t.Errorf("threads grew from %d to %d over 100 requests for a FIFO", before, after)
	}
	if err := x.swap(); err != nil {
		t.Fatal(err)
	}

	// Hashing, with FIFOs swapped in and out of the files of two rows
	// while they are hashed again and again.
	ctx, stop := context.WithTimeout(t.Context(), 5*time.Second)
	defer stop()
	for _, dir := range []string{"slot1", "slot2"} {
		startExchange(t, ctx, &wg, filepath.Join(content, dir, "z.bin"), filepath.Join(content, ".fifo-"+dir))
	}
	maxThreads := atomic.Int64{}
	wg.Go(func() {
		paths := [][2]string{{"slot1", "slot1/"}, {"slot2", "slot2/"}}
		for i := 0; ctx.Err() == nil; i++ {
			for j, id := range slots {
				if _, err := d.db.Exec("UPDATE files SET path = ? WHERE id = ?", paths[j][i%2], id); err != nil {
					t.Errorf("update: %v", err)
					return
				}
			}
			if n := int64(threads(t)); n > maxThreads.Load() {
				maxThreads.Store(n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	wg.Wait()
	if n := maxThreads.Load(); n > int64(before+50) {
		t.Errorf("threads grew from %d to %d while FIFOs were swapped into rows being hashed", before, n)
	}
	// Both hashing slots must still be free: a new row is hashed, and the
	// swapped rows are hashed again now that their files are back.
	start := time.Now()
	later := d.exec(t, "INSERT INTO files(path) VALUES('later.bin')")
	d.waitRow(t, later, "ready within 10 s", func(r lanseedd.Row) bool {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("a new row is still %s after 10 s: hashing is stuck", r.State)
		}
		return r.State == lanseedd.StateReady
	})
	for j, id := range slots {
		d.exec(t, "UPDATE files SET path = ? WHERE id = ?", []string{"slot1/.", "slot2/."}[j], id)
		d.waitState(t, id, lanseedd.StateReady)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// These tests drive the daemon through what happens to content on a real
// file server — edits, truncation, replacement, removal, empty and growing
// files, read-only trees, restarts — and prove with snapshot.Guard that
// lanseedd wrote nothing under the content root. A test that changes
// content itself guards the tree from its last change on.

// fastFS makes the filesystem side quick to observe: a short quiet period
// and debounce, and no periodic retry of missing rows, so that what is
// picked up was seen by the filesystem watch.
func fastFS(cfg *Config) {
	cfg.Seeder.QuietPeriod = 200 * time.Millisecond
	cfg.Seeder.Debounce = 50 * time.Millisecond
	cfg.Seeder.RetryMissing = time.Hour
	cfg.Seeder.RescanInterval = 0
}

// onState runs the daemon on a state directory that outlives it.
func onState(state string) func(*Config) {
	return func(cfg *Config) {
		cfg.Seeder.StateDir = state
		cfg.Catalog.DSN = "sqlite:" + filepath.Join(state, "catalog.db")
	}
}

func (d *testDaemon) insert(tb testing.TB, path string) int64 {
	tb.Helper()
	return d.exec(tb, "INSERT INTO files(path) VALUES (?)", path)
}

// waitNewHash waits until row id is ready with another infohash than old.
func (d *testDaemon) waitNewHash(tb testing.TB, id int64, old string) lanseedd.Row {
	tb.Helper()
	return d.waitRow(tb, id, "ready with a new infohash", func(r lanseedd.Row) bool {
		return r.State == lanseedd.StateReady && r.InfoHash != old
	})
}

// laterMtime sleeps so that the next write gets a later mtime even where
// the kernel's file clock ticks coarsely.
func laterMtime() { time.Sleep(20 * time.Millisecond) }

func TestSeededFileEditedInPlace(t *testing.T) {
	content := t.TempDir()
	path := filepath.Join(content, "film.bin")
	data := testenv.RandomFile(t, path, 2<<20)
	d := startDaemon(t, content, fastFS)
	id := d.insert(t, "film.bin")
	before := d.waitState(t, id, lanseedd.StateReady)

	laterMtime()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("EDITED"), 1<<20+5)
	f.Close()
	copy(data[1<<20+5:], "EDITED")
	snapshot.Guard(t, content)

	after := d.waitNewHash(t, id, before.InfoHash)
	if after.Generation <= before.Generation {
		t.Errorf("generation %d after the edit, was %d: the row was not requeued", after.Generation, before.Generation)
	}
	if d.Seeder.Seeding(metainfo.NewHashFromHex(before.InfoHash)) {
		t.Error("the torrent of the old content is still seeded")
	}
	if got := download(t, d.fetchTorrent(t, id)); !bytes.Equal(got, data) {
		t.Error("downloaded bytes differ from the edited file")
	}
}

func TestSeededFileTruncated(t *testing.T) {
	content := t.TempDir()
	path := filepath.Join(content, "film.bin")
	data := testenv.RandomFile(t, path, 3<<20)
	d := startDaemon(t, content, fastFS)
	id := d.insert(t, "film.bin")
	before := d.waitState(t, id, lanseedd.StateReady)
	mi := d.fetchTorrent(t, id)
	if got := download(t, mi); !bytes.Equal(got, data) {
		t.Fatal("download before truncation differs")
	}

	laterMtime()
	if err := os.Truncate(path, 1<<20+3); err != nil {
		t.Fatal(err)
	}
	snapshot.Guard(t, content)
	after := d.waitNewHash(t, id, before.InfoHash)
	if after.Size != 1<<20+3 {
		t.Errorf("size %d after truncation", after.Size)
	}
	if got := download(t, d.fetchTorrent(t, id)); !bytes.Equal(got, data[:1<<20+3]) {
		t.Error("downloaded bytes differ from the truncated file")
	}
}

func TestSeededFileReplacedByRename(t *testing.T) {
	content := t.TempDir()
	path := filepath.Join(content, "film.bin")
	testenv.RandomFile(t, path, 1<<20)
	d := startDaemon(t, content, fastFS)
	id := d.insert(t, "film.bin")
	before := d.waitState(t, id, lanseedd.StateReady)

	// The usual way to publish a new version: write aside, rename over.
	tmp := filepath.Join(content, ".film.bin.new")
	data := testenv.RandomFile(t, tmp, 1<<20)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	snapshot.Guard(t, content)
	d.waitNewHash(t, id, before.InfoHash)
	if got := download(t, d.fetchTorrent(t, id)); !bytes.Equal(got, data) {
		t.Error("downloaded bytes differ from the new file")
	}
}

func TestEmptyFile(t *testing.T) {
	content := t.TempDir()
	path := filepath.Join(content, "placeholder.iso")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, content, fastFS)
	id := d.insert(t, "placeholder.iso")
	r := d.waitState(t, id, lanseedd.StateError)
	if !strings.Contains(r.Error, "empty") {
		t.Errorf("message %q does not say the file is empty", r.Error)
	}

	// The real content arrives later: it is seen and published.
	laterMtime()
	data := testenv.RandomFile(t, path, 300<<10)
	snapshot.Guard(t, content)
	d.waitState(t, id, lanseedd.StateReady)
	if got := download(t, d.fetchTorrent(t, id)); !bytes.Equal(got, data) {
		t.Error("downloaded bytes differ")
	}
}

// TestEmptyFileRemovedWhileStopped: a row in error for its empty file,
// whose file is removed while lanseedd is stopped, is missing after the
// restart.
func TestEmptyFileRemovedWhileStopped(t *testing.T) {
	content, state := t.TempDir(), t.TempDir()
	path := filepath.Join(content, "placeholder.iso")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, content, fastFS, onState(state))
	id := d.insert(t, "placeholder.iso")
	d.waitState(t, id, lanseedd.StateError)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, content, fastFS, onState(state))
	d.waitState(t, id, lanseedd.StateMissing)
}

func TestFileRemovedAndBack(t *testing.T) {
	content := t.TempDir()
	path := filepath.Join(content, "film.bin")
	data := testenv.RandomFile(t, path, 1<<20)
	d := startDaemon(t, content, fastFS)
	id := d.insert(t, "film.bin")
	early := d.insert(t, "later/Сезон 1/e01.mkv") // not there yet
	ready := d.waitState(t, id, lanseedd.StateReady)
	d.waitState(t, early, lanseedd.StateMissing)

	// Gone: missing, and no longer seeded.
	aside := filepath.Join(t.TempDir(), "film.bin")
	if err := os.Rename(path, aside); err != nil {
		t.Fatal(err)
	}
	d.waitState(t, id, lanseedd.StateMissing)
	if d.Seeder.Seeding(metainfo.NewHashFromHex(ready.InfoHash)) {
		t.Error("a missing file is still seeded")
	}

	// Back, and a file appearing in directories that did not exist: both
	// are picked up at once (missing rows are retried only hourly here, so
	// this is the filesystem watch at work).
	start := time.Now()
	if err := os.Rename(aside, path); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(content, "later", "Сезон 1"), 0o755)
	episode := testenv.RandomFile(t, filepath.Join(content, "later", "Сезон 1", "e01.mkv"), 200<<10)
	snapshot.Guard(t, content)
	back := d.waitState(t, id, lanseedd.StateReady)
	d.waitState(t, early, lanseedd.StateReady)
	t.Logf("picked up %s after the files came back", time.Since(start).Round(time.Millisecond))
	if back.InfoHash != ready.InfoHash {
		t.Errorf("same content back, infohash %s, was %s", back.InfoHash, ready.InfoHash)
	}
	if got := download(t, d.fetchTorrent(t, id)); !bytes.Equal(got, data) {
		t.Error("downloaded bytes differ")
	}
	if got := download(t, d.fetchTorrent(t, early)); !bytes.Equal(got, episode) {
		t.Error("downloaded episode differs")
	}
}

// readOnlyMount bind-mounts dir read-only at a new directory and returns
// it, or "" with the reason when mounting is not permitted here.
func readOnlyMount(tb testing.TB, dir string) (string, string) {
	mnt := filepath.Join(tb.TempDir(), "ro")
	os.Mkdir(mnt, 0o755)
	if err := syscall.Mount(dir, mnt, "", syscall.MS_BIND, ""); err != nil {
		return "", "bind mount: " + err.Error()
	}
	tb.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			tb.Errorf("unmount %s: %v", mnt, err)
		}
	})
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		return "", "read-only remount: " + err.Error()
	}
	if err := os.WriteFile(filepath.Join(mnt, "probe"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		return "", "the mount is writable"
	}
	return mnt, ""
}

func TestReadOnlyContentTree(t *testing.T) {
	content := t.TempDir()
	film := testenv.RandomFile(t, filepath.Join(content, "film.bin"), 1<<20+11)
	os.MkdirAll(filepath.Join(content, "album", "cd1"), 0o755)
	testenv.RandomFile(t, filepath.Join(content, "album", "cd1", "01.flac"), 100<<10)
	testenv.RandomFile(t, filepath.Join(content, "album", "02.flac"), 70<<10)
	// Read-only permissions, restored for the temporary directory's removal.
	var modes []func()
	filepath.WalkDir(content, func(p string, de os.DirEntry, err error) error {
		fi, _ := os.Lstat(p)
		modes = append(modes, func() { os.Chmod(p, fi.Mode().Perm()) })
		return nil
	})
	t.Cleanup(func() {
		for _, restore := range modes {
			restore()
		}
	})
	filepath.WalkDir(content, func(p string, de os.DirEntry, err error) error {
		fi, _ := os.Lstat(p)
		return os.Chmod(p, fi.Mode().Perm()&^0o222)
	})
	snapshot.Guard(t, content)

	root := content
	if mnt, why := readOnlyMount(t, content); mnt != "" {
		root = mnt // writes would fail with EROFS, and the daemon would say so
	} else {
		t.Logf("no read-only bind mount (%s); testing with read-only permissions only", why)
	}
	d := startDaemon(t, root, fastFS)
	filmID := d.insert(t, "film.bin")
	albumID := d.insert(t, "album")
	d.waitState(t, filmID, lanseedd.StateReady)
	album := d.waitState(t, albumID, lanseedd.StateReady)
	if !d.Seeder.Has(metainfo.NewHashFromHex(album.InfoHash), true) || !d.Seeder.Seeding(metainfo.NewHashFromHex(album.InfoHash)) {
		t.Error("album not seeded")
	}
	if got := download(t, d.fetchTorrent(t, filmID)); !bytes.Equal(got, film) {
		t.Error("downloaded bytes differ")
	}
}

func TestQuietPeriod(t *testing.T) {
	content := t.TempDir()
	quiet := 800 * time.Millisecond
	d := startDaemon(t, content, fastFS, func(cfg *Config) { cfg.Seeder.QuietPeriod = quiet })

	// A file that has been there a while is published at once.
	old := filepath.Join(content, "old.bin")
	testenv.RandomFile(t, old, 4<<20)
	hourAgo := time.Now().Add(-time.Hour)
	os.Chtimes(old, hourAgo, hourAgo)
	start := time.Now()
	oldID := d.insert(t, "old.bin")
	d.waitState(t, oldID, lanseedd.StateReady)
	latency := time.Since(start)
	t.Logf("INSERT to ready for an existing 4 MiB file: %s", latency.Round(time.Millisecond))
	if latency >= quiet {
		t.Errorf("an old file waited %s, the quiet period is %s: only fresh files wait", latency, quiet)
	}

	// A file still being copied is published only once it stopped growing,
	// and then with its whole content.
	growing := filepath.Join(content, "copying.bin")
	f, err := os.Create(growing)
	if err != nil {
		t.Fatal(err)
	}
	growID := d.insert(t, "copying.bin")
	var writing atomic.Bool
	var published atomic.Int64
	writing.Store(true)
	go func() {
		for writing.Load() {
			if r, err := d.Store.Get(context.Background(), growID); err == nil && r.State == lanseedd.StateReady && writing.Load() {
				published.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for range 15 {
		writeRandomTo(t, f, 64<<10)
		time.Sleep(100 * time.Millisecond)
	}
	f.Close()
	writing.Store(false)
	stopped := time.Now()
	snapshot.Guard(t, content)
	r := d.waitState(t, growID, lanseedd.StateReady)
	t.Logf("published %s after the last write", time.Since(stopped).Round(time.Millisecond))
	if n := published.Load(); n > 0 {
		t.Errorf("the growing file was ready %d times while still being written", n)
	}
	mi, err := torrentfile.Create(context.Background(), growing, torrentfile.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := mi.HashInfoBytes().HexString(); r.InfoHash != want {
		t.Errorf("published infohash %s is not the whole file's %s", r.InfoHash, want)
	}
}

func writeRandomTo(tb testing.TB, f *os.File, n int) {
	tb.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + n)
	}
	if _, err := f.Write(b); err != nil {
		tb.Fatal(err)
	}
}

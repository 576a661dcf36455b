package torrentfile

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
)

// openTree makes a content root with a file, a directory, links pointing
// inside and out, a FIFO and a socket, and a file outside the root. It
// returns the root and the outside directory.
func openTree(tb testing.TB) (root, outside string) {
	tb.Helper()
	base := tb.TempDir()
	root, outside = filepath.Join(base, "content"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "dir", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for name, data := range map[string]string{
		filepath.Join(root, "film.bin"):            "inside",
		filepath.Join(root, "dir", "sub", "e.bin"): "episode",
		filepath.Join(outside, "secret.bin"):       "SECRET",
	} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"link.bin":    "film.bin",                           // inside, at the end
		"linkdir":     "dir",                                // inside, in the middle
		"out.bin":     filepath.Join(outside, "secret.bin"), // out, at the end
		"outdir":      outside,                              // out, in the middle
		"dir/up.bin":  "../film.bin",                        // inside, relative
		"dir/sub/dot": ".",                                  // a loop
		"dir/escape":  "../../outside",                      // out, relative
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(root, "sock"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return root, outside
}

// withWalk runs f once with openat2 and once with the O_NOFOLLOW walk that
// stands in where the kernel lacks it.
func withWalk(t *testing.T, f func(t *testing.T)) {
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			was := noOpenat2.Load()
			noOpenat2.Store(walk)
			defer noOpenat2.Store(was)
			f(t)
		})
	}
}

func TestOpenBeneath(t *testing.T) {
	root, _ := openTree(t)
	snapshot.Guard(t, filepath.Dir(root))
	cases := []struct {
		rel  string
		want error // nil: opens
		dir  bool
	}{
		{rel: "film.bin"},
		{rel: "dir/sub/e.bin"},
		{rel: "dir", dir: true},
		{rel: ".", dir: true},
		{rel: "link.bin", want: ErrSymlink},          // a link at the end, even pointing inside
		{rel: "linkdir/sub/e.bin", want: ErrSymlink}, // a link in the middle
		{rel: "out.bin", want: ErrSymlink},
		{rel: "outdir/secret.bin", want: ErrSymlink},
		{rel: "dir/escape/secret.bin", want: ErrSymlink},
		{rel: "dir/sub/dot/e.bin", want: ErrSymlink},
		{rel: "..", want: ErrOutsideRoot},
		{rel: "../outside/secret.bin", want: ErrOutsideRoot},
		{rel: "dir/../film.bin", want: ErrOutsideRoot}, // not clean
		{rel: "/etc/passwd", want: ErrOutsideRoot},
		{rel: "", want: ErrBadPath},
		{rel: "a\x00b", want: ErrBadPath},
		{rel: "fifo", want: ErrNotRegular},
		{rel: "sock", want: ErrNotRegular},
		{rel: "nope.bin", want: fs.ErrNotExist},
		{rel: "film.bin/x", want: syscall.ENOTDIR},
	}
	withWalk(t, func(t *testing.T) {
		for _, c := range cases {
			start := time.Now()
			f, err := OpenBeneath(root, c.rel)
			if d := time.Since(start); d > time.Second {
				t.Errorf("%q: open took %s", c.rel, d)
			}
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Errorf("%q: %v, want %v", c.rel, err, c.want)
				}
				if f != nil {
					t.Errorf("%q: a file came back with the error", c.rel)
					f.Close()
				}
				continue
			}
			if err != nil {
				t.Errorf("%q: %v", c.rel, err)
				continue
			}
			fi, err := f.Stat()
			if err != nil || fi.IsDir() != c.dir {
				t.Errorf("%q: stat %v, %v; want dir %v", c.rel, fi, err, c.dir)
			}
			f.Close()
		}
	})
}

// TestOpenBeneathDevice opens a device under a root that holds one (/dev):
// it is refused after an open that does not block.
func TestOpenBeneathDevice(t *testing.T) {
	withWalk(t, func(t *testing.T) {
		for _, name := range []string{"null", "zero", "tty"} {
			if _, err := os.Lstat("/dev/" + name); err != nil {
				continue
			}
			f, err := OpenBeneath("/dev", name)
			if err == nil {
				f.Close()
				t.Fatalf("/dev/%s opened", name)
			}
			if !errors.Is(err, ErrNotRegular) && !errors.Is(err, fs.ErrPermission) && !errors.Is(err, syscall.ENXIO) {
				t.Errorf("/dev/%s: %v, want ErrNotRegular", name, err)
			}
		}
	})
}

// TestOpenIn opens a file of a multi-file row beneath the row's directory.
func TestOpenIn(t *testing.T) {
	root, _ := openTree(t)
	withWalk(t, func(t *testing.T) {
		dir, err := OpenBeneath(root, "dir")
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		f, err := OpenIn(dir, "sub/e.bin")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		for rel, want := range map[string]error{"up.bin": ErrSymlink, "escape/secret.bin": ErrSymlink, "../film.bin": ErrOutsideRoot} {
			if f, err := OpenIn(dir, rel); !errors.Is(err, want) {
				t.Errorf("%q: %v, want %v", rel, err, want)
				if f != nil {
					f.Close()
				}
			}
		}
	})
}

// TestOpenPublished: a ready row's file opens only while it is the file
// that was published: not after it was replaced, truncated, swapped for a
// link, a FIFO or a directory.
func TestOpenPublished(t *testing.T) {
	root, outside := openTree(t)
	published := func(rel string) lanseedd.Row {
		t.Helper()
		abs, err := Resolve(root, rel)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ScanBeneath(root, abs)
		if err != nil {
			t.Fatal(err)
		}
		return lanseedd.Row{Path: rel, Fingerprint: l.Fingerprint}
	}
	film, dir, link := published("film.bin"), published("dir"), published("link.bin")

	open := func(row lanseedd.Row, file string) error {
		f, err := OpenPublished(root, row, file)
		if err == nil {
			f.Close()
		}
		return err
	}
	if err := open(film, ""); err != nil {
		t.Errorf("the published file: %v", err)
	}
	if err := open(link, ""); err != nil {
		t.Errorf("a row whose path is a link inside the root: %v", err)
	}
	if err := open(dir, "sub/e.bin"); err != nil {
		t.Errorf("a file of a published directory: %v", err)
	}
	for _, c := range []struct {
		what string
		row  lanseedd.Row
		file string
		want error
	}{
		{"a directory asked for as a file", dir, "", ErrChanged},
		{"a file asked for as a directory", film, "x", ErrChanged},
		{"a directory inside a published directory", dir, "sub", ErrChanged},
		{"a link inside a published directory", dir, "up.bin", ErrSymlink},
		{"another device", withFP(film, func(fp *lanseedd.Fingerprint) { fp.Device++ }), "", ErrChanged},
		{"another inode", withFP(film, func(fp *lanseedd.Fingerprint) { fp.Inode++ }), "", ErrChanged},
		{"another size", withFP(film, func(fp *lanseedd.Fingerprint) { fp.Size++ }), "", ErrChanged},
		{"the root itself", lanseedd.Row{Path: "."}, "", ErrBadPath},
		{"a link out", lanseedd.Row{Path: "out.bin"}, "", ErrOutsideRoot},
	} {
		if err := open(c.row, c.file); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.what, err, c.want)
		}
	}

	// Replaced after it was published: each a new inode, so refused.
	path := filepath.Join(root, "film.bin")
	replace := func(what string, create func(tmp string) error) {
		t.Helper()
		tmp := filepath.Join(root, ".tmp")
		if err := create(tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := open(film, "")
		if !errors.Is(err, ErrChanged) && !errors.Is(err, ErrSymlink) && !errors.Is(err, ErrNotRegular) && !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("after %s: %v, want a refusal", what, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("after %s: took %s", what, d)
		}
	}
	replace("a copy with the same bytes", func(tmp string) error { return os.WriteFile(tmp, []byte("inside"), 0o644) })
	replace("a link out of the root", func(tmp string) error { return os.Symlink(filepath.Join(outside, "secret.bin"), tmp) })
	replace("a FIFO", func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) })
	replace("a directory", func(tmp string) error { return os.Mkdir(tmp, 0o755) })
}

func withFP(row lanseedd.Row, f func(*lanseedd.Fingerprint)) lanseedd.Row {
	f(&row.Fingerprint)
	return row
}

// TestHashRefusesSwappedFile: a file swapped after the scan, for a link to
// an outside file of the same size or for a FIFO, is not hashed, and the
// FIFO does not block.
func TestHashRefusesSwappedFile(t *testing.T) {
	root, outside := openTree(t)
	path := filepath.Join(root, "film.bin")
	if err := os.WriteFile(filepath.Join(outside, "same.bin"), []byte("INSIDE"), 0o644); err != nil {
		t.Fatal(err)
	}
	for what, swapIn := range map[string]func(string) error{
		"link out": func(tmp string) error { return os.Symlink(filepath.Join(outside, "same.bin"), tmp) },
		"FIFO":     func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) },
	} {
		l, err := ScanBeneath(root, path)
		if err != nil {
			t.Fatal(err)
		}
		orig := filepath.Join(root, ".orig")
		if err := os.Rename(path, orig); err != nil {
			t.Fatal(err)
		}
		if err := swapIn(path); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := HashPieces(t.Context(), l.Files, l.Total, MinPieceLength, 1, nil)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrChanged) {
				t.Errorf("%s: hashing %v, want ErrChanged", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: hashing blocked", what)
		}
		if err := os.Rename(orig, path); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveRefusesTheRoot(t *testing.T) {
	root, _ := openTree(t)
	if err := os.Symlink(".", filepath.Join(root, "self")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{".", "dir/..", "dir/sub/../..", root, root + "/", "self", "linkdir/.."} {
		if _, err := Resolve(root, rel); !errors.Is(err, ErrBadPath) {
			t.Errorf("Resolve(%q): %v, want ErrBadPath (the content root is not a row)", rel, err)
		} else if !strings.Contains(err.Error(), "content root itself") {
			t.Errorf("Resolve(%q): %v does not say why", rel, err)
		}
	}
}

func TestScanBeneathRefusesWindowsHazards(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{`..\..\evil.bat`, "tab\there.bin"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ScanBeneath(root, filepath.Join(root, name)); !errors.Is(err, ErrBadPath) {
			t.Errorf("a file named %q: %v, want ErrBadPath", name, err)
		}
		os.Remove(filepath.Join(root, name))
	}
	dir := filepath.Join(root, "Series")
	if err := os.MkdirAll(filepath.Join(dir, `a\b`), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, `a\b`, "e.bin"), []byte("x"), 0o644)
	if _, err := ScanBeneath(root, dir); !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), "backslash") {
		t.Errorf("a directory holding %q: %v, want ErrBadPath naming the backslash", `a\b`, err)
	}
	os.RemoveAll(filepath.Join(dir, `a\b`))
	os.WriteFile(filepath.Join(dir, "Star Wars: Episode IV?.bin"), []byte("x"), 0o644)
	if _, err := ScanBeneath(root, dir); err != nil {
		t.Errorf("a colon and a question mark are published as they are: %v", err)
	}
}

// storedTorrent makes path's torrent and writes it where the seeder keeps
// one, returning the file's path.
func storedTorrent(t *testing.T, path string) string {
	t.Helper()
	mi, err := Create(t.Context(), path, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(t.TempDir(), "1.torrent")
	out, err := os.Create(torrent)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := mi.Write(out); err != nil {
		t.Fatal(err)
	}
	return torrent
}

// TestVerifySwappedFile: `lanseedd verify` on a row whose file is now a
// FIFO or a link out answers at once that the row must be redone.
func TestVerifySwappedFile(t *testing.T) {
	root, outside := openTree(t)
	path := filepath.Join(root, "film.bin")
	torrent := storedTorrent(t, path)
	row := lanseedd.Row{FileID: 1, Path: "film.bin", State: lanseedd.StateReady}
	if _, err := Verify(t.Context(), root, torrent, row, 1); err != nil {
		t.Fatalf("unchanged: %v", err)
	}
	for what, create := range map[string]func(string) error{
		"FIFO":     func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"link out": func(p string) error { return os.Symlink(filepath.Join(outside, "secret.bin"), p) },
	} {
		os.Remove(path)
		if err := create(path); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := Verify(t.Context(), root, torrent, row, 1)
		if !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrBadPath) && !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("%s: %v, want the row redone", what, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %s", what, d)
		}
	}
}

// TestErrorsKeepTheirCause: an error that says what became of a row also
// says why, for errors.Is: a canceled verify is not a changed file, and an
// unreadable one is fs.ErrPermission to whoever logs or counts it.
func TestErrorsKeepTheirCause(t *testing.T) {
	for _, c := range []struct {
		cause, kind error
	}{
		{fs.ErrNotExist, ErrMissing},
		{fs.ErrPermission, ErrBadPath},
	} {
		err := Classify(&fs.PathError{Op: "open", Path: "/srv/film.mkv", Err: c.cause})
		if !errors.Is(err, c.kind) || !errors.Is(err, c.cause) {
			t.Errorf("Classify(%v) = %v: want both %v and %v", c.cause, err, c.kind, c.cause)
		}
	}

	root := t.TempDir()
	path := filepath.Join(root, "film.bin")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	torrent := storedTorrent(t, path)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	row := lanseedd.Row{FileID: 1, Path: "film.bin", State: lanseedd.StateReady}
	if _, err := Verify(ctx, root, torrent, row, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with its context canceled: %v, want context.Canceled in the chain", err)
	}
}

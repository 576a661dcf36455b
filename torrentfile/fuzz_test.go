package torrentfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// FuzzResolve gives catalog paths to Resolve and OpenBeneath over a tree
// with links pointing inside and out, a FIFO and a socket: nothing panics
// or blocks, a resolved path is inside the root (and not the root), every
// error is one an admin is shown, and nothing outside the root opens.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"film.bin", "dir/sub/e.bin", "dir", ".", "..", "dir/..", "./film.bin", "dir//sub/e.bin",
		"link.bin", "linkdir/sub/e.bin", "out.bin", "outdir/secret.bin", "dir/escape/secret.bin",
		"dir/up.bin", "dir/sub/dot/dot/e.bin", "../outside/secret.bin", "/etc/passwd", "fifo", "sock",
		"", "a\x00b", "\xff\xfe", "film.bin/", "film.bin/..", `..\..\evil.bat`, "ROOT/film.bin", "ROOT/../outside/secret.bin",
	} {
		f.Add(s)
	}
	root, outside := openTree(f)
	inside := map[uint64]bool{}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if fi, err := os.Lstat(path); err == nil {
			inside[fi.Sys().(*syscall.Stat_t).Ino] = true
		}
		return nil
	})
	secret, err := os.Stat(filepath.Join(outside, "secret.bin"))
	if err != nil {
		f.Fatal(err)
	}
	secretIno := secret.Sys().(*syscall.Stat_t).Ino

	opened := func(t *testing.T, what string, file *os.File) {
		t.Helper()
		defer file.Close()
		fi, err := file.Stat()
		if err != nil {
			t.Fatal(err)
		}
		ino := fi.Sys().(*syscall.Stat_t).Ino
		if ino == secretIno || !inside[ino] {
			t.Fatalf("%s opened inode %d, not a file of the content root", what, ino)
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			t.Fatalf("%s opened a %s", what, fi.Mode().Type())
		}
	}
	f.Fuzz(func(t *testing.T, rel string) {
		if len(rel) >= 4 && rel[:4] == "ROOT" {
			rel = root + rel[4:]
		}
		abs, err := Resolve(root, rel)
		if err != nil {
			if !errors.Is(err, ErrMissing) && !errors.Is(err, ErrOutsideRoot) && !errors.Is(err, ErrBadPath) {
				t.Fatalf("Resolve(%q): %v is none of the errors rows get", rel, err)
			}
		} else {
			if abs == root || !Within(root, abs) {
				t.Fatalf("Resolve(%q) = %s, not inside %s", rel, abs, root)
			}
			r, _ := filepath.Rel(root, abs)
			file, err := OpenBeneath(root, filepath.ToSlash(r))
			switch {
			case err == nil:
				opened(t, "the resolved "+abs, file)
			case !errors.Is(err, ErrNotRegular):
				t.Fatalf("Resolve(%q) = %s, which does not open: %v", rel, abs, err)
			}
		}
		if file, err := OpenBeneath(root, rel); err == nil {
			opened(t, "OpenBeneath "+rel, file)
		}
	})
}

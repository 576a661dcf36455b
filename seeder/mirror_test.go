package seeder

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lanseedd/lanseedd/torrentfile"
)

// TestReuseOld: the files of a mirror's old copy that the new version
// names are put, cut to their new length, where the fetch downloads; the
// files it no longer names, and those the directory has already, are not.
func TestReuseOld(t *testing.T) {
	newRoot, old, dir := t.TempDir(), t.TempDir(), t.TempDir()
	put := func(root, name string, data []byte) {
		t.Helper()
		p := filepath.Join(root, "show", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := bytes.Repeat([]byte("0123456789"), 10_000)
	put(newRoot, "e01.bin", long[:60_000]) // cut short
	put(newRoot, "s02/e02.bin", long)      // the same
	put(newRoot, "e03.bin", long[:10])     // new
	put(newRoot, "e04.bin", long[:500])    // fetched before
	put(old, "e01.bin", long)
	put(old, "s02/e02.bin", long)
	put(old, "gone.bin", long)
	put(old, "e04.bin", []byte("old"))
	put(dir, "e04.bin", []byte("a try before"))
	mi, err := torrentfile.Create(context.Background(), filepath.Join(newRoot, "show"), torrentfile.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	if err := reuseOld(filepath.Join(old, "show"), dir, &info); err != nil {
		t.Fatal(err)
	}
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	if want := []string{"show/e01.bin", "show/e04.bin", "show/s02/e02.bin"}; !slices.Equal(names, want) {
		t.Errorf("reused %q, want %q", names, want)
	}
	for name, want := range map[string][]byte{"e01.bin": long[:60_000], "s02/e02.bin": long, "e04.bin": []byte("a try before")} {
		if got, _ := os.ReadFile(filepath.Join(dir, "show", name)); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, want %d", name, len(got), len(want))
		}
	}
	// A directory where the new version has a file is not reused.
	single, err := torrentfile.Create(context.Background(), filepath.Join(newRoot, "show", "e01.bin"), torrentfile.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sinfo, err := single.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if err := reuseOld(filepath.Join(old, "show"), empty, &sinfo); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("a directory reused for a one-file torrent: %v", entries)
	}
}

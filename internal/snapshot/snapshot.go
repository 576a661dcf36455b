// Package snapshot records a directory tree (names, sizes, modes, mtimes and
// SHA-256 of every file) so that tests can prove lanseedd never wrote to it.
package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Entry is one path of a tree.
type Entry struct {
	Path    string
	Mode    fs.FileMode
	Size    int64
	MtimeNs int64
	SHA256  string // files only
	Link    string // symbolic links only
}

func (e Entry) String() string {
	return fmt.Sprintf("%s %v size=%d mtime=%d sha256=%.16s link=%q", e.Path, e.Mode, e.Size, e.MtimeNs, e.SHA256, e.Link)
}

// Tree is a recorded tree, ordered by path.
type Tree []Entry

// Take records the tree under root.
func Take(root string) (Tree, error) {
	var t Tree
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		e := Entry{Path: rel, Mode: fi.Mode(), MtimeNs: fi.ModTime().UnixNano()}
		switch {
		case fi.Mode().IsRegular():
			e.Size = fi.Size()
			if e.SHA256, err = sum(path); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		t = append(t, e)
		return nil
	})
	return t, err
}

func sum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Diff lists the differences between two trees, one line each; nil when
// they are the same. Directory mtimes are compared too: creating and
// deleting a file leaves a trace there.
func Diff(before, after Tree) []string {
	var out []string
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		switch {
		case j == len(after) || i < len(before) && before[i].Path < after[j].Path:
			out = append(out, "removed: "+before[i].String())
			i++
		case i == len(before) || after[j].Path < before[i].Path:
			out = append(out, "added:   "+after[j].String())
			j++
		default:
			if before[i] != after[j] {
				out = append(out, "changed: "+before[i].String()+" -> "+after[j].String())
			}
			i++
			j++
		}
	}
	return out
}

// Guard records root now and, when the test ends, fails it if anything under
// root changed.
func Guard(tb testing.TB, root string) {
	tb.Helper()
	before, err := Take(root)
	if err != nil {
		tb.Fatalf("snapshot %s: %v", root, err)
	}
	tb.Cleanup(func() {
		after, err := Take(root)
		if err != nil {
			tb.Errorf("snapshot %s: %v", root, err)
			return
		}
		if d := Diff(before, after); d != nil {
			tb.Errorf("content under %s changed:\n%s", root, strings.Join(d, "\n"))
		}
	})
}

// Sorted reports whether t is ordered by path, as Take returns it.
func (t Tree) Sorted() bool {
	return slices.IsSortedFunc(t, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
}

package torrentfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Errors of path resolution. ErrMissing makes a row missing; the others make
// it an error the admin must fix.
var (
	ErrMissing     = errors.New("no such file under the content root")
	ErrOutsideRoot = errors.New("path escapes the content root")
	ErrBadPath     = errors.New("invalid catalog path")
)

// Resolve maps a catalog path, relative to root, to the real absolute path
// of an existing file or directory inside root (root itself is not a row).
// Symbolic links are followed, but never out of root. root must be absolute
// and free of symbolic links (see CleanRoot). Resolve only looks at names:
// what it returns may be swapped before it is opened, so content is opened
// with OpenBeneath (or ScanBeneath's layout), which follows no link.
func Resolve(root, rel string) (string, error) {
	switch {
	case rel == "":
		return "", fmt.Errorf("%w: the path is empty", ErrBadPath)
	case !utf8.ValidString(rel):
		return "", fmt.Errorf("%w: %q is not valid UTF-8", ErrBadPath, rel)
	case strings.ContainsRune(rel, 0):
		return "", fmt.Errorf("%w: %q contains a NUL byte", ErrBadPath, rel)
	}
	var abs string
	if filepath.IsAbs(rel) {
		abs = filepath.Clean(rel)
	} else {
		abs = filepath.Join(root, rel)
	}
	if !Within(root, abs) {
		return "", fmt.Errorf("%w: %q is outside %s", ErrOutsideRoot, rel, root)
	}
	if abs == root {
		return "", fmt.Errorf("%w: %q names the content root itself; a row names a file or directory inside it", ErrBadPath, rel)
	}
	real, err := filepath.EvalSymlinks(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: %s", ErrMissing, abs)
	case errors.Is(err, fs.ErrPermission):
		return "", fmt.Errorf("%w: %s is not readable: %w", ErrBadPath, abs, err)
	case err != nil:
		return "", fmt.Errorf("%w: %w", ErrBadPath, err)
	}
	if !Within(root, real) {
		return "", fmt.Errorf("%w: %q is a link to %s", ErrOutsideRoot, rel, real)
	}
	if real == root {
		return "", fmt.Errorf("%w: %q is a link to the content root itself; a row names a file or directory inside it", ErrBadPath, rel)
	}
	return real, nil
}

// Within reports whether path is root or inside it; both are clean.
func Within(root, path string) bool {
	if path == root {
		return true
	}
	return strings.HasPrefix(path, root+string(filepath.Separator)) || root == string(filepath.Separator)
}

// CleanRoot returns the absolute, link-free form of a content root.
func CleanRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("content root %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("content root %s: %w", root, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("content root %s: %w", root, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("content root %s: not a directory", root)
	}
	return real, nil
}

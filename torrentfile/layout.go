package torrentfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
)

// File is one file of a torrent, in torrent order.
type File struct {
	Abs    string   // real path on disk
	Path   []string // path components inside the torrent (nil for a single-file torrent)
	Length int64
	Offset int64 // offset of the file's first byte in the torrent's data
	// Stat is the file's fingerprint when it was scanned: the storage
	// compares it with what the open file says before serving bytes.
	Stat lanseedd.Fingerprint

	// root is the content root Abs lies beneath, and which it is opened
	// beneath (see OpenFile); "" for a file given to Create.
	root string
}

// Layout is what a torrent covers on disk.
type Layout struct {
	Abs   string // the file or directory Scan was given
	Name  string
	Dir   bool // a multi-file torrent
	Files []File
	Total int64
	// Fingerprint summarises the files' stat data: for a directory, the total
	// size, the newest mtime, and the directory's inode and device.
	Fingerprint lanseedd.Fingerprint
}

// Scan stats abs (a file or directory, as returned by Resolve) and returns
// its layout. Files of a directory are ordered by the bytes of their
// slash-separated relative paths, as mktorrent orders them, so that the same
// tree always gives the same torrent (and the same infohash as mktorrent);
// symbolic links and special files inside a directory are left out.
func Scan(abs string) (Layout, error) {
	return scan("", abs)
}

// ScanBeneath is Scan for a path Resolve returned inside content root
// root: the layout's files are read beneath root, with no link followed
// (see OpenBeneath), and names that would be a hazard on a client's disk
// are refused (see checkName).
func ScanBeneath(root, abs string) (Layout, error) {
	l, err := scan(root, abs)
	if err != nil {
		return Layout{}, err
	}
	if err := checkName(l.Name); err != nil {
		return Layout{}, fmt.Errorf("%w: torrent name %q %w", ErrBadPath, l.Name, err)
	}
	for _, f := range l.Files {
		for _, p := range f.Path {
			if err := checkName(p); err != nil {
				return Layout{}, fmt.Errorf("%w: file %q %w", ErrBadPath, strings.Join(f.Path, "/"), err)
			}
		}
	}
	return l, nil
}

func scan(root, abs string) (Layout, error) {
	stat := os.Stat
	if root != "" {
		// Resolve returned a path free of links: one there now was
		// swapped in since, and is not followed.
		stat = os.Lstat
	}
	fi, err := stat(abs)
	if err != nil {
		return Layout{}, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return Layout{}, fmt.Errorf("scan %s: %w: %w", abs, ErrChanged, ErrSymlink)
	}
	l := Layout{Abs: abs, Name: filepath.Base(abs)}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return Layout{}, fmt.Errorf("%w: %s is not a regular file", ErrBadPath, abs)
		}
		l.Fingerprint = fingerprint(fi)
		l.Files = []File{{Abs: abs, Length: fi.Size(), Stat: l.Fingerprint, root: root}}
		l.Total = fi.Size()
		return l, nil
	}
	l.Dir = true
	l.Fingerprint = fingerprint(fi)
	l.Fingerprint.Size, l.Fingerprint.MtimeNs = 0, 0
	err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(abs, path)
		l.Files = append(l.Files, File{Abs: path, Path: strings.Split(rel, string(filepath.Separator)), Length: info.Size(), Stat: fingerprint(info), root: root})
		l.Fingerprint.Size += info.Size()
		l.Fingerprint.MtimeNs = max(l.Fingerprint.MtimeNs, info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return Layout{}, fmt.Errorf("scan %s: %w", abs, err)
	}
	if len(l.Files) == 0 {
		return Layout{}, fmt.Errorf("%w: directory %s holds no files", ErrBadPath, abs)
	}
	slices.SortFunc(l.Files, func(a, b File) int {
		return strings.Compare(strings.Join(a.Path, "/"), strings.Join(b.Path, "/"))
	})
	for i := range l.Files {
		l.Files[i].Offset = l.Total
		l.Total += l.Files[i].Length
	}
	return l, nil
}

// checkName says why a torrent or file name is refused, or returns nil.
// A name goes into the .torrent as it is on disk, and a client joins it to
// its download directory: a backslash is a path separator on Windows, so a
// Linux file named `..\..\evil.bat` would be written two directories up by
// a client that does not sanitise names, and control characters make names
// that no one can read or type. Other characters Windows forbids (`:*?"<>|`)
// are left as they are: they are common in titles, cannot move a file
// elsewhere, and Windows clients (libtorrent, qBittorrent, Transmission)
// replace them.
func checkName(name string) error {
	for _, r := range name {
		switch {
		case r == '\\':
			return errors.New(`contains a backslash, a path separator on Windows clients; rename it`)
		case r < 0x20 || r == 0x7f:
			return errors.New("contains a control character; rename it")
		}
	}
	return nil
}

func fingerprint(fi os.FileInfo) lanseedd.Fingerprint {
	fp := lanseedd.Fingerprint{Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		fp.Inode, fp.Device = st.Ino, uint64(st.Dev)
	}
	return fp
}

// InOrderOf returns the layout with its files in the order of a stored
// torrent's info, so that a torrent made before a change of Scan's order
// is still served right. It fails if the files differ from the info's.
func (l Layout) InOrderOf(info *metainfo.Info) (Layout, error) {
	if !l.Dir {
		if info.IsDir() || info.Length != l.Total {
			return Layout{}, errors.New("stored .torrent does not match the file")
		}
		return l, nil
	}
	if !info.IsDir() || len(info.Files) != len(l.Files) {
		return Layout{}, errors.New("stored .torrent does not match the files")
	}
	byPath := make(map[string]File, len(l.Files))
	for _, f := range l.Files {
		byPath[strings.Join(f.Path, "/")] = f
	}
	files := make([]File, len(info.Files))
	var off int64
	for i, fi := range info.Files {
		f, ok := byPath[strings.Join(fi.Path, "/")]
		if !ok || f.Length != fi.Length {
			return Layout{}, fmt.Errorf("stored .torrent does not match the files: %s", strings.Join(fi.Path, "/"))
		}
		f.Offset, off = off, off+f.Length
		files[i] = f
	}
	l.Files = files
	return l, nil
}

// Classify wraps an error of scanning a row's files in ErrMissing (they
// are gone) or ErrBadPath (not readable), the errors a row's state comes
// from; any other error is returned as it is.
func Classify(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrMissing, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: not readable: %w", ErrBadPath, err)
	}
	return err
}

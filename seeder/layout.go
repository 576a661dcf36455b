package seeder

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
	fi, err := os.Stat(abs)
	if err != nil {
		return Layout{}, err
	}
	l := Layout{Abs: abs, Name: filepath.Base(abs)}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return Layout{}, fmt.Errorf("%w: %s is not a regular file", ErrBadPath, abs)
		}
		l.Fingerprint = fingerprint(fi)
		l.Files = []File{{Abs: abs, Length: fi.Size(), Stat: l.Fingerprint}}
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
		l.Files = append(l.Files, File{Abs: path, Path: strings.Split(rel, string(filepath.Separator)), Length: info.Size(), Stat: fingerprint(info)})
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

func fingerprint(fi os.FileInfo) lanseedd.Fingerprint {
	fp := lanseedd.Fingerprint{Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		fp.Inode, fp.Device = st.Ino, uint64(st.Dev)
	}
	return fp
}

// inOrderOf returns the layout with its files in the order of a stored
// torrent's info, so that a torrent made before a change of Scan's order
// is still served right. It fails if the files differ from the info's.
func (l Layout) inOrderOf(info *metainfo.Info) (Layout, error) {
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

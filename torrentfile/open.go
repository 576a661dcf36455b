package torrentfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/lanseedd/lanseedd"
	"golang.org/x/sys/unix"
)

// Every byte lanseedd reads of content comes through the helpers of this
// file: hashing, the BitTorrent storage, the web seed and `lanseedd verify`.
// A path that was checked and then opened again by name can be swapped in
// between (a symbolic link renamed over it, a FIFO put in its place), so
// content is opened beneath the content root without following any link,
// without blocking, and the open descriptor, not the name, is checked.

// Errors of opening content.
var (
	// ErrNotRegular says a path names something lanseedd never reads: a
	// FIFO, a socket or a device. Only regular files and directories are
	// opened.
	ErrNotRegular = errors.New("not a regular file or directory")
	// ErrSymlink says a symbolic link stands where a file or directory was
	// resolved: content is opened without following links.
	ErrSymlink = errors.New("a symbolic link is in the way")
	// ErrChanged says the file opened is not the one scanned or published:
	// another inode, device, size or type.
	ErrChanged = errors.New("file changed on disk")
)

// noOpenat2 is set once the kernel answers openat2 with ENOSYS (before
// Linux 5.6, or a seccomp filter that hides it); the component walk is
// used from then on.
var noOpenat2 atomic.Bool

// contentFlags open content read-only: O_NONBLOCK so that opening a FIFO
// returns at once instead of waiting for a writer (it is cleared once the
// descriptor is known to be a regular file or directory), O_NOFOLLOW and
// O_NOCTTY so that neither a link nor a terminal is taken, and O_NOATIME so
// that reading leaves no trace (dropped when the kernel refuses it: it
// needs the file's owner or CAP_FOWNER).
const contentFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_NOATIME

// OpenBeneath opens rel, a slash-separated path relative to root, without
// following any symbolic link and without leaving root, and returns it only
// if it is a regular file or a directory. rel must be clean and relative
// ("." is root itself); root is trusted as given.
func OpenBeneath(root, rel string) (*os.File, error) {
	f, _, err := openBeneath(root, rel)
	return f, err
}

// OpenIn is OpenBeneath relative to an open directory, such as a
// multi-file row's directory opened with OpenBeneath.
func OpenIn(dir *os.File, rel string) (*os.File, error) {
	f, _, err := openAt(int(dir.Fd()), dir.Name(), rel)
	return f, err
}

func openBeneath(root, rel string) (*os.File, unix.Stat_t, error) {
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, unix.Stat_t{}, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dfd)
	return openAt(dfd, root, rel)
}

// openAt opens rel beneath directory dfd (named dirName in errors) and
// returns it with its stat data.
func openAt(dfd int, dirName, rel string) (*os.File, unix.Stat_t, error) {
	name := filepath.Join(dirName, filepath.FromSlash(rel))
	if err := checkRel(rel); err != nil {
		return nil, unix.Stat_t{}, fmt.Errorf("open %s: %w", name, err)
	}
	fd, err := openFD(dfd, rel, contentFlags)
	if err == unix.EPERM {
		fd, err = openFD(dfd, rel, contentFlags&^unix.O_NOATIME)
	}
	if err != nil {
		return nil, unix.Stat_t{}, openError(name, err)
	}
	return finishOpen(fd, name)
}

// finishOpen keeps fd only if it is a regular file or a directory, and
// makes it blocking again.
func finishOpen(fd int, name string) (*os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, unix.Stat_t{}, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if kind := st.Mode & unix.S_IFMT; kind != unix.S_IFREG && kind != unix.S_IFDIR {
		unix.Close(fd)
		return nil, unix.Stat_t{}, fmt.Errorf("open %s: %w: it is a %s", name, ErrNotRegular, kindName(kind))
	}
	// Reads of a regular file never block anyway; clearing the flag keeps
	// os.NewFile from handing the descriptor to the network poller.
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	if err != nil {
		unix.Close(fd)
		return nil, unix.Stat_t{}, &fs.PathError{Op: "fcntl", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), st, nil
}

// checkRel accepts the clean relative paths openAt may be given.
func checkRel(rel string) error {
	switch {
	case rel == "":
		return fmt.Errorf("%w: the path is empty", ErrBadPath)
	case strings.ContainsRune(rel, 0):
		return fmt.Errorf("%w: %q contains a NUL byte", ErrBadPath, rel)
	case path.IsAbs(rel), path.Clean(rel) != rel, rel == "..", strings.HasPrefix(rel, "../"):
		return fmt.Errorf("%w: %q is not a clean path inside the directory", ErrOutsideRoot, rel)
	}
	return nil
}

// openFD opens rel beneath dfd with openat2, or with a walk where the
// kernel has no openat2. Both refuse every symbolic link, also in the
// middle of rel.
func openFD(dfd int, rel string, flags int) (int, error) {
	if noOpenat2.Load() {
		return walkOpen(dfd, rel, flags)
	}
	how := unix.OpenHow{
		Flags:   uint64(flags),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for try := 1; ; try++ {
		fd, err := unix.Openat2(dfd, rel, &how)
		switch {
		case (err == unix.EAGAIN || err == unix.EINTR) && try < 8:
			continue // a rename raced the lookup: look again
		case err == unix.ENOSYS:
			noOpenat2.Store(true)
			return walkOpen(dfd, rel, flags)
		}
		return fd, err
	}
}

// walkOpen opens rel one component at a time, each with O_NOFOLLOW, so
// that a link anywhere fails with ELOOP (or ENOTDIR) instead of being
// followed. checkRel has ruled out "..".
func walkOpen(dfd int, rel string, flags int) (int, error) {
	parts := strings.Split(rel, "/")
	cur := dfd
	for _, p := range parts[:len(parts)-1] {
		next, err := unix.Openat(cur, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err == unix.ENOTDIR {
			// O_DIRECTORY answers a link with ENOTDIR: say it is a link.
			var st unix.Stat_t
			if unix.Fstatat(cur, p, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		if cur != dfd {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur = next
	}
	fd, err := unix.Openat(cur, parts[len(parts)-1], flags, 0)
	if cur != dfd {
		unix.Close(cur)
	}
	return fd, err
}

// openError turns an open's errno into an error an admin understands,
// keeping the errno for errors.Is (fs.ErrNotExist, fs.ErrPermission).
func openError(name string, err error) error {
	switch err {
	case unix.ELOOP:
		return fmt.Errorf("open %s: %w (lanseedd opens content without following links): %w", name, ErrSymlink, err)
	case unix.EXDEV:
		return fmt.Errorf("open %s: %w: %w", name, ErrOutsideRoot, err)
	case unix.ENXIO, unix.ENODEV, unix.EOPNOTSUPP:
		// What open says of a socket, or of a device without a driver.
		return fmt.Errorf("open %s: %w: %w", name, ErrNotRegular, err)
	}
	return &fs.PathError{Op: "open", Path: name, Err: err}
}

func kindName(kind uint32) string {
	switch kind {
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFLNK:
		return "symbolic link"
	}
	return fmt.Sprintf("file of type %#o", kind)
}

// statFingerprint is the fingerprint of open file's stat data.
func statFingerprint(st *unix.Stat_t) lanseedd.Fingerprint {
	return lanseedd.Fingerprint{Size: st.Size, MtimeNs: st.Mtim.Nano(), Inode: st.Ino, Device: st.Dev}
}

// CheckPublished returns nil if open file f is the file or directory that
// was published with fingerprint want: the same device and inode, and for
// a regular file the same size. It does not compare mtimes: a touch is not
// a change of content, and the watcher rehashes what really changed.
func CheckPublished(f *os.File, want lanseedd.Fingerprint) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &fs.PathError{Op: "stat", Path: f.Name(), Err: err}
	}
	return checkStat(f.Name(), &st, want, st.Mode&unix.S_IFMT == unix.S_IFREG)
}

func checkStat(name string, st *unix.Stat_t, want lanseedd.Fingerprint, size bool) error {
	switch {
	case st.Ino != want.Inode || st.Dev != want.Device:
		return fmt.Errorf("%s: %w: inode %d on device %d, published %d on %d", name, ErrChanged, st.Ino, st.Dev, want.Inode, want.Device)
	case size && st.Size != want.Size:
		return fmt.Errorf("%s: %w: %d bytes, published %d", name, ErrChanged, st.Size, want.Size)
	}
	return nil
}

// OpenPublished opens a file of a ready row for serving: the row's path is
// resolved inside root (a link pointing inside root is followed once, by
// Resolve), opened beneath root with no link followed, and checked against
// the row's published fingerprint. file is a file's slash-separated path
// inside a multi-file row's directory, or "" for a single-file row; it is
// opened beneath the directory's descriptor, never by name from root. The
// caller checks the length against the torrent's.
func OpenPublished(root string, row lanseedd.Row, file string) (*os.File, error) {
	abs, err := Resolve(root, row.Path)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOutsideRoot, abs, err)
	}
	top, st, err := openBeneath(root, filepath.ToSlash(rel))
	if err != nil {
		return nil, err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if err := checkStat(top.Name(), &st, row.Fingerprint, !isDir); err != nil {
		top.Close()
		return nil, err
	}
	if file == "" {
		if isDir {
			top.Close()
			return nil, fmt.Errorf("%s: %w: a directory, published as a file", abs, ErrChanged)
		}
		return top, nil
	}
	defer top.Close()
	if !isDir {
		return nil, fmt.Errorf("%s: %w: a file, published as a directory", abs, ErrChanged)
	}
	f, st, err := openAt(int(top.Fd()), top.Name(), file)
	if err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("%s: %w: a directory, published as a file", f.Name(), ErrChanged)
	}
	return f, nil
}

// OpenFile opens a file of a layout for reading and returns its current
// fingerprint. A layout scanned beneath a content root opens beneath it;
// one made by Create (no root) opens its path as given, still without
// blocking and only if it is a regular file. A file that is no longer a
// regular file (a FIFO or a link in its place) is ErrChanged.
func OpenFile(fl *File) (*os.File, lanseedd.Fingerprint, error) {
	var (
		f   *os.File
		st  unix.Stat_t
		err error
	)
	if fl.root != "" {
		rel, rerr := filepath.Rel(fl.root, fl.Abs)
		if rerr != nil {
			return nil, lanseedd.Fingerprint{}, fmt.Errorf("open %s: %w: %w", fl.Abs, ErrOutsideRoot, rerr)
		}
		f, st, err = openBeneath(fl.root, filepath.ToSlash(rel))
	} else {
		f, st, err = openPlain(fl.Abs)
	}
	switch {
	case errors.Is(err, ErrSymlink), errors.Is(err, ErrNotRegular):
		return nil, lanseedd.Fingerprint{}, fmt.Errorf("%w: %w", ErrChanged, err)
	case err != nil:
		return nil, lanseedd.Fingerprint{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, lanseedd.Fingerprint{}, fmt.Errorf("open %s: %w: a directory where a file was scanned", fl.Abs, ErrChanged)
	}
	return f, statFingerprint(&st), nil
}

// openPlain opens an absolute path that is not under a content root (a
// file given to `lanseedd create`): links are followed, as mktorrent
// follows them, but nothing blocks and only a regular file or directory
// is returned.
func openPlain(abs string) (*os.File, unix.Stat_t, error) {
	dir, base := filepath.Split(abs)
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, unix.Stat_t{}, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dfd)
	flags := contentFlags &^ unix.O_NOFOLLOW
	fd, err := unix.Openat(dfd, base, flags, 0)
	if err == unix.EPERM {
		fd, err = unix.Openat(dfd, base, flags&^unix.O_NOATIME, 0)
	}
	if err != nil {
		return nil, unix.Stat_t{}, openError(abs, err)
	}
	return finishOpen(fd, abs)
}

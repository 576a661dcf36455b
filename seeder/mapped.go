package seeder

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errNoMap says a file cannot be mapped (its filesystem has no mmap): it
// is read instead.
var errNoMap = errors.New("cannot map")

// A map starts at a multiple of mapAlign in the file, a huge page's size
// on amd64 and arm64: the kernel then places it so that page cache held
// in huge folios (a file read from disk, or written in large blocks) is
// mapped a whole folio per fault, not 512 pages each with its own entry
// (measured: a fifth less CPU than 4 KiB pages to hash 1 GiB). The bytes
// before off are mapped, never touched.
const mapAlign = 2 << 20

// mapped calls fn with the bytes of [off, off+n) of fl, open as f, through
// a read-only map of them. Content is a live tree: a file truncated while
// it is hashed would kill the process with SIGBUS when a page past its new
// end is read, so the fault is made a panic in this goroutine, recovered
// here and returned as ErrShrank (or EIO, if the file did not shrink: a
// read error of the disk under the map).
func mapped(f *os.File, fl *File, off, n int64, fn func([]byte)) (err error) {
	start := off &^ (mapAlign - 1)
	m, err := unix.Mmap(int(f.Fd()), start, int(off+n-start), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map %s: %w: %w", fl.Abs, errNoMap, err)
	}
	defer unix.Munmap(m)
	// Advice only: read ahead from disk, and leave the pages as recently
	// used as they were (a file hashed once does not push the files that
	// peers ask for out of the page cache).
	_ = unix.Madvise(m, unix.MADV_SEQUENTIAL)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		fault, ok := v.(interface{ Addr() uintptr })
		base := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
		if !ok || fault.Addr() < base || fault.Addr()-base >= uintptr(len(m)) {
			panic(v)
		}
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil && st.Size < off+n {
			err = fmt.Errorf("read %s: truncated to %d bytes while hashed: %w", fl.Abs, st.Size, ErrShrank)
		} else {
			err = fmt.Errorf("read %s: fault at offset %d through a map: %w", fl.Abs, start+int64(fault.Addr()-base), unix.EIO)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	fn(m[off-start:])
	return nil
}

package torrentfile

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
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

// probeRuns is how many of the first runs of a big hash are timed, every
// other one mapped and the rest read, to choose how the others are read.
// A map saves copying each byte out of the page cache, but each page it
// maps costs a fault and a TLB entry, and some machines make those dearer
// than the copy. Measured hashing 1 GiB: on one machine a map took a fifth
// less CPU than reading; on a virtual machine with shadow page tables it
// took twice as much. A run is timed by the CPU its thread spent on it,
// user and system (page faults, copies), not by the clock, which also
// counts the time the thread waited for a core; and each way is judged by
// its fastest run: a run can be slowed by what it does not cause (the
// other worker's unmap interrupting it, a fault on a new buffer), never
// sped up.
const probeRuns = 8

// probeWarm is how many of the probe runs, the first ones, are not counted:
// a process's first runs find its buffers, the page tables of its maps and
// the CPU's caches cold (measured: up to 1.7 times what later runs of the
// same way cost), whichever way they read.
const probeWarm = 2

// threadCPU is the CPU time the calling thread has used, user and system,
// or, where the system does not say, the time by the clock.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ts.Nano())
}

// A chooser decides, for one HashPieces call, whether a run of pieces is
// mapped or read. A hash too short to probe is read.
type chooser struct {
	probing  bool
	mu       sync.Mutex
	best     [2]float64 // ns per byte of the fastest probe run: [0] read, [1] mapped
	finished int
	useMap   atomic.Bool
}

func newChooser(runs int64) *chooser {
	return &chooser{probing: runs >= 2*probeRuns}
}

// mapRun says whether run is to be mapped.
func (c *chooser) mapRun(run int64) bool {
	if c.probing && run < probeRuns {
		return run%2 == 0
	}
	return c.useMap.Load()
}

// ran records that run took d to hash n bytes. When the last probe run is
// in, the others map if mapping was clearly cheaper per byte; reading is
// the default, as it costs at most a copy.
func (c *chooser) ran(run int64, d time.Duration, n int64) {
	if !c.probing || run >= probeRuns || n <= 0 {
		return
	}
	m := 0
	if run%2 == 0 {
		m = 1
	}
	perByte := float64(d) / float64(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	if run >= probeWarm && (c.best[m] == 0 || perByte < c.best[m]) {
		c.best[m] = perByte
	}
	c.finished++
	if c.finished == probeRuns {
		c.useMap.Store(c.best[1] < 0.95*c.best[0])
	}
}

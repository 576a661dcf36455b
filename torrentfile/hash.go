package torrentfile

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/internal/sha1x8"
	"golang.org/x/sys/unix"
)

// Piece length bounds, and the piece count PieceLength aims for.
const (
	MinPieceLength = 16 << 10
	MaxPieceLength = 16 << 20
	maxPieces      = 2000
)

// PieceLength chooses the piece length for total bytes of data: the smallest
// power of two from 16 KiB up to 16 MiB that gives at most 2,000 pieces, so
// that big files get 1,000–2,000 pieces and the .torrent stays small.
func PieceLength(total int64) int64 {
	pl := int64(MinPieceLength)
	for pl < MaxPieceLength && (total+pl-1)/pl > maxPieces {
		pl *= 2
	}
	return pl
}

// ValidPieceLength says whether n is a piece length lanseedd makes: a
// power of two from MinPieceLength to MaxPieceLength.
func ValidPieceLength(n int64) bool {
	return n >= MinPieceLength && n <= MaxPieceLength && n&(n-1) == 0
}

// A worker takes runs of consecutive pieces of about hashRun bytes (and at
// least eight pieces, one for each lane of sha1x8), so that each one reads
// sequentially and both cores stay busy to the end of one big file. Data is
// read in chunks of readChunk bytes, small enough to stay in the CPU cache
// between read and hash, or spans of at least mapMin bytes are mapped
// read-only and hashed in place, with no copy from the page cache. Which is
// cheaper depends on the machine, so HashPieces measures both on its first
// runs (see chooser). Shorter spans (a small file of a directory, where a
// map's two syscalls and TLB flush save a short copy) are always read.
//
// Where sha1x8 is faster than crypto/sha1 (sha1x8.Faster), eight whole
// pieces are hashed at once: in place where a map holds them, or read (see
// readLanes). The rest, and every piece on a CPU where it is not faster,
// go through crypto/sha1 one piece after another.
const (
	hashRun   = 4 << 20
	mapMin    = 256 << 10
	readChunk = 256 << 10
)

// Info hashes the layout's data and returns its info dictionary. It holds
// only name, length or files, piece length and pieces, so the same content
// and name always give the same infohash. pieceLength 0 chooses one;
// workers 0 uses every core.
func Info(ctx context.Context, l Layout, pieceLength int64, workers int) (*metainfo.Info, error) {
	if pieceLength == 0 {
		pieceLength = PieceLength(l.Total)
	}
	pieces, err := HashPieces(ctx, l.Files, l.Total, pieceLength, workers, nil)
	if err != nil {
		return nil, err
	}
	info := &metainfo.Info{Name: l.Name, PieceLength: pieceLength, Pieces: pieces}
	if l.Dir {
		for _, f := range l.Files {
			info.Files = append(info.Files, metainfo.FileInfo{Length: f.Length, Path: f.Path})
		}
	} else {
		info.Length = l.Total
	}
	return info, nil
}

// HashPieces returns the concatenated SHA-1 hashes of the pieces of files
// (in order, total bytes). Workers take runs of whole pieces from a shared
// counter, so every core works on one big file as on many small ones.
// progress, if not nil, is called with the bytes hashed so far, from any
// worker.
func HashPieces(ctx context.Context, files []File, total, pieceLength int64, workers int, progress func(int64)) ([]byte, error) {
	if pieceLength <= 0 {
		return nil, fmt.Errorf("piece length %d: must be positive", pieceLength)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	numPieces := (total + pieceLength - 1) / pieceLength
	out := make([]byte, numPieces*sha1.Size)
	perRun := max(sha1x8.Lanes, hashRun/pieceLength)
	runs := (numPieces + perRun - 1) / perRun
	workers = int(min(int64(workers), max(runs, 1)))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
	)
	choose := newChooser(runs)
	for range workers {
		wg.Go(func() {
			if choose.probing {
				// On one thread, so that the probe's runs are timed by
				// the thread's CPU time (see threadCPU).
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			r := spanReader{files: files, sequential: true}
			defer r.close()
			ph := pieceHasher{h: sha1.New(), pieceLength: pieceLength, total: total, out: out}
			if sha1x8.Faster() && pieceLength%sha1x8.BlockSize == 0 {
				ph.x8 = new(sha1x8.Digest)
				ph.x8.Reset()
			}
			for ctx.Err() == nil {
				run := next.Add(1) - 1
				if run >= runs {
					return
				}
				first := run * perRun
				start, end := first*pieceLength, min((first+perRun)*pieceLength, total)
				r.mapOK = choose.mapRun(run)
				began := threadCPU()
				if err := ph.run(&r, start, end); err != nil {
					cancel(err)
					return
				}
				choose.ran(run, threadCPU()-began, end-start)
				if progress != nil {
					progress(done.Add(end - start))
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// pieceHasher hashes consecutive bytes of the data, from the start of a
// piece on, and writes each piece's hash into out as the piece ends.
type pieceHasher struct {
	h                  hash.Hash
	x8                 *sha1x8.Digest // nil where it is slower than h
	pieceLength, total int64
	out                []byte
	piece              int64 // the piece being hashed
	filled             int64 // its bytes hashed so far
	eight              int64 // pieces hashed by x8
}

// run hashes the whole pieces in [start, end) of r's files.
func (ph *pieceHasher) run(r *spanReader, start, end int64) error {
	pl := ph.pieceLength
	ph.piece, ph.filled = start/pl, 0
	if ph.x8 != nil && !r.mapOK {
		for start+sha1x8.Lanes*pl <= end {
			ok, err := ph.readLanes(r, start)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			start += sha1x8.Lanes * pl
		}
	}
	// Mapped, write gets whole pieces eight at a time where it can.
	return r.each(start, end-start, ph.write)
}

// laneBuffer is what readLanes reads eight pieces into: all of each, in
// order, when they fit (however many files they span), or else a chunk of
// each in turn.
const laneBuffer = 1 << 20

// readLanes hashes the eight whole pieces from off on, read into r's lane
// buffer, and says false if it cannot: big pieces read a chunk at a time
// must be in one file, or each chunk would open as many files.
func (ph *pieceHasher) readLanes(r *spanReader, off int64) (bool, error) {
	pl := ph.pieceLength
	chunk := int64(laneBuffer / sha1x8.Lanes)
	if pl <= chunk {
		chunk = pl
	} else if pl%chunk != 0 || !oneFile(r.files, off, sha1x8.Lanes*pl) {
		return false, nil
	}
	if r.lanes == nil {
		r.lanes = make([]byte, laneBuffer)
	}
	var lanes [sha1x8.Lanes][]byte
	for j := range lanes {
		lanes[j] = r.lanes[int64(j)*chunk : int64(j+1)*chunk]
	}
	if chunk == pl {
		// Whole pieces, consecutive: one read per file.
		if err := r.readAt(r.lanes[:sha1x8.Lanes*pl], off); err != nil {
			return true, err
		}
		ph.x8.Write(&lanes)
	} else {
		for o := int64(0); o < pl; o += chunk {
			for j := range lanes {
				if err := r.readAt(lanes[j], off+int64(j)*pl+o); err != nil {
					return true, err
				}
			}
			ph.x8.Write(&lanes)
		}
	}
	ph.sum8()
	return true, nil
}

// sum8 writes the sums of the eight pieces from ph.piece on, hashed into
// ph.x8, and moves on past them.
func (ph *pieceHasher) sum8() {
	var sums [sha1x8.Lanes][sha1.Size]byte
	ph.x8.Sum(&sums)
	for j := range sums {
		copy(ph.out[(ph.piece+int64(j))*sha1.Size:], sums[j][:])
	}
	ph.piece += sha1x8.Lanes
	ph.eight += sha1x8.Lanes
}

func (ph *pieceHasher) write(b []byte) {
	pl := ph.pieceLength
	for len(b) > 0 {
		if ph.x8 != nil && ph.filled == 0 && int64(len(b)) >= sha1x8.Lanes*pl && (ph.piece+sha1x8.Lanes)*pl <= ph.total {
			var lanes [sha1x8.Lanes][]byte
			for j := range lanes {
				lanes[j], b = b[:pl], b[pl:]
			}
			ph.x8.Write(&lanes)
			ph.sum8()
			continue
		}
		n := min(int64(len(b)), ph.pieceLength-ph.filled)
		ph.h.Write(b[:n])
		b, ph.filled = b[n:], ph.filled+n
		if ph.filled == ph.pieceLength || ph.piece*ph.pieceLength+ph.filled == ph.total {
			ph.h.Sum(ph.out[ph.piece*sha1.Size : ph.piece*sha1.Size])
			ph.h.Reset()
			ph.piece, ph.filled = ph.piece+1, 0
		}
	}
}

// spanReader reads byte ranges of the concatenation of files, keeping the
// last file it used open. A sequential reader tells the kernel to read ahead.
type spanReader struct {
	files      []File
	sequential bool
	mapOK      bool  // map spans of mapMin bytes or more, rather than read them
	cur        *File // the file f is open on
	f          *os.File
	buf        []byte // for spans that are read, not mapped
	lanes      []byte // for pieces read eight at a time
}

// each calls fn with the bytes of [off, off+length) of the files'
// concatenation, in order, in slices valid only during the call.
func (r *spanReader) each(off, length int64, fn func([]byte)) error {
	return EachSpan(r.files, off, length, func(fl *File, fileOff, n int64) error {
		f, err := r.open(fl)
		if err != nil {
			return err
		}
		if r.mapOK && n >= mapMin {
			err := mapped(f, fl, fileOff, n, fn)
			if !errors.Is(err, errNoMap) {
				return err
			}
		}
		return r.read(f, fl, fileOff, n, fn)
	})
}

// oneFile says whether [off, off+length) of the files' concatenation lies in
// one file.
func oneFile(files []File, off, length int64) bool {
	n := 0
	EachSpan(files, off, length, func(*File, int64, int64) error { n++; return nil })
	return n == 1
}

// readAt reads len(b) bytes at off of the files' concatenation into b.
func (r *spanReader) readAt(b []byte, off int64) error {
	return EachSpan(r.files, off, int64(len(b)), func(fl *File, fileOff, n int64) error {
		f, err := r.open(fl)
		if err != nil {
			return err
		}
		if err := readFull(f, fl, b[:n], fileOff); err != nil {
			return err
		}
		b = b[n:]
		return nil
	})
}

// readFull reads len(b) bytes at off of fl, open as f; a file that ends
// before is ErrShrank.
func readFull(f *os.File, fl *File, b []byte, off int64) error {
	if _, err := f.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", fl.Abs, ErrShrank)
		}
		return fmt.Errorf("read %s: %w", fl.Abs, err)
	}
	return nil
}

// read calls fn with the bytes of [off, off+n) of fl, read into r's buffer.
func (r *spanReader) read(f *os.File, fl *File, off, n int64, fn func([]byte)) error {
	if r.buf == nil {
		r.buf = make([]byte, readChunk)
	}
	for n > 0 {
		b := r.buf[:min(int64(len(r.buf)), n)]
		if err := readFull(f, fl, b, off); err != nil {
			return err
		}
		fn(b)
		off, n = off+int64(len(b)), n-int64(len(b))
	}
	return nil
}

// ErrShrank says a file is shorter than when it was scanned.
var ErrShrank = errors.New("file is shorter than when it was scanned")

// open opens fl unless it is the file already open. The file must still be
// the one scanned (same inode and device, not shorter): a file swapped
// since, for another file or a link to one, is never hashed in its place.
// (One that grew is hashed up to its scanned length; the scan after
// hashing sees the change.)
func (r *spanReader) open(fl *File) (*os.File, error) {
	if r.f != nil && r.cur == fl {
		return r.f, nil
	}
	r.close()
	f, fp, err := OpenFile(fl)
	if err != nil {
		return nil, err
	}
	switch {
	case fp.Inode != fl.Stat.Inode || fp.Device != fl.Stat.Device:
		f.Close()
		return nil, fmt.Errorf("open %s: %w since it was scanned: another inode", fl.Abs, ErrChanged)
	case fp.Size < fl.Stat.Size:
		f.Close()
		return nil, fmt.Errorf("open %s: %w", fl.Abs, ErrShrank)
	}
	if r.sequential {
		// Advice only: a failure costs speed, not correctness.
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	}
	r.f, r.cur = f, fl
	return f, nil
}

func (r *spanReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

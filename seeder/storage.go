package seeder

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
	"golang.org/x/sys/unix"
)

// Errors of the read-only storage.
var (
	// ErrReadOnly is returned by every write to seeded content.
	ErrReadOnly = errors.New("lanseedd storage is read-only")
	// ErrPieceChanged says a piece's bytes on disk no longer match its hash.
	ErrPieceChanged = errors.New("piece changed on disk")
	// errStatChanged says a file's stat data differ from the scan's.
	errStatChanged = errors.New("file changed on disk since it was hashed")
)

// roStorage is an anacrolix storage that serves registered layouts
// read-only: reads are pread on files opened O_RDONLY and kept in a bounded
// descriptor cache, every write fails, and piece completion comes from
// lanseedd's own state, so the client never creates, truncates or renames
// anything. It has no database and no mmap: what peers are sent is a copy
// anyway, and pread of a truncated file returns a short count where a map
// faults (hashing, which has no copy to make, maps: see mapped).
//
// The client never re-hashes a piece the storage calls complete, so the
// storage guards what it serves: every read compares the open file's stat
// data with the fingerprint taken when the torrent was hashed. Once a
// torrent's files changed, each piece is read whole and hashed before any
// of its bytes are served, and the bytes served are the ones hashed.
type roStorage struct {
	fds *fdCache

	mu       sync.Mutex
	torrents map[metainfo.Hash]*roTorrent

	// notify is told, once per torrent and once per bad piece, that content
	// under a seeded torrent changed: piece is a piece that no longer
	// matches, or -1 when the files' stat data changed. It runs in its own
	// goroutine, never under a lock or on a peer's read path.
	notify func(ih metainfo.Hash, piece int)

	served   atomic.Int64 // bytes handed to the client for peers
	verified atomic.Int64 // bytes read to re-check pieces of changed files
}

type roTorrent struct {
	ih    metainfo.Hash
	files []torrentfile.File

	// Set by OpenTorrent from the info dictionary.
	pieces      []byte
	pieceLength int64

	changed atomic.Bool // a file's stat data differ from the scan's

	mu   sync.Mutex
	bad  map[int]bool // pieces found not to match
	last checkedPiece // the last piece hashed since the change
}

// checkedPiece is a piece read whole and found to match its hash, with the
// stat data of its files at the time: while they stay the same, its blocks
// are served from data.
type checkedPiece struct {
	index int
	stamp []lanseedd.Fingerprint
	data  []byte
}

func newROStorage(openFiles int, notify func(metainfo.Hash, int)) *roStorage {
	return &roStorage{
		fds:      newFDCache(openFiles),
		torrents: make(map[metainfo.Hash]*roTorrent),
		notify:   notify,
	}
}

// register makes a layout available before the torrent is added.
func (s *roStorage) register(ih metainfo.Hash, files []torrentfile.File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.torrents[ih] = &roTorrent{ih: ih, files: files, bad: make(map[int]bool)}
}

// unregister forgets a torrent and closes its files.
func (s *roStorage) unregister(ih metainfo.Hash) {
	s.mu.Lock()
	t := s.torrents[ih]
	delete(s.torrents, ih)
	s.mu.Unlock()
	if t != nil {
		for _, f := range t.files {
			s.fds.forget(f.Abs)
		}
	}
}

// OpenTorrent implements storage.ClientImpl. Only registered torrents open:
// nothing is ever downloaded.
func (s *roStorage) OpenTorrent(_ context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	s.mu.Lock()
	t, ok := s.torrents[ih]
	s.mu.Unlock()
	if !ok {
		return storage.TorrentImpl{}, fmt.Errorf("torrent %s: %w: not seeded by lanseedd", ih.HexString(), ErrReadOnly)
	}
	t.mu.Lock()
	t.pieces, t.pieceLength = info.Pieces, info.PieceLength
	t.mu.Unlock()
	return storage.TorrentImpl{
		Piece: func(p metainfo.Piece) storage.PieceImpl {
			return &roPiece{s: s, t: t, index: p.Index(), offset: p.Offset(), length: p.Length()}
		},
		Close: func() error { return nil },
	}, nil
}

type roPiece struct {
	s      *roStorage
	t      *roTorrent
	index  int
	offset int64
	length int64
}

// ReadAt serves b from the piece at off. A short file gives an error, never
// zeros: the client then stops offering the piece.
func (p *roPiece) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > p.length {
		return 0, fmt.Errorf("read %d bytes at %d of a piece of %d: %w", len(b), off, p.length, io.ErrUnexpectedEOF)
	}
	if !p.t.changed.Load() {
		_, err := p.s.read(p.t, b, p.offset+off, true)
		if err == nil {
			p.s.served.Add(int64(len(b)))
			return len(b), nil
		}
		if !errors.Is(err, errStatChanged) {
			return 0, err
		}
		if p.t.changed.CompareAndSwap(false, true) && p.s.notify != nil {
			go p.s.notify(p.t.ih, -1)
		}
	}
	data, err := p.checked()
	if err != nil {
		return 0, err
	}
	p.s.served.Add(int64(len(b)))
	return copy(b, data[off:]), nil
}

// checked returns the piece's bytes once they are found to match its hash.
func (p *roPiece) checked() ([]byte, error) {
	t := p.t
	t.mu.Lock()
	bad, last := t.bad[p.index], t.last
	t.mu.Unlock()
	if bad {
		return nil, fmt.Errorf("piece %d of %s: %w", p.index, t.ih.HexString(), ErrPieceChanged)
	}
	if last.data != nil && last.index == p.index {
		if stamp, err := p.s.stamp(t, p.offset, p.length); err == nil && slices.Equal(stamp, last.stamp) {
			return last.data, nil
		}
	}
	data := make([]byte, p.length)
	stamp, err := p.s.read(t, data, p.offset, false)
	p.s.verified.Add(p.length)
	if err == nil {
		sum := sha1.Sum(data)
		if want := t.pieces[p.index*sha1.Size : (p.index+1)*sha1.Size]; !bytes.Equal(sum[:], want) {
			err = fmt.Errorf("piece %d of %s: %w", p.index, t.ih.HexString(), ErrPieceChanged)
		}
	}
	if err != nil {
		t.mu.Lock()
		already := t.bad[p.index]
		t.bad[p.index] = true
		t.mu.Unlock()
		if !already && p.s.notify != nil {
			go p.s.notify(t.ih, p.index)
		}
		return nil, err
	}
	t.mu.Lock()
	t.last = checkedPiece{index: p.index, stamp: stamp, data: data}
	t.mu.Unlock()
	return data, nil
}

// read fills b from the torrent's data at off, and returns the stat data of
// the files it read. With strict, a file whose stat data differ from the
// scan's is not read: errStatChanged.
func (s *roStorage) read(t *roTorrent, b []byte, off int64, strict bool) ([]lanseedd.Fingerprint, error) {
	var stamp []lanseedd.Fingerprint
	err := torrentfile.EachSpan(t.files, off, int64(len(b)), func(fl *torrentfile.File, fileOff, n int64) error {
		e, fp, err := s.open(fl)
		if err != nil {
			return err
		}
		defer s.fds.put(e)
		stamp = append(stamp, fp)
		if strict && fp != fl.Stat {
			return fmt.Errorf("%s: %w", fl.Abs, errStatChanged)
		}
		if _, err := e.f.ReadAt(b[:n], fileOff); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("read %s: %w", fl.Abs, torrentfile.ErrShrank)
			}
			return fmt.Errorf("read %s: %w", fl.Abs, err)
		}
		b = b[n:]
		return nil
	})
	return stamp, err
}

// stamp returns the stat data of the files under a byte range.
func (s *roStorage) stamp(t *roTorrent, off, length int64) ([]lanseedd.Fingerprint, error) {
	var stamp []lanseedd.Fingerprint
	err := torrentfile.EachSpan(t.files, off, length, func(fl *torrentfile.File, _, _ int64) error {
		e, fp, err := s.open(fl)
		if err != nil {
			return err
		}
		s.fds.put(e)
		stamp = append(stamp, fp)
		return nil
	})
	return stamp, err
}

// open returns fl's cached descriptor and its current stat data. A cached
// descriptor of another inode (the path was replaced since it was opened)
// is dropped and the path opened again.
func (s *roStorage) open(fl *torrentfile.File) (*cachedFD, lanseedd.Fingerprint, error) {
	for retry := true; ; retry = false {
		e, err := s.fds.get(fl)
		if err != nil {
			return nil, lanseedd.Fingerprint{}, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(e.f.Fd()), &st); err != nil {
			s.fds.put(e)
			return nil, lanseedd.Fingerprint{}, fmt.Errorf("stat %s: %w", fl.Abs, err)
		}
		fp := lanseedd.Fingerprint{Size: st.Size, MtimeNs: st.Mtim.Nano(), Inode: st.Ino, Device: st.Dev}
		if retry && (fp.Inode != fl.Stat.Inode || fp.Device != fl.Stat.Device) {
			s.fds.put(e)
			s.fds.forgetFD(e)
			continue
		}
		return e, fp, nil
	}
}

func (p *roPiece) WriteAt([]byte, int64) (int, error) { return 0, ErrReadOnly }

// MarkComplete is a no-op: every piece of a registered torrent is complete.
func (p *roPiece) MarkComplete() error { return nil }

// MarkNotComplete is how the client tells that a piece failed its own hash
// check: the file changed on disk. The piece stops being offered.
func (p *roPiece) MarkNotComplete() error {
	p.t.mu.Lock()
	already := p.t.bad[p.index]
	p.t.bad[p.index] = true
	p.t.mu.Unlock()
	if !already && p.s.notify != nil {
		go p.s.notify(p.t.ih, p.index)
	}
	return nil
}

// Completion is lanseedd's word, not a database's: complete unless the
// piece was found changed.
func (p *roPiece) Completion() storage.Completion {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	return storage.Completion{Ok: true, Complete: !p.t.bad[p.index]}
}

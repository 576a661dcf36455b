package seeder

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// ErrReadOnly is returned by every write to seeded content.
var ErrReadOnly = errors.New("lanseedd storage is read-only")

// roStorage is an anacrolix storage that serves registered layouts
// read-only: reads are pread on files opened O_RDONLY, every write fails,
// and piece completion comes from lanseedd's own state, so the client never
// creates, truncates or renames anything. It has no database and no mmap.
type roStorage struct {
	mu       sync.Mutex
	torrents map[metainfo.Hash]*roTorrent
	// bad is called (outside locks) when the client finds a piece that no
	// longer matches its hash: the content changed under a ready torrent.
	bad func(ih metainfo.Hash, piece int)
}

type roTorrent struct {
	files []File
	mu    sync.Mutex
	bad   map[int]bool // pieces found not to match
}

func newROStorage(bad func(metainfo.Hash, int)) *roStorage {
	return &roStorage{torrents: make(map[metainfo.Hash]*roTorrent), bad: bad}
}

// register makes a layout available before the torrent is added.
func (s *roStorage) register(ih metainfo.Hash, files []File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.torrents[ih] = &roTorrent{files: files, bad: make(map[int]bool)}
}

func (s *roStorage) unregister(ih metainfo.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.torrents, ih)
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
	return storage.TorrentImpl{
		Piece: func(p metainfo.Piece) storage.PieceImpl {
			return &roPiece{s: s, t: t, ih: ih, index: p.Index(), offset: p.Offset()}
		},
		Close: func() error { return nil },
	}, nil
}

type roPiece struct {
	s      *roStorage
	t      *roTorrent
	ih     metainfo.Hash
	index  int
	offset int64
}

func (p *roPiece) ReadAt(b []byte, off int64) (int, error) {
	r := spanReader{files: p.t.files}
	defer r.close()
	if err := r.readAt(b, p.offset+off); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (p *roPiece) WriteAt([]byte, int64) (int, error) { return 0, ErrReadOnly }

// MarkComplete is a no-op: every piece of a registered torrent is complete.
func (p *roPiece) MarkComplete() error { return nil }

// MarkNotComplete is how the client tells that a piece failed its hash
// check: the file changed on disk. The piece stops being offered.
func (p *roPiece) MarkNotComplete() error {
	p.t.mu.Lock()
	already := p.t.bad[p.index]
	p.t.bad[p.index] = true
	p.t.mu.Unlock()
	if !already && p.s.bad != nil {
		p.s.bad(p.ih, p.index)
	}
	return nil
}

func (p *roPiece) Completion() storage.Completion {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	return storage.Completion{Ok: true, Complete: !p.t.bad[p.index]}
}

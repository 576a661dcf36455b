package seeder

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// seededFile is a file registered with a read-only storage, as the client
// sees it.
type seededFile struct {
	st      *roStorage
	info    *metainfo.Info
	ih      metainfo.Hash
	ti      storage.TorrentImpl
	mu      sync.Mutex
	notices []int
}

func seedFile(tb testing.TB, path string, pieceLength int64, openFiles int) *seededFile {
	tb.Helper()
	l, err := torrentfile.Scan(path)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := torrentfile.Info(context.Background(), l, pieceLength, 0)
	if err != nil {
		tb.Fatal(err)
	}
	ib, err := torrentfile.InfoBytes(info)
	if err != nil {
		tb.Fatal(err)
	}
	sf := &seededFile{info: info, ih: metainfo.HashBytes(ib)}
	sf.st = newROStorage(openFiles, func(_ metainfo.Hash, piece int) {
		sf.mu.Lock()
		sf.notices = append(sf.notices, piece)
		sf.mu.Unlock()
	})
	tb.Cleanup(sf.st.fds.closeAll)
	sf.st.register(sf.ih, l.Files)
	if sf.ti, err = sf.st.OpenTorrent(context.Background(), info, sf.ih); err != nil {
		tb.Fatal(err)
	}
	return sf
}

func (sf *seededFile) piece(i int) storage.PieceImpl { return sf.ti.Piece(sf.info.Piece(i)) }

// read reads piece i in 16 KiB blocks, as peers ask for it.
func (sf *seededFile) read(i int) ([]byte, error) {
	p := sf.info.Piece(i)
	out := make([]byte, p.Length())
	for off := int64(0); off < p.Length(); off += 16 << 10 {
		b := out[off:min(off+16<<10, p.Length())]
		n, err := sf.piece(i).ReadAt(b, off)
		if err != nil {
			return nil, err
		}
		if n != len(b) {
			return nil, errors.New("short read without an error")
		}
	}
	return out, nil
}

// waitNotices waits for the storage's change notices (sent from their own
// goroutines) and returns them.
func (sf *seededFile) waitNotices(tb testing.TB, want int) []int {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sf.mu.Lock()
		got := append([]int(nil), sf.notices...)
		sf.mu.Unlock()
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStorageServesAndRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	data := testenv.RandomFile(t, path, 300<<10+5)
	snapshot.Guard(t, dir)
	sf := seedFile(t, path, 64<<10, 4)
	for i := range sf.info.NumPieces() {
		got, err := sf.read(i)
		if err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		if !bytes.Equal(got, data[int64(i)*64<<10:][:len(got)]) {
			t.Fatalf("piece %d: wrong bytes", i)
		}
		p := sf.piece(i)
		if c := p.Completion(); !c.Ok || !c.Complete {
			t.Errorf("piece %d completion %+v, want known complete", i, c)
		}
		if _, err := p.WriteAt([]byte("x"), 0); !errors.Is(err, ErrReadOnly) {
			t.Errorf("piece %d WriteAt: %v, want ErrReadOnly", i, err)
		}
		if err := p.MarkComplete(); err != nil {
			t.Errorf("MarkComplete: %v", err)
		}
	}
	if _, err := sf.piece(0).ReadAt(make([]byte, 10), 64<<10-5); err == nil {
		t.Error("a read past the piece's end did not fail")
	}
	if n := sf.waitNotices(t, 0); len(n) != 0 {
		t.Errorf("change notices for unchanged content: %v", n)
	}
	if _, err := sf.st.OpenTorrent(context.Background(), sf.info, metainfo.Hash{1}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("opening an unregistered torrent: %v, want ErrReadOnly (nothing is ever downloaded)", err)
	}
	if got := sf.st.served.Load(); got != int64(len(data)) {
		t.Errorf("served %d bytes, want %d", got, len(data))
	}
}

func TestStorageFileEditedInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	data := testenv.RandomFile(t, path, 4*64<<10)
	sf := seedFile(t, path, 64<<10, 4)
	if _, err := sf.read(0); err != nil { // the descriptor is now cached
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // a later mtime, even with a coarse clock
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("edited"), 2*64<<10+100)
	f.Close()
	snapshot.Guard(t, dir)

	// Unchanged pieces are still served, checked against their hash first.
	for _, i := range []int{0, 1, 3} {
		got, err := sf.read(i)
		if err != nil {
			t.Fatalf("unchanged piece %d: %v", i, err)
		}
		if !bytes.Equal(got, data[i*64<<10:(i+1)*64<<10]) {
			t.Fatalf("unchanged piece %d: wrong bytes", i)
		}
	}
	// The edited piece is not served, and is no longer complete.
	if _, err := sf.read(2); !errors.Is(err, ErrPieceChanged) {
		t.Fatalf("edited piece: %v, want ErrPieceChanged", err)
	}
	if c := sf.piece(2).Completion(); c.Complete {
		t.Error("edited piece still complete")
	}
	// Notices come from goroutines of their own, in any order.
	if got := sf.waitNotices(t, 2); len(got) != 2 || min(got[0], got[1]) != -1 || max(got[0], got[1]) != 2 {
		t.Errorf("change notices %v, want -1 (stat change) and 2 (the piece)", got)
	}
	if sf.st.verified.Load() == 0 {
		t.Error("no piece was re-hashed after the change")
	}
}

func TestStorageFileTruncated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	data := testenv.RandomFile(t, path, 4*64<<10)
	sf := seedFile(t, path, 64<<10, 4)
	if _, err := sf.read(3); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 64<<10+10); err != nil {
		t.Fatal(err)
	}
	snapshot.Guard(t, dir)
	if got, err := sf.read(0); err != nil || !bytes.Equal(got, data[:64<<10]) {
		t.Fatalf("piece before the cut: %v", err)
	}
	for _, i := range []int{1, 3} {
		if got, err := sf.read(i); err == nil {
			t.Fatalf("piece %d past the cut served %d bytes without an error", i, len(got))
		}
		if sf.piece(i).Completion().Complete {
			t.Errorf("piece %d past the cut still complete", i)
		}
	}
}

func TestStorageFileReplacedByRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	old := testenv.RandomFile(t, path, 2*64<<10)
	cached := seedFile(t, path, 64<<10, 4)
	if _, err := cached.read(0); err != nil { // holds the old inode open
		t.Fatal(err)
	}
	fresh := seedFile(t, path, 64<<10, 4)
	testenv.RandomFile(t, path+".new", 2*64<<10)
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	snapshot.Guard(t, dir)

	// An open descriptor still reads the old inode: the torrent's own bytes.
	if got, err := cached.read(1); err != nil || !bytes.Equal(got, old[64<<10:]) {
		t.Errorf("through the cached descriptor: %v", err)
	}
	// Opened afresh, the path is another file: nothing of it is served.
	if _, err := fresh.read(0); !errors.Is(err, ErrPieceChanged) {
		t.Errorf("replaced file: %v, want ErrPieceChanged", err)
	}
	if got := fresh.waitNotices(t, 2); !slices.Contains(got, -1) || !slices.Contains(got, 0) {
		t.Errorf("change notices %v, want -1 (stat change) and 0 (the piece)", got)
	}
}

func TestStorageMultiFileAndDescriptorBound(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "album")
	os.MkdirAll(filepath.Join(root, "sub"), 0o755)
	var all []byte
	for _, name := range []string{"a", "b", "c", "d", "e", "sub/f", "sub/g"} {
		all = append(all, testenv.RandomFile(t, filepath.Join(root, name), 5000+len(name)*777)...)
	}
	snapshot.Guard(t, dir)
	sf := seedFile(t, root, 16<<10, 2)
	var got []byte
	for i := range sf.info.NumPieces() {
		b, err := sf.read(i)
		if err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		got = append(got, b...)
		if n := sf.st.fds.len(); n > 2 {
			t.Fatalf("%d descriptors open, bound is 2", n)
		}
	}
	if !bytes.Equal(got, all) {
		t.Error("multi-file torrent read back wrong")
	}
}

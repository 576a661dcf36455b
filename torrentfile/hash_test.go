package torrentfile

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/internal/sha1x8"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// naivePieces hashes the concatenation of data one piece after another.
func naivePieces(data []byte, pieceLength int) []byte {
	var out []byte
	for off := 0; off < len(data); off += pieceLength {
		sum := sha1.Sum(data[off:min(off+pieceLength, len(data))])
		out = append(out, sum[:]...)
	}
	return out
}

func TestHashPiecesMatchesSequentialHashing(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	var all []byte
	sizes := []int{100 << 10, 0, 1, 16<<10 - 1, 16 << 10, 3<<20 + 17, 0, 5000}
	for i, n := range sizes {
		name := filepath.Join(root, "d", "f"+strconv.Itoa(i))
		all = append(all, testenv.RandomFile(t, name, n)...)
	}
	snapshot.Guard(t, dir)
	l, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if l.Total != int64(len(all)) || len(l.Files) != len(sizes) {
		t.Fatalf("scan: %d files, %d bytes", len(l.Files), l.Total)
	}
	for _, pl := range []int64{16 << 10, 256 << 10, 1 << 20, 8 << 20} {
		for _, workers := range []int{1, 2, 7} {
			var last int64
			got, err := HashPieces(context.Background(), l.Files, l.Total, pl, workers, func(done int64) { last = max(last, done) })
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(naivePieces(all, int(pl))) {
				t.Fatalf("piece length %d, %d workers: hashes differ from sequential hashing", pl, workers)
			}
			if last != l.Total {
				t.Errorf("progress ended at %d of %d", last, l.Total)
			}
		}
	}
}

// TestPiecesEightAtOnce hashes a tree every way a run can go: mapped or
// read, with sha1x8 or without, pieces of 16 KiB (eight of them span small
// files) to 1 MiB (read a chunk of each in turn, or one after the other
// where eight span two files). The sums must be crypto/sha1's, and where
// sha1x8 runs it must have hashed most pieces.
func TestPiecesEightAtOnce(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	os.MkdirAll(root, 0o755)
	var all []byte
	sizes := []int{9<<20 + 17, 5000, 100 << 10, 0, 3 << 20}
	for range 20 {
		sizes = append(sizes, 5000)
	}
	for i, n := range sizes {
		all = append(all, testenv.RandomFile(t, filepath.Join(root, fmt.Sprintf("f%02d", i)), n)...)
	}
	snapshot.Guard(t, dir)
	l, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, fast := range []bool{false, true} {
		if fast && !sha1x8.Fast {
			t.Log("sha1x8 does not run on this CPU")
			continue
		}
		for _, pl := range []int64{16 << 10, 64 << 10, 256 << 10, 1 << 20} {
			for _, mapOK := range []bool{false, true} {
				out := make([]byte, (l.Total+pl-1)/pl*sha1.Size)
				ph := pieceHasher{h: sha1.New(), pieceLength: pl, total: l.Total, out: out}
				if fast {
					ph.x8 = new(sha1x8.Digest)
					ph.x8.Reset()
				}
				r := spanReader{files: l.Files, mapOK: mapOK}
				perRun := max(sha1x8.Lanes, hashRun/pl)
				for start := int64(0); start < l.Total; start += perRun * pl {
					if err := ph.run(&r, start, min(start+perRun*pl, l.Total)); err != nil {
						t.Fatal(err)
					}
				}
				r.close()
				name := fmt.Sprintf("sha1x8 %v, pieces of %d, mapOK %v", fast, pl, mapOK)
				if string(out) != string(naivePieces(all, int(pl))) {
					t.Fatalf("%s: sums differ from crypto/sha1's", name)
				}
				pieces := int64(len(out) / sha1.Size)
				if fast && ph.eight < pieces/2 || !fast && ph.eight != 0 {
					t.Errorf("%s: %d of %d pieces hashed eight at a time", name, ph.eight, pieces)
				}
			}
		}
	}
}

func TestHashPiecesFileShrank(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	testenv.RandomFile(t, path, 1<<20)
	l, err := Scan(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Truncate(path, 1000)
	snapshot.Guard(t, dir)
	if _, err := HashPieces(context.Background(), l.Files, l.Total, 64<<10, 2, nil); !errors.Is(err, ErrShrank) {
		t.Fatalf("hashing a file that shrank: %v, want ErrShrank", err)
	}
}

// TestHashPiecesFileTruncatedWhileHashed truncates a file between two runs
// of pieces, with the file open and its next run about to be read: the
// read past its new end is ErrShrank. (A truncation under a map is
// TestMappedFaultIsAnError.)
func TestHashPiecesFileTruncatedWhileHashed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.bin")
	testenv.RandomFile(t, path, 4*hashRun)
	l, err := Scan(path)
	if err != nil {
		t.Fatal(err)
	}
	truncated := false
	_, err = HashPieces(context.Background(), l.Files, l.Total, 1<<20, 1, func(done int64) {
		if !truncated {
			truncated = true
			if err := os.Truncate(path, done+1000); err != nil {
				t.Error(err)
			}
		}
	})
	if !errors.Is(err, ErrShrank) {
		t.Fatalf("hashing a file truncated meanwhile: %v, want ErrShrank", err)
	}
}

// TestMappedFaultIsAnError truncates a file in the middle of hashing a map
// of it: the fault is recovered and returned as ErrShrank.
func TestMappedFaultIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.bin")
	testenv.RandomFile(t, path, 8<<20)
	l, err := Scan(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hashed := 0
	err = mapped(f, &l.Files[0], 12345, 8<<20-12345, func(b []byte) {
		h := sha1.New()
		h.Write(b[:1<<20])
		hashed += 1 << 20
		if err := os.Truncate(path, 2<<20); err != nil {
			t.Error(err)
		}
		h.Write(b[1<<20:])
		hashed = len(b)
	})
	if !errors.Is(err, ErrShrank) {
		t.Fatalf("hashing a map of a file truncated meanwhile: %v, want ErrShrank", err)
	}
	if hashed != 1<<20 {
		t.Errorf("hashed %d bytes before the fault, want %d", hashed, 1<<20)
	}
	t.Log(err)
}

// TestHashPiecesMappedOrRead hashes a file long enough for the first runs
// to be timed both ways: the pieces are the same whichever way the rest is
// read, and mapping and reading a span give the same bytes.
func TestHashPiecesMappedOrRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	data := testenv.RandomFile(t, path, 2*probeRuns*hashRun+12345)
	snapshot.Guard(t, dir)
	l, err := Scan(path)
	if err != nil {
		t.Fatal(err)
	}
	// Pieces of 256 KiB make runs of hashRun bytes, enough runs to probe.
	const pl = 256 << 10
	if !newChooser(int64(len(data)) / hashRun).probing {
		t.Fatal("the file is too short for the probe")
	}
	want := naivePieces(data, pl)
	for _, workers := range []int{1, 2} {
		got, err := HashPieces(context.Background(), l.Files, l.Total, pl, workers, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%d workers: hashes differ from sequential hashing", workers)
		}
	}
	for _, mapOK := range []bool{false, true} {
		r := spanReader{files: l.Files, mapOK: mapOK}
		h := sha1.New()
		if err := r.each(777, l.Total-777-1, func(b []byte) { h.Write(b) }); err != nil {
			t.Fatal(err)
		}
		r.close()
		if got, want := h.Sum(nil), sha1.Sum(data[777:len(data)-1]); string(got) != string(want[:]) {
			t.Errorf("mapOK %v: the span's bytes differ from the file's", mapOK)
		}
	}
}

// TestChooser: the first runs of a long hash alternate between mapping and
// reading, and the rest map only when mapping was clearly cheaper per byte,
// judged by the fastest run of each way.
func TestChooser(t *testing.T) {
	for _, c := range []struct {
		name             string
		mapNs, readNs    []time.Duration // the probe runs of each way, in turn; the first is not counted
		runs             int64
		wantMap, probing bool
	}{
		{"map a fifth cheaper", []time.Duration{900, 800, 800, 800}, []time.Duration{1100, 1000, 1000, 1000}, 100, true, true},
		{"map twice as dear", []time.Duration{2000, 2000, 2000, 2000}, []time.Duration{1000, 1000, 1000, 1000}, 100, false, true},
		{"map 3% cheaper: within noise", []time.Duration{970, 970, 970, 970}, []time.Duration{1000, 1000, 1000, 1000}, 100, false, true},
		{"a read run slowed by the other worker", []time.Duration{2000, 2000, 1800, 2100}, []time.Duration{1000, 1000, 3000, 5000}, 100, false, true},
		{"a map run slowed by the other worker", []time.Duration{800, 800, 4000, 900}, []time.Duration{1000, 1000, 1100, 1000}, 100, true, true},
		{"the first run of each way is cold, and not counted", []time.Duration{5000, 800, 800, 800}, []time.Duration{600, 1000, 1000, 1000}, 100, true, true},
		{"too short to probe", []time.Duration{1, 1, 1, 1}, []time.Duration{1000, 1000, 1000, 1000}, 2*probeRuns - 1, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := newChooser(c.runs)
			mapped, read := 0, 0
			for run := range int64(probeRuns) {
				if ch.mapRun(run) {
					ch.ran(run, c.mapNs[mapped], hashRun)
					mapped++
				} else {
					ch.ran(run, c.readNs[read%len(c.readNs)], hashRun)
					read++
				}
			}
			if want := map[bool]int{true: probeRuns / 2, false: 0}[c.probing]; mapped != want {
				t.Errorf("%d of the first %d runs mapped, want %d", mapped, probeRuns, want)
			}
			if got := ch.mapRun(probeRuns + 1); got != c.wantMap {
				t.Errorf("after the probes, mapRun = %v, want %v", got, c.wantMap)
			}
		})
	}
}

func TestPieceLength(t *testing.T) {
	for _, c := range []struct{ total, want int64 }{
		{0, 16 << 10},
		{1, 16 << 10},
		{2000 * 16 << 10, 16 << 10},
		{2000*16<<10 + 1, 32 << 10},
		{700 << 20, 512 << 10}, // a CD image: 1,400 pieces
		{1 << 30, 1 << 20},     // 1,024 pieces
		{4700 << 20, 4 << 20},  // a DVD image: 1,175 pieces
		{1 << 40, 16 << 20},    // capped: 65,536 pieces
	} {
		if got := PieceLength(c.total); got != c.want {
			t.Errorf("PieceLength(%d) = %d, want %d", c.total, got, c.want)
		}
		if n := (c.total + c.want - 1) / c.want; c.want > MinPieceLength && c.want < MaxPieceLength && (n < 1000 || n > 2000) {
			t.Errorf("PieceLength(%d) gives %d pieces, want 1,000–2,000", c.total, n)
		}
	}
}

// BenchmarkHashPieces measures hashing real files from the page cache, on
// every core: one big file (mapped), and many small ones (read).
func BenchmarkHashPieces(b *testing.B) {
	dir := b.TempDir()
	big := filepath.Join(dir, "big.bin")
	testenv.RandomFile(b, big, 256<<20)
	small := filepath.Join(dir, "small")
	os.Mkdir(small, 0o755)
	for i := range 2048 {
		testenv.RandomFile(b, filepath.Join(small, strconv.Itoa(i)), 64<<10)
	}
	for _, c := range []struct {
		name string
		path string
	}{{"OneFile256MiB", big}, {"SmallFiles2048x64KiB", small}} {
		l, err := Scan(c.path)
		if err != nil {
			b.Fatal(err)
		}
		pl := PieceLength(l.Total)
		HashPieces(context.Background(), l.Files, l.Total, pl, 0, nil) // warm the page cache
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(l.Total)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := HashPieces(context.Background(), l.Files, l.Total, pl, 0, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

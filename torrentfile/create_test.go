package torrentfile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// needMktorrent returns mktorrent's path; without it the test is skipped,
// or fails on CI (CI set), where it must be installed.
func needMktorrent(tb testing.TB) string {
	tb.Helper()
	return testenv.RequireTool(tb, "mktorrent")
}

func TestCreateMatchesMktorrent(t *testing.T) {
	mktorrent := needMktorrent(t)
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "film.bin"), 3<<20+17)
	testenv.RandomFile(t, filepath.Join(content, "empty.bin"), 0)
	album := filepath.Join(content, "Альбом 2024")
	for _, d := range []string{"CD 1", "CD.2", "CD", "b"} {
		os.MkdirAll(filepath.Join(album, d), 0o755)
	}
	// Names whose order differs between comparing paths component by
	// component and comparing them as strings, as mktorrent does.
	for i, name := range []string{"CD 1/01 Трек.flac", "CD.2/x", "CD/01.flac", "B", "a", "b/z", "empty", "ü"} {
		size := 40000 + i*12345
		if name == "empty" {
			size = 0
		}
		testenv.RandomFile(t, filepath.Join(album, name), size)
	}
	snapshot.Guard(t, content)
	out := t.TempDir()

	for i, c := range []struct {
		path    string
		exp     int // mktorrent -l
		private bool
		source  string
	}{
		{"film.bin", 15, false, ""},
		{"film.bin", 18, false, ""},
		{"film.bin", 20, true, ""},
		{"film.bin", 16, false, "lan"},
		{"Альбом 2024", 15, false, ""},
		{"Альбом 2024", 16, true, ""},
	} {
		path := filepath.Join(content, c.path)
		mkOut := filepath.Join(out, "mk"+strconv.Itoa(i)+".torrent")
		args := []string{"-d", "-t", "2", "-l", strconv.Itoa(c.exp), "-a", "http://tracker.lan/announce", "-o", mkOut}
		if c.private {
			args = append(args, "-p")
		}
		if c.source != "" {
			args = append(args, "-s", c.source)
		}
		if b, err := exec.Command(mktorrent, append(args, path)...).CombinedOutput(); err != nil {
			t.Fatalf("mktorrent %v: %v\n%s", args, err, b)
		}
		want, err := metainfo.LoadFromFile(mkOut)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Create(context.Background(), path, CreateOptions{
			PieceLength: 1 << c.exp,
			Announce:    [][]string{{"http://tracker.lan/announce"}},
			Private:     c.private,
			Source:      c.source,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.InfoBytes, want.InfoBytes) {
			t.Errorf("%s -l %d: info dictionaries differ\nours:      %.300q\nmktorrent: %.300q", c.path, c.exp, got.InfoBytes, want.InfoBytes)
			continue
		}
		if got.HashInfoBytes() != want.HashInfoBytes() {
			t.Errorf("%s: infohash %s, mktorrent %s", c.path, got.HashInfoBytes().HexString(), want.HashInfoBytes().HexString())
		}
		// What anacrolix makes of it must round-trip to the same bytes.
		info, err := got.UnmarshalInfo()
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := InfoBytes(&info); !bytes.Equal(again, got.InfoBytes) {
			t.Errorf("%s: info does not round-trip through anacrolix", c.path)
		}
	}
}

func TestParsePieceLength(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"262144", 256 << 10, true},
		{"256K", 256 << 10, true},
		{"256KiB", 256 << 10, true},
		{"1M", 1 << 20, true},
		{"1mib", 1 << 20, true},
		{"20", 1 << 20, true}, // mktorrent's exponent
		{"14", 16 << 10, true},
		{"0", 0, true},
		{"13", 0, false},
		{"32M", 0, false},
		{"300000", 0, false},
		{"-1", 0, false},
		{"big", 0, false},
	} {
		got, err := ParsePieceLength(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParsePieceLength(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestAnnounceTiers(t *testing.T) {
	got := AnnounceTiers([]string{"http://a/announce,udp://a:6969", "", "http://b/announce"})
	if len(got) != 2 || len(got[0]) != 2 || got[1][0] != "http://b/announce" {
		t.Errorf("tiers %q", got)
	}
}

// TestCreateRefusesEmpty: an empty file or a directory of nothing but
// empty files is refused with the daemon's own message, as clients reject
// the torrent.
func TestCreateRefusesEmpty(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.bin")
	os.WriteFile(empty, nil, 0o644)
	emptyDir := filepath.Join(dir, "d")
	os.Mkdir(emptyDir, 0o755)
	os.WriteFile(filepath.Join(emptyDir, "a"), nil, 0o644)
	for _, p := range []string{empty, emptyDir} {
		if _, err := Create(context.Background(), p, CreateOptions{}); !errors.Is(err, ErrEmpty) {
			t.Errorf("Create(%s): %v, want ErrEmpty", p, err)
		}
	}
}

package web

import (
	"bytes"
	"slices"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// testTorrent is a 100 MiB single-file torrent of 64 KiB pieces (1,600
// piece hashes), listing web seeds urls.
func testTorrent(tb testing.TB, urls ...string) []byte {
	tb.Helper()
	info := metainfo.Info{Name: "film.bin", PieceLength: 64 << 10, Length: 100 << 20, Pieces: make([]byte, 20*1600)}
	for i := range info.Pieces {
		info.Pieces[i] = byte(i * 7)
	}
	ib, err := bencode.Marshal(info)
	if err != nil {
		tb.Fatal(err)
	}
	mi := metainfo.MetaInfo{InfoBytes: ib, Announce: "http://tracker.lan:6969/announce", UrlList: urls, CreatedBy: "lanseedd"}
	var b bytes.Buffer
	if err := mi.Write(&b); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func TestWithoutURL(t *testing.T) {
	ours, theirs := "http://fs.lan:8080/ws/1/", "http://nginx.lan/files/"
	in := testTorrent(t, ours, theirs)
	out, err := withoutURL(bytes.NewReader(in), ours)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := metainfo.Load(bytes.NewReader(in))
	after, err := metainfo.Load(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(after.UrlList, []string{theirs}) {
		t.Errorf("url-list %q, want only %q", after.UrlList, theirs)
	}
	if after.HashInfoBytes() != before.HashInfoBytes() || after.Announce != before.Announce {
		t.Errorf("infohash or announce changed: %s %q", after.HashInfoBytes(), after.Announce)
	}
	if _, err := withoutURL(bytes.NewReader([]byte("not bencode")), ours); err == nil {
		t.Error("a broken torrent file went through")
	}
}

// BenchmarkWithoutURL is the work a .torrent link costs while the seeder
// seeds it: the stored torrent re-encoded without our web seed.
func BenchmarkWithoutURL(b *testing.B) {
	in := testTorrent(b, "http://fs.lan:8080/ws/1/")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := withoutURL(bytes.NewReader(in), "http://fs.lan:8080/ws/1/"); err != nil {
			b.Fatal(err)
		}
	}
}

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

func TestVariant(t *testing.T) {
	ours, theirs := "http://fs.lan:8080/ws/1/", "http://nginx.lan/files/"
	in := testTorrent(t, ours, theirs)
	before, _ := metainfo.Load(bytes.NewReader(in))
	stored := before.UpvertedAnnounceList()
	two := [][]string{
		{"http://a.lan:6969/announce", "udp://a.lan:6969/announce"},
		{"http://b.lan:6969/announce", "udp://b.lan:6969/announce"},
	}
	for _, tc := range []struct {
		name     string
		tiers    [][]string
		drop     string
		same     bool
		wantURLs []string
	}{
		{"as stored", stored, "", true, []string{ours, theirs}},
		{"a web seed it does not list", stored, "http://other.lan/ws/1/", true, []string{ours, theirs}},
		{"without our web seed", stored, ours, false, []string{theirs}},
		{"two nodes' trackers", two, "", false, []string{ours, theirs}},
		{"both", two, ours, false, []string{theirs}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, tag, err := variant(in, tc.tiers, tc.drop)
			if err != nil {
				t.Fatal(err)
			}
			if same := bytes.Equal(out, in); same != tc.same || (tag == "") != tc.same {
				t.Errorf("stored bytes served: %v, ETag suffix %q; want the stored bytes: %v", same, tag, tc.same)
			}
			after, err := metainfo.Load(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if after.HashInfoBytes() != before.HashInfoBytes() {
				t.Errorf("infohash changed: %s", after.HashInfoBytes())
			}
			if got := after.UpvertedAnnounceList(); !slices.EqualFunc(got, tc.tiers, slices.Equal) {
				t.Errorf("announce list %q, want %q", got, tc.tiers)
			}
			if after.Announce != tc.tiers[0][0] {
				t.Errorf("announce %q, want the first tier's first URL %q", after.Announce, tc.tiers[0][0])
			}
			if !slices.Equal(after.UrlList, tc.wantURLs) {
				t.Errorf("url-list %q, want %q", after.UrlList, tc.wantURLs)
			}
		})
	}
	_, tagA, _ := variant(in, two, "")
	_, tagB, _ := variant(in, two[1:], "")
	if tagA == tagB {
		t.Errorf("two lists of trackers have one ETag suffix %q", tagA)
	}
	if _, _, err := variant([]byte("not bencode"), stored, ours); err == nil {
		t.Error("a broken torrent file went through")
	}
}

// BenchmarkVariant is the work a .torrent link costs while the seeder
// seeds it: the stored torrent re-encoded without our web seed.
func BenchmarkVariant(b *testing.B) {
	in := testTorrent(b, "http://fs.lan:8080/ws/1/")
	tiers := [][]string{{"http://tracker.lan:6969/announce"}}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, _, err := variant(in, tiers, "http://fs.lan:8080/ws/1/"); err != nil {
			b.Fatal(err)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// waitAllSeeding waits until every row is ready and seeded, and returns
// the rows by id.
func (d *testDaemon) waitAllSeeding(tb testing.TB, ids []int64) map[int64]lanseedd.Row {
	tb.Helper()
	rows := make(map[int64]lanseedd.Row, len(ids))
	for _, id := range ids {
		r := d.waitState(tb, id, lanseedd.StateReady)
		deadline := time.Now().Add(10 * time.Second)
		for !d.Seeder.Seeding(metainfo.NewHashFromHex(r.InfoHash)) {
			if time.Now().After(deadline) {
				tb.Fatalf("row %d is ready but not seeded", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
		rows[id] = r
	}
	return rows
}

// TestRestartReadsNoContent restarts the daemon on the same state: files
// whose fingerprint is unchanged are seeded again from their stored
// .torrent without reading a byte; a file changed while the daemon was
// stopped is the only one hashed. lanseedd verify then finds what a
// fingerprint cannot see.
func TestRestartReadsNoContent(t *testing.T) {
	content, state := t.TempDir(), t.TempDir()
	var files []string
	for i := range 12 {
		name := "f" + strconv.Itoa(i) + ".bin"
		testenv.RandomFile(t, filepath.Join(content, name), 100<<10+i*1000)
		files = append(files, name)
	}
	os.MkdirAll(filepath.Join(content, "album", "cd1"), 0o755)
	testenv.RandomFile(t, filepath.Join(content, "album", "cd1", "01.flac"), 300<<10)
	testenv.RandomFile(t, filepath.Join(content, "album", "02.flac"), 200<<10)
	files = append(files, "album")
	hourAgo := time.Now().Add(-time.Hour)
	filepath.WalkDir(content, func(p string, _ os.DirEntry, _ error) error { return os.Chtimes(p, hourAgo, hourAgo) })

	var ids []int64
	var first map[int64]lanseedd.Row
	t.Run("first start hashes", func(t *testing.T) {
		snapshot.Guard(t, content)
		d := startDaemon(t, content, fastFS, onState(state), eager)
		for _, f := range files {
			ids = append(ids, d.insert(t, f))
		}
		first = d.waitAllSeeding(t, ids)
		if st := d.Seeder.Stats(); st.HashedBytes == 0 {
			t.Error("nothing hashed on the first start")
		}
	})
	if t.Failed() {
		return
	}

	t.Run("restart reads nothing", func(t *testing.T) {
		snapshot.Guard(t, content)
		start := time.Now()
		d := startDaemon(t, content, fastFS, onState(state), eager)
		rows := d.waitAllSeeding(t, ids)
		t.Logf("%d rows seeding %s after start", len(ids), time.Since(start).Round(time.Millisecond))
		for id, r := range rows {
			if r.InfoHash != first[id].InfoHash || r.Generation != first[id].Generation {
				t.Errorf("row %d redone at restart: %+v, was %+v", id, r, first[id])
			}
		}
		if n := d.Seeder.ContentRead(); n != 0 {
			t.Errorf("restart read %d bytes of content, want 0", n)
		}
		// Still served from the restored torrents.
		mi := d.fetchTorrent(t, ids[0])
		want, _ := os.ReadFile(filepath.Join(content, files[0]))
		if got := download(t, mi); !bytes.Equal(got, want) {
			t.Error("download after restart differs")
		}
	})

	// Changed while stopped: f1 visibly (its mtime moves), f2 behind the
	// fingerprint's back (same size, mtime put back).
	laterMtime()
	f1 := filepath.Join(content, files[1])
	data1 := testenv.RandomFile(t, f1, 100<<10+1000)
	f2 := filepath.Join(content, files[2])
	fi, _ := os.Stat(f2)
	fh, err := os.OpenFile(f2, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteAt([]byte("silent change"), 5000)
	fh.Close()
	os.Chtimes(f2, fi.ModTime(), fi.ModTime())

	t.Run("restart hashes only what changed", func(t *testing.T) {
		snapshot.Guard(t, content)
		d := startDaemon(t, content, fastFS, onState(state), eager)
		d.waitNewHash(t, ids[1], first[ids[1]].InfoHash)
		rows := d.waitAllSeeding(t, ids)
		if got := d.Seeder.ContentRead(); got != int64(len(data1)) {
			t.Errorf("restart read %d bytes, want only the changed file's %d", got, len(data1))
		}
		if rows[ids[2]].InfoHash != first[ids[2]].InfoHash {
			t.Error("a change behind the fingerprint's back was seen at restart; the test is wrong")
		}
	})

	t.Run("verify finds the silent change", func(t *testing.T) {
		snapshot.Guard(t, content)
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"verify", "-state", state, "-content", content}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "1 rows changed") {
			t.Errorf("verify: %v, want 1 row changed\n%s%s", err, stdout.String(), stderr.String())
		}
		out := stdout.String()
		if !strings.Contains(out, strconv.FormatInt(ids[2], 10)+"\tCHANGED\t"+files[2]) {
			t.Errorf("verify did not report row %d:\n%s", ids[2], out)
		}
		if strings.Count(out, "\tok\t") != len(ids)-1 {
			t.Errorf("verify output:\n%s", out)
		}

		d := startDaemon(t, content, fastFS, onState(state), eager)
		r := d.waitNewHash(t, ids[2], first[ids[2]].InfoHash)
		want, _ := os.ReadFile(f2)
		if got := download(t, d.fetchTorrent(t, r.FileID)); !bytes.Equal(got, want) {
			t.Error("download after verify differs")
		}
	})
}

func TestCreateCommand(t *testing.T) {
	content := t.TempDir()
	path := filepath.Join(content, "Фильм.mkv")
	testenv.RandomFile(t, path, 1<<20+5)
	snapshot.Guard(t, content)
	out := filepath.Join(t.TempDir(), "film.torrent")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"create", "-o", out,
		"-announce", "http://tracker.lan:6969/announce,udp://tracker.lan:6969/announce",
		"-announce", "http://backup.lan/announce",
		"-web-seed", "http://files.lan/Фильм.mkv",
		"-piece-length", "256K", "-private", "-comment", "a comment", path}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("progress written to a non-terminal: %q", stderr.String())
	}
	mi, err := metainfo.LoadFromFile(out)
	if err != nil {
		t.Fatal(err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	if info.PieceLength != 256<<10 || info.Private == nil || !*info.Private || info.Name != "Фильм.mkv" || info.Length != 1<<20+5 {
		t.Errorf("info: piece length %d, private %v, name %q, length %d", info.PieceLength, info.Private, info.Name, info.Length)
	}
	if mi.Announce != "http://tracker.lan:6969/announce" || len(mi.AnnounceList) != 2 || len(mi.AnnounceList[0]) != 2 {
		t.Errorf("announce %q, list %q", mi.Announce, mi.AnnounceList)
	}
	if len(mi.UrlList) != 1 || mi.Comment != "a comment" || mi.CreationDate == 0 {
		t.Errorf("web seeds %q, comment %q, date %d", mi.UrlList, mi.Comment, mi.CreationDate)
	}
	if !strings.HasPrefix(stdout.String(), mi.HashInfoBytes().HexString()) {
		t.Errorf("stdout %q does not start with the infohash", stdout.String())
	}
	want, err := torrentfile.Create(context.Background(), path, torrentfile.CreateOptions{PieceLength: 256 << 10, Private: true})
	if err != nil {
		t.Fatal(err)
	}
	if want.HashInfoBytes() != mi.HashInfoBytes() {
		t.Error("the command and torrentfile.Create disagree")
	}
	// An existing output file is not overwritten without -f.
	if err := run(context.Background(), []string{"create", "-o", out, path}, &stdout, &stderr); err == nil {
		t.Error("create overwrote an existing file")
	}
}

// TestCreateTakesMktorrentsCommandLine: a mktorrent command line, its
// one-letter flags as they are, makes the same torrent with lanseedd create.
func TestCreateTakesMktorrentsCommandLine(t *testing.T) {
	mktorrent := testenv.RequireTool(t, "mktorrent")
	content := t.TempDir()
	album := filepath.Join(content, "Album")
	for i, name := range []string{"CD 1/01.flac", "CD 1/02.flac", "cover.jpg"} {
		os.MkdirAll(filepath.Dir(filepath.Join(album, name)), 0o755)
		testenv.RandomFile(t, filepath.Join(album, name), 70000+i*33333)
	}
	snapshot.Guard(t, content)
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"-d", "-t", "2", "-l", "16", "-p", "-s", "lan", "-c", "a comment",
			"-a", "http://tracker.lan/announce,udp://tracker.lan:6969/announce", "-a", "http://backup.lan/announce",
			"-w", "http://files.lan/Album/", "-o", out, album}
	}
	mkOut, ourOut := filepath.Join(dir, "mk.torrent"), filepath.Join(dir, "ours.torrent")
	if b, err := exec.Command(mktorrent, args(mkOut)...).CombinedOutput(); err != nil {
		t.Fatalf("mktorrent: %v\n%s", err, b)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append([]string{"create"}, args(ourOut)...), &stdout, &stderr); err != nil {
		t.Fatalf("lanseedd create with mktorrent's flags: %v\n%s", err, stderr.String())
	}
	want, err := metainfo.LoadFromFile(mkOut)
	if err != nil {
		t.Fatal(err)
	}
	got, err := metainfo.LoadFromFile(ourOut)
	if err != nil {
		t.Fatal(err)
	}
	if got.HashInfoBytes() != want.HashInfoBytes() {
		t.Errorf("infohash %s, mktorrent's %s", got.HashInfoBytes(), want.HashInfoBytes())
	}
	if fmt.Sprint(got.AnnounceList) != fmt.Sprint(want.AnnounceList) || got.Announce != want.Announce {
		t.Errorf("announce %q %q, mktorrent's %q %q", got.Announce, got.AnnounceList, want.Announce, want.AnnounceList)
	}
	if fmt.Sprint(got.UrlList) != fmt.Sprint(want.UrlList) || got.Comment != want.Comment {
		t.Errorf("web seeds %q, comment %q; mktorrent's %q, %q", got.UrlList, got.Comment, want.UrlList, want.Comment)
	}
	if got.CreationDate != 0 || want.CreationDate != 0 {
		t.Errorf("-d: creation dates %d and mktorrent's %d", got.CreationDate, want.CreationDate)
	}
}

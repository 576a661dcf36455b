package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/web"
)

func getWith(tb testing.TB, url string, header map[string]string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if h := header["Host"]; h != "" {
		req.Host = h // net/http sends req.Host, not a Host header
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func TestPublicEndpoints(t *testing.T) {
	content := t.TempDir()
	name := "Фильм 01.bin"
	data := testenv.RandomFile(t, filepath.Join(content, name), 300<<10+17)
	if err := os.Mkdir(filepath.Join(content, "Series"), 0o755); err != nil {
		t.Fatal(err)
	}
	ep := testenv.RandomFile(t, filepath.Join(content, "Series", "e01.bin"), 50<<10)
	testenv.RandomFile(t, filepath.Join(content, "secret.bin"), 10)
	snapshot.Guard(t, content)

	d := startDaemon(t, content, func(c *Config) { c.HTTP.WebSeedMode = web.WebSeedAlways })
	id := d.exec(t, "INSERT INTO files(path) VALUES (?)", name)
	dirID := d.exec(t, "INSERT INTO files(path) VALUES (?)", "Series")
	missingID := d.exec(t, "INSERT INTO files(path) VALUES (?)", "nope.bin")
	row := d.waitState(t, id, lanseedd.StateReady)
	d.waitState(t, dirID, lanseedd.StateReady)
	d.waitState(t, missingID, lanseedd.StateMissing)
	base := d.HTTPURL()

	t.Run("torrent link", func(t *testing.T) {
		resp, body := getWith(t, base+"/t/"+itoa(id)+".torrent", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %s", resp.Status)
		}
		cd := resp.Header.Get("Content-Disposition")
		want := `attachment; filename="_____ 01.bin.torrent"; filename*=UTF-8''%D0%A4%D0%B8%D0%BB%D1%8C%D0%BC%2001.bin.torrent`
		if cd != want {
			t.Errorf("Content-Disposition\n got %s\nwant %s", cd, want)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" || resp.Header.Get("Last-Modified") == "" {
			t.Fatalf("no ETag/Last-Modified: %v", resp.Header)
		}
		again, _ := getWith(t, base+"/t/"+itoa(id)+".torrent", map[string]string{"If-None-Match": etag})
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("re-fetch with If-None-Match: %s, want 304", again.Status)
		}
		byHash, body2 := getWith(t, base+"/t/"+strings.ToUpper(row.InfoHash)+".torrent", nil)
		if byHash.StatusCode != 200 || !bytes.Equal(body, body2) {
			t.Errorf("by infohash: %s, same body %v", byHash.Status, bytes.Equal(body, body2))
		}
		mi, err := metainfo.Load(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(mi.UrlList) == 0 || mi.UrlList[0] != web.WebSeedURL(d.publicBase(), id) {
			t.Errorf("url-list %q does not start with our web seed %q", mi.UrlList, web.WebSeedURL(d.publicBase(), id))
		}
	})

	t.Run("file API", func(t *testing.T) {
		resp, body := getWith(t, base+"/api/files/"+itoa(id), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %s: %s", resp.Status, body)
		}
		var f web.File
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatal(err)
		}
		if f.ID != id || f.Name != name || f.State != "ready" || f.Size != int64(len(data)) || f.InfoHash != row.InfoHash {
			t.Errorf("file = %+v", f)
		}
		if !strings.HasSuffix(f.TorrentURL, "/t/"+itoa(id)+".torrent") {
			t.Errorf("torrent_url = %q", f.TorrentURL)
		}
		m, err := metainfo.ParseMagnetUri(f.Magnet)
		if err != nil {
			t.Fatalf("magnet %q: %v", f.Magnet, err)
		}
		if m.InfoHash.HexString() != row.InfoHash || m.DisplayName != name || len(m.Trackers) == 0 {
			t.Errorf("magnet %q lacks infohash, dn or tr", f.Magnet)
		}
		// One story per torrent: the magnet lists the web seeds of the
		// .torrent served now, and the served .torrent has no empty
		// url-list.
		_, tb := getWith(t, base+"/t/"+itoa(id)+".torrent", nil)
		served, err := metainfo.Load(bytes.NewReader(tb))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.Params["ws"], served.UrlList) || bytes.Contains(tb, []byte("8:url-listle")) {
			t.Errorf("magnet ws %q, served .torrent url-list %q (%q)", m.Params["ws"], served.UrlList, tb[:min(len(tb), 200)])
		}
		var stored string
		if err := d.db.QueryRow("SELECT magnet FROM lanseedd_torrents WHERE file_id = ?", id).Scan(&stored); err != nil || stored != f.Magnet {
			t.Errorf("state table magnet %q (%v), API says %q", stored, err, f.Magnet)
		}
		resp, body = getWith(t, base+"/api/files/"+itoa(missingID), nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"state": "missing"`) || !strings.Contains(string(body), "nope.bin") {
			t.Errorf("missing row: %s %s", resp.Status, body)
		}
		if resp, _ := getWith(t, base+"/api/files/424242", nil); resp.StatusCode != 404 {
			t.Errorf("unknown id: %s", resp.Status)
		}
	})

	t.Run("feed", func(t *testing.T) {
		resp, body := getWith(t, base+"/feed.rss", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/rss+xml") {
			t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		var doc struct {
			Link  string `xml:"channel>link"`
			Items []struct {
				Title     string `xml:"title"`
				GUID      string `xml:"guid"`
				Enclosure struct {
					URL    string `xml:"url,attr"`
					Type   string `xml:"type,attr"`
					Length int    `xml:"length,attr"`
				} `xml:"enclosure"`
			} `xml:"channel>item"`
		}
		if err := xml.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Items) != 2 {
			t.Fatalf("feed has %d items, want the 2 ready rows:\n%s", len(doc.Items), body)
		}
		found := false
		for _, it := range doc.Items {
			if it.Title == name {
				found = true
				if it.GUID != "urn:btih:"+row.InfoHash || it.Enclosure.Type != "application/x-bittorrent" ||
					!strings.HasSuffix(it.Enclosure.URL, "/t/"+itoa(id)+".torrent") {
					t.Errorf("item %+v", it)
				}
				// The enclosure's length is what its URL serves.
				if _, tb := getWith(t, it.Enclosure.URL, nil); it.Enclosure.Length != len(tb) {
					t.Errorf("enclosure length %d, the link serves %d bytes", it.Enclosure.Length, len(tb))
				}
			}
		}
		if !found {
			t.Errorf("no item for %q", name)
		}
		if resp, page := getWith(t, doc.Link, nil); strings.HasSuffix(doc.Link, ".rss") || resp.StatusCode != 200 ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), name) {
			t.Errorf("channel link %q: %s %s, want a page listing the files", doc.Link, resp.Status, resp.Header.Get("Content-Type"))
		}
		validateRSS(t, body)
	})

	t.Run("web seed", func(t *testing.T) {
		ws := web.WebSeedURL(base, id) + url.PathEscape(name)
		resp, body := getWith(t, ws, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("full GET: %s, %d bytes", resp.Status, len(body))
		}
		resp, body = getWith(t, ws, map[string]string{"Range": "bytes=1000-1999"})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[1000:2000]) {
			t.Errorf("Range: %s, %d bytes", resp.Status, len(body))
		}
		resp, body = getWith(t, web.WebSeedURL(base, dirID)+"Series/e01.bin", nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, ep) {
			t.Errorf("multi-file: %s, %d bytes", resp.Status, len(body))
		}
		// A single file is also served at the web seed URL itself, where
		// webtorrent asks for it; a directory is not listed there.
		if resp, body := getWith(t, web.WebSeedURL(base, id), nil); resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Errorf("GET the web seed URL of a single file: %s, %d bytes", resp.Status, len(body))
		}
		for _, p := range []string{
			web.WebSeedURL(base, dirID),                    // directory listing
			web.WebSeedURL(base, id) + "secret.bin",        // another file
			web.WebSeedURL(base, id) + "..%2fsecret.bin",   // encoded traversal
			web.WebSeedURL(base, id) + "..%252fsecret.bin", // double-encoded
			web.WebSeedURL(base, dirID) + "Series/..%2fsecret.bin",
			web.WebSeedURL(base, dirID) + "Series/%2e%2e/secret.bin",
			web.WebSeedURL(base, dirID) + "Series",
			web.WebSeedURL(base, missingID) + "nope.bin", // not ready
			base + web.WebSeedPrefix + "..%2f..%2fetc%2fpasswd",
			base + "/ws/%2e%2e/secret.bin",
		} {
			resp, body := getWith(t, p, nil)
			if resp.StatusCode == 200 || bytes.Contains(body, data[:10]) {
				t.Errorf("GET %s: %s, must be refused", p, resp.Status)
			}
		}
	})
}

// publicBase is the base URL that goes into torrents (the -public-url host
// with the HTTP port).
func (d *testDaemon) publicBase() string { return d.HTTPURL() }

// validateRSS parses the feed with Python's feedparser, the parser many RSS
// readers are built on, and fails on anything it calls malformed.
func validateRSS(t *testing.T, feed []byte) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import feedparser").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-feedparser is not installed (.ci/run installs it): %v", err)
		}
		t.Skipf("python3-feedparser is not installed: %v", err)
	}
	cmd := exec.Command(py, "-c", `
import sys, feedparser
d = feedparser.parse(sys.stdin.buffer.read())
if d.bozo:
    sys.exit("malformed: %r" % d.bozo_exception)
if d.version != "rss20":
    sys.exit("not RSS 2.0: %r" % d.version)
for e in d.entries:
    enc = [l for l in e.links if l.get("rel") == "enclosure"]
    if not enc or enc[0]["type"] != "application/x-bittorrent":
        sys.exit("entry without a torrent enclosure: %r" % e)
print(len(d.entries))
`)
	cmd.Stdin = bytes.NewReader(feed)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("feedparser: %v: %s", err, out)
	}
}

// TestWebSeedAlone downloads with our seeder stopped: a client completes
// from the web seed alone. While the seeder seeds, the web seed neither
// answers nor is listed in the torrent served.
func TestWebSeedAlone(t *testing.T) {
	content := t.TempDir()
	name := "Фильм web seed.bin"
	data := testenv.RandomFile(t, filepath.Join(content, name), 1<<20+333)
	snapshot.Guard(t, content)
	d := startDaemon(t, content)
	id := d.exec(t, "INSERT INTO files(path) VALUES (?)", name)
	row := d.waitState(t, id, lanseedd.StateReady)
	ours := web.WebSeedURL(d.HTTPURL(), id)
	link := d.HTTPURL() + "/t/" + itoa(id) + ".torrent"

	// While the seeder seeds, the web seed leaves the download to the swarm.
	seeded, seededBody := getWith(t, link, nil)
	if mi, err := metainfo.Load(bytes.NewReader(seededBody)); err != nil {
		t.Errorf("torrent served while seeding: %v", err)
	} else if slices.Contains(mi.UrlList, ours) {
		t.Errorf("torrent served while seeding lists our web seed: %q", mi.UrlList)
	}
	onDisk, err := metainfo.LoadFromFile(d.Seeder.TorrentFile(id))
	if err != nil {
		t.Fatalf("stored torrent: %v", err)
	}
	if !slices.Contains(onDisk.UrlList, ours) {
		t.Fatalf("the stored torrent should keep our web seed for when it stands in: %q", onDisk.UrlList)
	}
	// The magnets tell the same story: the API's and the stored one leave
	// our web seed out while the seeder seeds.
	var f web.File
	if _, body := getWith(t, d.HTTPURL()+"/api/files/"+itoa(id), nil); json.Unmarshal(body, &f) != nil || f.Magnet == "" || strings.Contains(f.Magnet, "ws=") {
		t.Errorf("magnet while seeding: %q", f.Magnet)
	}
	if row.Magnet == "" || strings.Contains(row.Magnet, "ws=") {
		t.Errorf("stored magnet: %q", row.Magnet)
	}
	ws := ours + url.PathEscape(name)
	if resp, _ := getWith(t, ws, nil); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("web seed while seeding: %s, want 503 with Retry-After", resp.Status)
	}

	d.Seeder.Close() // no BitTorrent peer at all from here on
	if resp, body := getWith(t, ws, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("web seed with the seeder stopped: %s", resp.Status)
	}
	// The torrent now lists it: a revalidation sees the new variant.
	resp, _ := getWith(t, link, map[string]string{"If-None-Match": seeded.Header.Get("ETag")})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == seeded.Header.Get("ETag") {
		t.Errorf("revalidation after the seeder stopped: %s, ETag %s (was %s)", resp.Status, resp.Header.Get("ETag"), seeded.Header.Get("ETag"))
	}
	if _, body := getWith(t, d.HTTPURL()+"/api/files/"+itoa(id), nil); json.Unmarshal(body, &f) != nil || !strings.Contains(f.Magnet, "ws="+url.QueryEscape(ours)) {
		t.Errorf("magnet with the seeder stopped does not list our web seed: %q", f.Magnet)
	}
	mi := d.fetchTorrent(t, id)
	if !slices.Contains(mi.UrlList, ours) {
		t.Fatalf("torrent served with the seeder stopped lacks our web seed: %q", mi.UrlList)
	}
	if got := mi.HashInfoBytes().HexString(); got != row.InfoHash {
		t.Fatalf("the two variants differ in infohash: %s, %s", got, row.InfoHash)
	}

	downloads := 1 // whole-file downloads from the web seed
	t.Run("anacrolix", func(t *testing.T) {
		got := downloadWith(t, mi, func(cfg *torrent.ClientConfig) { cfg.DisableTrackers = true })
		if !bytes.Equal(got, data) {
			t.Fatal("downloaded bytes differ")
		}
		downloads++
	})
	t.Run("aria2c", func(t *testing.T) {
		aria2c := testenv.RequireTool(t, "aria2c")
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, aria2c, "--dir", dir, "--seed-time=0", "--enable-dht=false",
			"--enable-dht6=false", "--bt-enable-lpd=false", "--bt-tracker-timeout=2", "--console-log-level=warn",
			"--summary-interval=0", "--follow-torrent=mem", d.HTTPURL()+"/t/"+itoa(id)+".torrent").CombinedOutput()
		if err != nil {
			t.Fatalf("aria2c: %v\n%s", err, out)
		}
		got, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(got, data) {
			t.Fatalf("aria2c's file differs\n%s", out)
		}
		downloads++
	})

	// The admin listener reports what the web seed did: one refusal while
	// seeding, then the whole file at least once per download above.
	var stats web.Stats
	if _, body := getWith(t, d.AdminURL()+"/api/stats", nil); json.Unmarshal(body, &stats) != nil {
		t.Fatalf("/api/stats: %s", body)
	}
	got, minBytes := stats.WebSeed, int64(len(data)*downloads)
	if got.StoodDown != 1 || got.Served < int64(downloads) || got.Bytes < minBytes {
		t.Errorf("web seed stats %+v, want 1 stood down, ≥ %d served, ≥ %d bytes", got, downloads, minBytes)
	}
}

// TestWebSeedOff: with http.web_seed_mode off, no torrent lists our web
// seed, stored or served, and it serves nothing.
func TestWebSeedOff(t *testing.T) {
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "a.bin"), 100<<10)
	snapshot.Guard(t, content)
	d := startDaemon(t, content, func(c *Config) {
		c.HTTP.WebSeedMode = web.WebSeedOff
		c.HTTP.WebSeeds = []string{"http://nginx.lan/files"}
	})
	id := d.exec(t, "INSERT INTO files(path) VALUES (?)", "a.bin")
	d.waitState(t, id, lanseedd.StateReady)
	want := []string{"http://nginx.lan/files/"} // the operator's own stays
	if mi := d.fetchTorrent(t, id); !slices.Equal(mi.UrlList, want) {
		t.Errorf("served url-list %q, want %q", mi.UrlList, want)
	}
	if mi, err := metainfo.LoadFromFile(d.Seeder.TorrentFile(id)); err != nil {
		t.Errorf("stored torrent: %v", err)
	} else if !slices.Equal(mi.UrlList, want) {
		t.Errorf("stored url-list %q, want %q", mi.UrlList, want)
	}
	d.Seeder.Close()
	if resp, _ := getWith(t, web.WebSeedURL(d.HTTPURL(), id)+"a.bin", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("web seed when off: %s, want 404", resp.Status)
	}
}

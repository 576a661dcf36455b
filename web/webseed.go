package web

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// WebSeedPrefix is where the public listener serves content as a BEP 19 web
// seed: a row's URL is WebSeedPrefix + id + "/", and clients append the
// torrent's name (and a file's path in a multi-file torrent).
const WebSeedPrefix = "/ws/"

// WebSeedURL is the web seed URL of row fileID under base.
func WebSeedURL(base string, fileID int64) string {
	return base + WebSeedPrefix + strconv.FormatInt(fileID, 10) + "/"
}

// WebSeedStats counts the web seed's answers since the daemon started.
type WebSeedStats struct {
	// Served counts requests answered from the file: 200 and 206 (and
	// the conditional or range answers 304 and 416).
	Served int64 `json:"served"`
	// StoodDown counts requests refused because the seeder seeds the
	// torrent (503, in http.web_seed_mode standin).
	StoodDown int64 `json:"stood_down"`
	// Bytes is the content sent.
	Bytes int64 `json:"sent_bytes"`
}

type webSeedCounters struct {
	served, stoodDown, bytes atomic.Int64
}

// WebSeedStats returns the web seed's counters.
func (p *Public) WebSeedStats() WebSeedStats {
	return WebSeedStats{Served: p.ws.served.Load(), StoodDown: p.ws.stoodDown.Load(), Bytes: p.ws.bytes.Load()}
}

// countingWriter adds what is written through it to a counter. ReadFrom
// keeps net/http's sendfile path for file bodies.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (c countingWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(c.ResponseWriter, r)
	c.n.Add(n)
	return n, err
}

// webSeed serves GET /ws/{id}/{name}[/{path…}] with Range support. Only
// files of ready rows are served, and only the files their torrent lists:
// the requested path is matched against the torrent, never joined onto the
// file system as given, so no listing and no traversal is possible.
func (p *Public) webSeed(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	row, ok := p.lookup(w, r, strconv.FormatInt(id, 10))
	if !ok || p.refuseUnready(w, r, row) {
		return
	}
	switch p.cfg.WebSeedMode {
	case WebSeedOff:
		http.Error(w, "the web seed is off", http.StatusNotFound)
		return
	case WebSeedAlways:
	default: // WebSeedStandIn
		if seeding(p.seeder, row) {
			p.ws.stoodDown.Add(1)
			w.Header().Set("Retry-After", "300")
			http.Error(w, "this torrent is served by its peers; the web seed stands in when the seeder is away",
				http.StatusServiceUnavailable)
			return
		}
	}
	mi, err := metainfo.LoadFromFile(p.seeder.TorrentFile(row.FileID))
	if err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the torrent is being regenerated", http.StatusServiceUnavailable)
		return
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		http.Error(w, "the torrent is unreadable", http.StatusInternalServerError)
		return
	}
	want := strings.Split(r.PathValue("path"), "/")
	rel, length, ok := torrentFile(&info, want)
	if !ok {
		http.NotFound(w, r)
		return
	}
	// Opened beneath the content root with no link followed, and checked
	// against what was published: a name resolved and then opened again
	// could be swapped in between for a link out of the root, or a FIFO
	// that would hold the request (and an OS thread) forever.
	f, err := torrentfile.OpenPublished(p.seeder.ContentRoot(), row, rel)
	if err != nil {
		if errors.Is(err, torrentfile.ErrMissing) || errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		// Changed, swapped or unreadable: the watcher rehashes the row.
		w.Header().Set("Retry-After", "30")
		http.Error(w, "the file changed on the server and is being rehashed", http.StatusServiceUnavailable)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "the file cannot be read", http.StatusInternalServerError)
		return
	}
	if fi.Size() != length {
		// The file changed since it was hashed; the seeder redoes it.
		w.Header().Set("Retry-After", "30")
		http.Error(w, "the file changed on the server and is being rehashed", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+row.InfoHash+`"`)
	p.ws.served.Add(1)
	if !boundRanges(w, r, fi.Size()) {
		return
	}
	http.ServeContent(countingWriter{w, &p.ws.bytes}, r, "", fi.ModTime(), f)
}

// torrentFile finds the file of info that the path components name: the
// torrent's name for a single-file torrent, name/path… for a multi-file one.
// It returns the file's path inside the row's directory ("" for a single
// file) and its length.
//
// A single file is also found at the web seed URL itself (no component):
// webtorrent (npm, 2.8) asks there instead of appending the name as BEP 19
// says for a URL that ends in a slash.
func torrentFile(info *metainfo.Info, parts []string) (string, int64, bool) {
	if !info.IsDir() && len(parts) == 1 && parts[0] == "" {
		return "", info.Length, true
	}
	if len(parts) == 0 || parts[0] != info.Name {
		return "", 0, false
	}
	if !info.IsDir() {
		return "", info.Length, len(parts) == 1
	}
	for _, f := range info.Files {
		if slices.Equal(f.Path, parts[1:]) {
			return strings.Join(f.Path, "/"), f.Length, true
		}
	}
	return "", 0, false
}

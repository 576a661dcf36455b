package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lanseedd/lanseedd"
)

// Config holds the front's settings.
type Config struct {
	// BaseURL is how LAN clients reach the public listener (links, web
	// seeds, the feed), without a trailing slash.
	BaseURL string `yaml:"base_url"`
	// FeedItems is how many torrents the RSS feed lists.
	FeedItems int `yaml:"feed_items"`
	// WebSeedAlways serves a torrent's web seed even while the seeder seeds
	// it. By default the web seed stands in only for a torrent the seeder
	// does not seed (stopped, or the file being rehashed): clients that
	// download from it while peers are there take the server's uplink
	// copy by copy, which is what BitTorrent is here to avoid.
	WebSeedAlways bool `yaml:"web_seed_always"`
	// Version is shown on the status page.
	Version string `yaml:"-"`
}

// Validate reports the first invalid field, naming its key.
func (c Config) Validate() error {
	if c.FeedItems < 1 || c.FeedItems > 10000 {
		return fmt.Errorf("http.feed_items: must be 1..10000, got %d", c.FeedItems)
	}
	return nil
}

// Public serves the LAN users and the catalog site.
type Public struct {
	cfg    Config
	cat    Catalog
	seeder Seeder
	log    *slog.Logger
	mux    *http.ServeMux
}

// NewPublic returns the public handler.
func NewPublic(cfg Config, cat Catalog, seeder Seeder, logger *slog.Logger) *Public {
	p := &Public{cfg: cfg, cat: cat, seeder: seeder, log: logger, mux: http.NewServeMux()}
	p.mux.HandleFunc("GET /t/{name}", p.torrent)
	p.mux.HandleFunc("GET /api/files/{id}", p.apiFile)
	p.mux.HandleFunc("GET /feed.rss", p.feed)
	p.mux.HandleFunc("GET "+WebSeedPrefix+"{id}/{path...}", p.webSeed)
	return p
}

func (p *Public) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// lookup finds the row a link names: a decimal id or a 40-digit infohash.
func (p *Public) lookup(w http.ResponseWriter, r *http.Request, key string) (lanseedd.Row, bool) {
	var (
		row lanseedd.Row
		err error
	)
	if id, perr := strconv.ParseInt(key, 10, 64); perr == nil {
		row, err = p.cat.Get(r.Context(), id)
	} else if isInfoHash(key) {
		row, err = p.cat.GetByInfoHash(r.Context(), key)
	} else {
		http.Error(w, "not found: links look like /t/42.torrent or /t/<40 hex digits>.torrent", http.StatusNotFound)
		return row, false
	}
	switch {
	case errors.Is(err, lanseedd.ErrNotFound) || err == nil && row.State == lanseedd.StateDeleted:
		http.Error(w, "no such file in the catalog", http.StatusNotFound)
		return row, false
	case err != nil:
		p.log.Warn("reading the catalog failed", "err", err)
		http.Error(w, "the catalog is unavailable; try again shortly", http.StatusServiceUnavailable)
		return row, false
	}
	return row, true
}

// refuseUnready answers for a row that is not ready, and reports whether it did.
func refuseUnready(w http.ResponseWriter, row lanseedd.Row) bool {
	switch row.State {
	case lanseedd.StateReady:
		return false
	case lanseedd.StatePending:
		w.Header().Set("Retry-After", "5")
		http.Error(w, fmt.Sprintf("file %d (%s) is being prepared; try again in a few seconds", row.FileID, row.Path),
			http.StatusServiceUnavailable)
	case lanseedd.StateMissing:
		http.Error(w, fmt.Sprintf("file %d (%s) is missing on the server", row.FileID, row.Path), http.StatusNotFound)
	default:
		http.Error(w, fmt.Sprintf("file %d (%s) cannot be shared: %s", row.FileID, row.Path, row.Error), http.StatusConflict)
	}
	return true
}

// torrent serves /t/{id}.torrent and /t/{infohash}.torrent.
func (p *Public) torrent(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutSuffix(r.PathValue("name"), ".torrent")
	if !ok {
		http.Error(w, "not found: links look like /t/42.torrent", http.StatusNotFound)
		return
	}
	row, ok := p.lookup(w, r, key)
	if !ok || refuseUnready(w, row) {
		return
	}
	f, err := os.Open(p.seeder.TorrentFile(row.FileID))
	if err != nil {
		// Ready in the table but not on disk yet: the row is being redone.
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the torrent is being regenerated; try again in a few seconds", http.StatusServiceUnavailable)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "the torrent is unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-bittorrent")
	w.Header().Set("Content-Disposition", ContentDisposition(row.Name+".torrent"))
	w.Header().Set("ETag", `"`+row.InfoHash+"-"+strconv.FormatInt(fi.ModTime().UnixNano(), 36)+`"`)
	http.ServeContent(w, r, "", fi.ModTime().Truncate(time.Second), f)
}

func isInfoHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ContentDisposition returns an attachment header value carrying name
// (RFC 6266): an ASCII fallback for old clients and the exact UTF-8 name in
// filename* (RFC 5987).
func ContentDisposition(name string) string {
	fallback := make([]rune, 0, len(name))
	for _, c := range name {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '%' {
			c = '_'
		}
		fallback = append(fallback, c)
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, string(fallback), encodeRFC5987(name))
}

// encodeRFC5987 percent-encodes every byte of s that is not an attr-char.
func encodeRFC5987(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

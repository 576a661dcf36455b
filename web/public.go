package web

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/prometheus/client_golang/prometheus"
)

// Config holds the front's settings.
type Config struct {
	// BaseURL is how LAN clients reach the public listener (links, web
	// seeds, the feed), without a trailing slash.
	BaseURL string `yaml:"-"`
	// FeedItems is how many torrents the RSS feed lists.
	FeedItems int `yaml:"feed_items"`
	// WebSeedMode says when lanseedd's own web seed (/ws/…) is listed in
	// the torrents served and when it answers: WebSeedStandIn (the
	// default), WebSeedAlways or WebSeedOff.
	WebSeedMode string `yaml:"web_seed_mode"`
	// Version is shown on the status page.
	Version string `yaml:"-"`

	// ReadTimeout bounds reading a request, headers and body, on both
	// listeners.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout is how long a response may go without progress: a
	// client that stops reading is cut after it, a slow download that
	// keeps moving is not.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a kept-alive connection with no request, on both
	// listeners.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnsPerIP bounds the public listener's connections open at once
	// from one address; 0 means no limit.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
}

// Modes of lanseedd's own web seed.
const (
	// WebSeedStandIn lists the web seed in a torrent, and serves it, only
	// while the seeder does not seed that torrent (its file being
	// rehashed, the seeder stopped or still restoring). While the seeder
	// seeds, clients share with each other instead of each taking a copy
	// from the server, and the served torrent leaves the web seed out:
	// aria2 picks pieces in one fixed order (from the end of the file
	// backwards, the same for every client) for the whole download of a
	// torrent that lists any web seed, and the clients then have little
	// to exchange.
	WebSeedStandIn = "standin"
	// WebSeedAlways lists the web seed in every torrent and serves it
	// always, alongside the seeder.
	WebSeedAlways = "always"
	// WebSeedOff never lists nor serves it.
	WebSeedOff = "off"
)

// Validate reports the first invalid field, naming its key.
func (c Config) Validate() error {
	if c.FeedItems < 1 || c.FeedItems > 10000 {
		return fmt.Errorf("http.feed_items: must be 1..10000, got %d", c.FeedItems)
	}
	switch c.WebSeedMode {
	case WebSeedStandIn, WebSeedAlways, WebSeedOff:
	default:
		return fmt.Errorf("http.web_seed_mode: want %s, %s or %s, got %q", WebSeedStandIn, WebSeedAlways, WebSeedOff, c.WebSeedMode)
	}
	return c.validateLimits()
}

// Public serves the LAN users and the catalog site.
type Public struct {
	cfg    Config
	cat    Catalog
	seeder Seeder
	log    *slog.Logger
	mux    *http.ServeMux
	ws     webSeedCounters
	// handler is mux counted in requests, which the admin listener's
	// /metrics exports.
	handler  http.Handler
	requests *prometheus.CounterVec
	outage   outage
}

// NewPublic returns the public handler.
func NewPublic(cfg Config, cat Catalog, seeder Seeder, logger *slog.Logger) *Public {
	p := &Public{cfg: cfg, cat: cat, seeder: seeder, log: logger, mux: http.NewServeMux(), outage: outage{log: logger}}
	p.mux.HandleFunc("GET /t/{name}", p.torrent)
	p.mux.HandleFunc("GET /api/files/{id}", p.apiFile)
	p.mux.HandleFunc("GET /feed.rss", p.feed)
	p.mux.HandleFunc("GET /{$}", p.index)
	p.mux.HandleFunc("GET "+WebSeedPrefix+"{id}/{path...}", p.webSeed)
	p.mux.HandleFunc(apiPrefix, apiUnknown)
	p.handler, p.requests = instrument("public", p.mux)
	p.handler = bounded(cfg.WriteTimeout, p.handler)
	return p
}

func (p *Public) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// lookup finds the row a link names: a decimal id or a 40-digit infohash.
// Unknown and deleted rows are 404, a catalog outage 503.
func (p *Public) lookup(w http.ResponseWriter, r *http.Request, key string) (lanseedd.Row, bool) {
	row, err := p.find(r, key)
	return row, p.found(w, r, row, err)
}

// find reads the row a link names from the catalog, through the breaker.
func (p *Public) find(r *http.Request, key string) (row lanseedd.Row, err error) {
	if id, perr := strconv.ParseInt(key, 10, 64); perr == nil {
		err = p.outage.read(r.Context(), func(ctx context.Context) (err error) {
			row, err = p.cat.Get(ctx, id)
			return err
		})
	} else if isInfoHash(key) {
		err = p.outage.read(r.Context(), func(ctx context.Context) (err error) {
			row, err = p.cat.GetByInfoHash(ctx, key)
			return err
		})
	} else {
		err = errBadKey
	}
	return row, err
}

var errBadKey = errors.New("not found: files are named by a decimal id or a 40-digit infohash")

// found answers for a failed find and reports whether the row was found.
func (p *Public) found(w http.ResponseWriter, r *http.Request, row lanseedd.Row, err error) bool {
	switch {
	case errors.Is(err, errBadKey):
		replyError(w, r, http.StatusNotFound, err.Error())
		return false
	case errors.Is(err, lanseedd.ErrNotFound) || err == nil && row.State == lanseedd.StateDeleted:
		replyError(w, r, http.StatusNotFound, "no such file in the catalog")
		return false
	case err != nil:
		// Logged once per outage by p.outage.
		w.Header().Set("Retry-After", "5")
		replyError(w, r, http.StatusServiceUnavailable, "the catalog is unavailable; try again shortly")
		return false
	}
	return true
}

// fromSeeder makes the row of a link from the seeder's own state: what a
// seeded row's .torrent needs (its id, infohash and name), while the
// catalog cannot say. A row the seeder does not seed is not found.
func (p *Public) fromSeeder(key string) (lanseedd.Row, bool) {
	var (
		ih [20]byte
		id int64
		ok bool
	)
	if n, err := strconv.ParseInt(key, 10, 64); err == nil {
		id = n
		ih, ok = p.seeder.Seeded(id)
	} else if isInfoHash(key) {
		if _, err := hex.Decode(ih[:], []byte(key)); err == nil {
			id, ok = p.seeder.SeededRow(ih)
		}
	}
	if !ok {
		return lanseedd.Row{}, false
	}
	mi, err := metainfo.LoadFromFile(p.seeder.TorrentFile(id))
	if err != nil || [20]byte(mi.HashInfoBytes()) != ih {
		return lanseedd.Row{}, false
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return lanseedd.Row{}, false
	}
	return lanseedd.Row{FileID: id, InfoHash: hex.EncodeToString(ih[:]), Name: info.BestName(), State: lanseedd.StateReady}, true
}

// refuseUnready answers for a row that is not ready, and reports whether it
// did. The row's error is shown without the server's absolute paths.
func (p *Public) refuseUnready(w http.ResponseWriter, r *http.Request, row lanseedd.Row) bool {
	var (
		code int
		msg  string
	)
	switch row.State {
	case lanseedd.StateReady:
		return false
	case lanseedd.StatePending:
		w.Header().Set("Retry-After", "5")
		code, msg = http.StatusServiceUnavailable, fmt.Sprintf("file %d (%s) is being prepared; try again in a few seconds", row.FileID, row.Path)
	case lanseedd.StateMissing:
		code, msg = http.StatusNotFound, fmt.Sprintf("file %d (%s) is missing on the server", row.FileID, row.Path)
	case lanseedd.StateExpired:
		// Gone for good as far as a client can tell: it should not retry.
		code, msg = http.StatusGone, fmt.Sprintf("file %d (%s) is no longer shared: %s", row.FileID, row.Path, row.Error)
	default:
		code, msg = http.StatusConflict, fmt.Sprintf("file %d (%s) cannot be shared: %s", row.FileID, row.Path, row.Error)
	}
	replyError(w, r, code, redactPaths(msg, p.seeder.ContentRoot()))
	return true
}

// torrent serves /t/{id}.torrent and /t/{infohash}.torrent.
func (p *Public) torrent(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutSuffix(r.PathValue("name"), ".torrent")
	if !ok {
		http.Error(w, "not found: links look like /t/42.torrent or /t/<40 hex digits>.torrent", http.StatusNotFound)
		return
	}
	row, err := p.find(r, key)
	if err != nil && !errors.Is(err, lanseedd.ErrNotFound) && !errors.Is(err, errBadKey) {
		// The catalog is unreachable: a seeded row's torrent is known.
		if seeded, ok := p.fromSeeder(key); ok {
			row, err = seeded, nil
		}
	}
	if !p.found(w, r, row, err) || p.refuseUnready(w, r, row) {
		return
	}
	body, modTime, etag, err := p.servedTorrent(row)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Ready in the table but not on disk yet: the row is being redone.
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the torrent is being regenerated; try again in a few seconds", http.StatusServiceUnavailable)
		return
	case err != nil:
		p.log.Error("cannot read a torrent file", "file_id", row.FileID, "err", err)
		http.Error(w, "the torrent is unreadable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-bittorrent")
	w.Header().Set("Content-Disposition", ContentDisposition(row.Name+".torrent"))
	w.Header().Set("ETag", `"`+etag+`"`)
	// Revalidate every time: the web seed comes and goes with the seeder.
	w.Header().Set("Cache-Control", "no-cache")
	if !boundRanges(w, r, int64(len(body))) {
		return
	}
	http.ServeContent(w, r, "", modTime.Truncate(time.Second), bytes.NewReader(body))
}

// servedTorrent returns the .torrent of a ready row as /t/ serves it: the
// stored file, or the same with the trackers of the nodes up now (see
// Seeder.Trackers) and without our web seed (see hideWebSeed), with its
// time and an ETag naming the variant. The info dictionary is kept byte
// for byte, so the infohash is the same. The feed's enclosure length is
// its size.
func (p *Public) servedTorrent(row lanseedd.Row) (body []byte, modTime time.Time, etag string, err error) {
	f, err := os.Open(p.seeder.TorrentFile(row.FileID))
	if err != nil {
		return nil, modTime, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, modTime, "", err
	}
	modTime, etag = fi.ModTime(), row.InfoHash+"-"+strconv.FormatInt(fi.ModTime().UnixNano(), 36)
	stored, err := io.ReadAll(f)
	if err != nil {
		return nil, modTime, "", err
	}
	drop := ""
	if hideWebSeed(p.cfg, p.seeder, row) {
		drop = WebSeedURL(p.cfg.BaseURL, row.FileID)
	}
	body, tag, err := variant(stored, p.seeder.Trackers(), drop)
	return body, modTime, etag + tag, err
}

// variant returns the stored torrent announcing to tiers and without the
// web seed drop ("": none), and a suffix naming the variant in ETags: ""
// when it is the stored torrent itself. The info dictionary is kept byte
// for byte, so the infohash is the same.
func variant(stored []byte, tiers [][]string, drop string) (body []byte, tag string, err error) {
	mi, err := metainfo.Load(bytes.NewReader(stored))
	if err != nil {
		return nil, "", err
	}
	if !slices.EqualFunc(mi.UpvertedAnnounceList(), tiers, slices.Equal) {
		mi.Announce, mi.AnnounceList = "", nil
		if len(tiers) > 0 {
			mi.Announce, mi.AnnounceList = tiers[0][0], tiers
		}
		tag += "-" + tiersTag(tiers)
	}
	if drop != "" && slices.Contains(mi.UrlList, drop) {
		mi.UrlList = slices.DeleteFunc(mi.UrlList, func(u string) bool { return u == drop })
		if len(mi.UrlList) == 0 {
			mi.UrlList = nil // no empty url-list key
		}
		tag += "-p"
	}
	if tag == "" {
		return stored, "", nil
	}
	var b bytes.Buffer
	if err := mi.Write(&b); err != nil {
		return nil, "", err
	}
	return b.Bytes(), tag, nil
}

// tiersTag names a list of tiers in an ETag.
func tiersTag(tiers [][]string) string {
	h := fnv.New64a()
	for _, t := range tiers {
		for _, u := range t {
			h.Write([]byte(u))
			h.Write([]byte{' '})
		}
		h.Write([]byte{'\n'})
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// hideWebSeed reports whether the torrent served for row, and its magnet,
// leave out our web seed: always when it is off, while the seeder seeds
// row when it stands in.
func hideWebSeed(cfg Config, s Seeder, row lanseedd.Row) bool {
	switch cfg.WebSeedMode {
	case WebSeedOff:
		return true
	case WebSeedAlways:
		return false
	default:
		return seeding(s, row)
	}
}

// seeding reports whether the seeder seeds row's torrent: every ready row
// when it loads torrents on demand, else the torrents it has loaded.
func seeding(s Seeder, row lanseedd.Row) bool {
	if s.OnDemand() && row.State == lanseedd.StateReady {
		return true
	}
	var ih [20]byte
	if _, err := hex.Decode(ih[:], []byte(row.InfoHash)); err != nil {
		return false
	}
	_, ok := s.TorrentStats(ih)
	return ok
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

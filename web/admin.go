package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/tracker"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed status.html index.html
var templates embed.FS

var statusPage = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"bytes": FormatBytes,
	"short": func(s string) string { return s[:min(len(s), 12)] },
	"count": func(m map[lanseedd.State]int64, s string) int64 { return m[lanseedd.State(s)] },
}).ParseFS(templates, "status.html"))

// Admin serves the status page, the JSON API, metrics and health checks.
type Admin struct {
	cfg     Config
	cat     Catalog
	seeder  Seeder
	tracker Tracker
	webSeed interface{ WebSeedStats() WebSeedStats }
	log     *slog.Logger
	started time.Time
	handler http.Handler
	reload  reloadState
	outage  outage
}

// NewAdmin returns the admin handler; pub is the public handler whose web
// seed and requests it reports.
func NewAdmin(cfg Config, cat Catalog, seeder Seeder, tr Tracker, pub *Public, logger *slog.Logger) *Admin {
	a := &Admin{cfg: cfg, cat: cat, seeder: seeder, tracker: tr, webSeed: pub, log: logger, started: time.Now(),
		outage: outage{log: logger}}
	a.ReloadResult(true, a.started)
	mux := http.NewServeMux()
	var requests *prometheus.CounterVec
	a.handler, requests = instrument("admin", mux)
	a.handler = bounded(cfg.WriteTimeout, a.handler)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&collector{a: a, build: readBuildInfo(cfg.Version)}, requests, pub.requests)
	mux.HandleFunc("GET /{$}", a.status)
	mux.HandleFunc("GET /api/files", a.apiFiles)
	mux.HandleFunc("GET /api/files/{id}", a.apiFile)
	mux.HandleFunc("GET /api/stats", a.apiStats)
	mux.HandleFunc(apiPrefix, apiUnknown)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", a.ready)
	return a
}

func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// reloadState is the outcome of the last configuration reload.
type reloadState struct {
	ok     atomic.Bool
	okAtNs atomic.Int64 // when a reload last succeeded, Unix nanoseconds
}

// ReloadResult records the outcome of a configuration reload, for
// lanseedd_config_last_reload_successful and
// lanseedd_config_last_reload_success_timestamp_seconds: the daemon calls
// it after every SIGHUP, ok false when the new configuration was rejected.
// Until then the configuration read at start counts as a successful load.
func (a *Admin) ReloadResult(ok bool, at time.Time) {
	a.reload.ok.Store(ok)
	if ok {
		a.reload.okAtNs.Store(at.UnixNano())
	}
}

// Stats is the JSON of /api/stats.
type Stats struct {
	Version       string                   `json:"version"`
	Started       time.Time                `json:"started_at"`
	UptimeSeconds float64                  `json:"uptime_seconds"`
	Rows          map[lanseedd.State]int64 `json:"rows"`
	Seeder        lanseedd.SeederStats     `json:"seeder"`
	Tracker       TrackerStats             `json:"tracker"`
	WebSeed       WebSeedStats             `json:"web_seed"`
	// OldestPendingSeconds is how long the longest-waiting row has waited.
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
}

// TrackerStats is the JSON view of the tracker's totals: the front owns
// the names the catalog site and scripts read, not the tracker package.
type TrackerStats struct {
	Swarms   int64 `json:"swarms"`
	Peers    int64 `json:"peers"`
	Seeders  int64 `json:"seeders"`
	Leechers int64 `json:"leechers"`

	HTTPAnnounces int64 `json:"http_announces"`
	HTTPScrapes   int64 `json:"http_scrapes"`
	HTTPErrors    int64 `json:"http_errors"`
	UDPConnects   int64 `json:"udp_connects"`
	UDPAnnounces  int64 `json:"udp_announces"`
	UDPScrapes    int64 `json:"udp_scrapes"`
	UDPErrors     int64 `json:"udp_errors"`
	// Refused counts announces refused because a limit was hit.
	Refused int64 `json:"refused"`
	// Completed counts downloads completed (completed events).
	Completed int64 `json:"completed"`
}

func trackerView(s tracker.Stats) TrackerStats {
	return TrackerStats{
		Swarms: s.Swarms, Peers: s.Peers, Seeders: s.Seeders, Leechers: s.Leechers,
		HTTPAnnounces: s.HTTPAnnounces, HTTPScrapes: s.HTTPScrapes, HTTPErrors: s.HTTPErrors,
		UDPConnects: s.UDPConnects, UDPAnnounces: s.UDPAnnounces, UDPScrapes: s.UDPScrapes, UDPErrors: s.UDPErrors,
		Refused: s.Refused, Completed: s.Completed,
	}
}

func (a *Admin) stats(ctx context.Context) (Stats, error) {
	s := Stats{
		Version: a.cfg.Version, Started: a.started, UptimeSeconds: time.Since(a.started).Seconds(),
		Seeder: a.seeder.Stats(), Tracker: trackerView(a.tracker.Stats()), WebSeed: a.webSeed.WebSeedStats(),
	}
	var err error
	if s.Rows, err = a.cat.Counts(ctx); err != nil {
		return s, err
	}
	for _, st := range []lanseedd.State{lanseedd.StatePending, lanseedd.StateReady, lanseedd.StateMissing, lanseedd.StateError, lanseedd.StateExpired} {
		s.Rows[st] += 0 // every state is listed, zero or not
	}
	t, ok, err := a.cat.OldestPending(ctx)
	if err != nil {
		return s, err
	}
	if ok {
		s.OldestPendingSeconds = max(0, time.Since(t).Seconds())
	}
	a.outage.up()
	return s, nil
}

func (a *Admin) apiStats(w http.ResponseWriter, r *http.Request) {
	s, err := a.stats(r.Context())
	if err != nil {
		a.catalogDown(w, r, err)
		return
	}
	writeJSON(w, s)
}

// catalogDown answers 503 for a catalog outage. The admin listener is the
// operator's, so the error is shown as it is.
func (a *Admin) catalogDown(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client hung up: nothing to say about the catalog
	}
	a.outage.failed(err) // logged once per outage
	w.Header().Set("Retry-After", "5")
	replyError(w, r, http.StatusServiceUnavailable, "the catalog is unavailable: "+err.Error())
}

// Bounds of the page parameters: a search longer than any path, or a page
// past any catalog, is the client's mistake (400), not the database's
// (SQLite refuses LIKE patterns over 50,000 bytes; an offset can overflow).
const (
	maxSearch = 4096
	maxPage   = 1 << 20
)

// query reads the page parameters: state (repeatable or comma-separated),
// q (path substring), page (from 1), per_page.
func query(r *http.Request) (store.Query, int, error) {
	v := r.URL.Query()
	q := store.Query{Search: strings.TrimSpace(v.Get("q")), Limit: 50}
	if len(q.Search) > maxSearch {
		return q, 1, fmt.Errorf("q: at most %d bytes, got %d", maxSearch, len(q.Search))
	}
	for _, s := range v["state"] {
		for _, st := range strings.Split(s, ",") {
			if st := lanseedd.State(strings.TrimSpace(st)); st.Valid() {
				q.States = append(q.States, st)
			}
		}
	}
	if n, err := strconv.Atoi(v.Get("per_page")); err == nil && n > 0 {
		q.Limit = min(n, 1000)
	}
	page := 1
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 1 {
		page = n
	}
	if page > maxPage {
		return q, 1, fmt.Errorf("page: at most %d, got %d", maxPage, page)
	}
	q.Offset = (page - 1) * q.Limit
	return q, page, nil
}

// withSwarm adds tracker and seeder figures to a file's JSON view.
func (a *Admin) withSwarm(f File) File {
	var ih [20]byte
	if _, err := hex.Decode(ih[:], []byte(f.InfoHash)); err != nil || f.InfoHash == "" {
		return f
	}
	sw, _ := a.tracker.Swarm(ih)
	f.Seeders, f.Leechers, f.Completed = &sw.Seeders, &sw.Leechers, &sw.Completed
	ts, _ := a.seeder.TorrentStats(ih)
	f.Uploaded = &ts.UploadedBytes
	return f
}

// listed are the states /api/files lists unless told otherwise: all but
// expired.
var listed = []lanseedd.State{lanseedd.StatePending, lanseedd.StateReady, lanseedd.StateMissing, lanseedd.StateError, lanseedd.StateDeleted}

// apiFiles serves GET /api/files: a page of rows with their figures.
func (a *Admin) apiFiles(w http.ResponseWriter, r *http.Request) {
	q, page, err := query(r)
	if err != nil {
		replyError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if len(q.States) == 0 {
		// Withdrawn torrents are listed only when asked for (?state=expired).
		q.States = listed
	}
	rows, total, err := a.cat.Page(r.Context(), q)
	if err != nil {
		a.catalogDown(w, r, err)
		return
	}
	out := struct {
		Total   int64  `json:"total"`
		Page    int    `json:"page"`
		PerPage int    `json:"per_page"`
		Files   []File `json:"files"`
	}{Total: total, Page: page, PerPage: q.Limit, Files: []File{}}
	for _, row := range rows {
		out.Files = append(out.Files, a.withSwarm(describe(a.cfg, a.seeder, row)))
	}
	writeJSON(w, out)
}

func (a *Admin) apiFile(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		replyError(w, r, http.StatusNotFound, "not found: files are named by their decimal id")
		return
	}
	row, err := a.cat.Get(r.Context(), id)
	switch {
	case errors.Is(err, lanseedd.ErrNotFound):
		replyError(w, r, http.StatusNotFound, "no such file in the catalog")
		return
	case err != nil:
		a.catalogDown(w, r, err)
		return
	}
	a.outage.up()
	writeJSON(w, a.withSwarm(describe(a.cfg, a.seeder, row)))
}

// ready answers 200 when the catalog answers and the seeder can make
// torrents; the client is up as long as the process is.
func (a *Admin) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := a.cat.Ping(ctx); err != nil {
		http.Error(w, "catalog unreachable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := a.seeder.Problem(); err != nil {
		http.Error(w, "seeder: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

// statusView is what status.html renders.
type statusView struct {
	Stats
	Uptime    string
	Attention []statusRow
	Files     []statusRow
	Query     store.Query
	Filter    string // the state filter, "" for all
	Total     int64
	Page      int
	Pages     int
	PrevURL   string
	NextURL   string
	States    []lanseedd.State
	Error     string
}

type statusRow struct {
	File
	Age string
}

// status renders the status page: counts, rows needing attention, then a
// searchable, paged table of torrents.
func (a *Admin) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := time.Now()
	q, page, err := query(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v := statusView{
		Query: q, Page: page,
		States: []lanseedd.State{lanseedd.StateReady, lanseedd.StatePending, lanseedd.StateMissing, lanseedd.StateError, lanseedd.StateExpired},
	}
	if len(q.States) == 1 {
		v.Filter = string(q.States[0])
	}
	v.Stats, err = a.stats(ctx)
	v.Uptime = time.Since(a.started).Round(time.Second).String()
	if err == nil {
		var rows []lanseedd.Row
		rows, _, err = a.cat.Page(ctx, store.Query{
			States: []lanseedd.State{lanseedd.StateError, lanseedd.StateMissing}, Newest: true, Limit: 20,
		})
		for _, row := range rows {
			v.Attention = append(v.Attention, statusRow{File: describe(a.cfg, a.seeder, row), Age: formatAge(now, row.UpdatedAt)})
		}
	}
	if err == nil {
		var rows []lanseedd.Row
		rows, v.Total, err = a.cat.Page(ctx, q)
		for _, row := range rows {
			v.Files = append(v.Files, statusRow{File: a.withSwarm(describe(a.cfg, a.seeder, row)), Age: formatAge(now, row.UpdatedAt)})
		}
	}
	if err != nil {
		v.Error = "The catalog database is unavailable: " + err.Error() + ". Seeding and tracking go on; this page fills again when it is back."
	}
	v.Pages = int((v.Total + int64(q.Limit) - 1) / int64(q.Limit))
	link := func(p int) string {
		vals := url.Values{}
		if q.Search != "" {
			vals.Set("q", q.Search)
		}
		if v.Filter != "" {
			vals.Set("state", v.Filter)
		}
		vals.Set("page", strconv.Itoa(p))
		return "?" + vals.Encode()
	}
	if page > 1 {
		v.PrevURL = link(page - 1)
	}
	if page < v.Pages {
		v.NextURL = link(page + 1)
	}
	var html bytes.Buffer
	if err := statusPage.Execute(&html, v); err != nil {
		a.log.Error("rendering the status page failed", "err", err)
		http.Error(w, "the status page failed to render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(html.Bytes())
}

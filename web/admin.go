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
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	"ago":   func(sec float64) string { return time.Duration(sec * float64(time.Second)).Round(time.Second).String() },
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
	counts  countsCache
	// node is this daemon's node name; nodes lists the nodes sharing the
	// catalog as last read (nil: none known).
	node  string
	nodes func() []lanseedd.Node
}

// SetNodes names this daemon's node and gives the list of the nodes
// sharing the catalog, for the status page, /api/stats and metrics.
func (a *Admin) SetNodes(self string, nodes func() []lanseedd.Node) {
	a.node, a.nodes = self, nodes
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
	// Node is this daemon's node name; Nodes are the nodes sharing the
	// catalog, in name order, as of the last heartbeat.
	Node  string          `json:"node"`
	Nodes []lanseedd.Node `json:"nodes"`
	// Conflicts counts the nodes' copies of ready rows that are other
	// bytes than the row's, or cannot be read.
	Conflicts int64 `json:"conflicts"`
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
		Node: a.node, Nodes: []lanseedd.Node{},
	}
	if a.nodes != nil {
		s.Nodes = append(s.Nodes, a.nodes()...)
	}
	var err error
	if s.Rows, err = a.counts.get(ctx, a.cat); err != nil {
		return s, err
	}
	for _, st := range []lanseedd.State{lanseedd.StatePending, lanseedd.StateReady, lanseedd.StateMissing, lanseedd.StateError, lanseedd.StateExpired} {
		s.Rows[st] += 0 // every state is listed, zero or not
	}
	t, ok, err := a.cat.OldestPending(ctx)
	if err != nil {
		return s, err
	}
	if _, s.Conflicts, err = a.cat.Conflicts(ctx, 0); err != nil {
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

// Bounds of the page parameters: a search longer than any path is the
// client's mistake (400), not the database's (SQLite refuses LIKE patterns
// over 50,000 bytes). A page is read from an offset only up to maxOffset
// rows: the database skips an offset's rows one by one (0.4 s for a million),
// while a page after a file id (?after=, which next links carry) costs the
// same at any depth.
const (
	maxSearch = 4096
	maxOffset = 100_000
)

// query reads the page parameters: state (repeatable or comma-separated),
// q (path substring), page (from 1), per_page, and after (the file id the
// page starts after; the page number is then only shown).
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
	if s := v.Get("after"); s != "" {
		after, err := strconv.ParseInt(s, 10, 64)
		if err != nil || after < 0 {
			return q, 1, fmt.Errorf("after: a file id, got %q", s)
		}
		q.After = after
		return q, page, nil
	}
	if last := maxOffset/q.Limit + 1; page > last {
		return q, 1, fmt.Errorf("page: at most %d with %d per page; past it, follow the next links (after=)", last, q.Limit)
	}
	q.Offset = (page - 1) * q.Limit
	return q, page, nil
}

// countsTTL is how long the per-state counts are reused. Counting reads an
// index entry per row (0.1 s to 0.4 s at a million rows), and the status
// page, /api/stats, the totals of /api/files and every metrics scrape ask
// for them: figures a few seconds old do for all of them.
const countsTTL = 5 * time.Second

// countsCache holds the catalog's per-state counts for countsTTL. Callers
// that find them stale wait for the one that reads them anew.
type countsCache struct {
	mu sync.Mutex
	at time.Time
	m  map[lanseedd.State]int64
}

// get returns a copy of the counts, read again when older than countsTTL.
func (c *countsCache) get(ctx context.Context, cat Catalog) (map[lanseedd.State]int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || time.Since(c.at) > countsTTL {
		m, err := cat.Counts(ctx)
		if err != nil {
			return nil, err
		}
		c.m, c.at = m, time.Now()
	}
	return maps.Clone(c.m), nil
}

// total returns how many rows match q: from the cached counts when q has
// no search, so that paging through a large catalog does not count it on
// every page; with a search, by counting the matches.
func (a *Admin) total(ctx context.Context, q store.Query) (int64, error) {
	if q.Search != "" {
		return a.cat.Count(ctx, q)
	}
	counts, err := a.counts.get(ctx, a.cat)
	if err != nil {
		return 0, err
	}
	var n int64
	for st, c := range counts {
		if len(q.States) == 0 && st != lanseedd.StateDeleted || slices.Contains(q.States, st) {
			n += c
		}
	}
	return n, nil
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
	rows, err := a.cat.Page(r.Context(), q)
	var total int64
	if err == nil {
		total, err = a.total(r.Context(), q)
	}
	if err != nil {
		a.catalogDown(w, r, err)
		return
	}
	out := struct {
		Total   int64 `json:"total"`
		Page    int   `json:"page"`
		PerPage int   `json:"per_page"`
		// Next is the after= of the next page; absent on the last.
		Next  int64  `json:"next,omitempty"`
		Files []File `json:"files"`
	}{Total: total, Page: page, PerPage: q.Limit, Files: []File{}}
	if len(rows) == q.Limit {
		out.Next = rows[len(rows)-1].FileID
	}
	for _, row := range rows {
		out.Files = append(out.Files, a.withSwarm(describe(a.cfg, a.seeder, row)))
	}
	writeJSON(w, out)
}

// withCopies adds to the rows of the status page the nodes' copies.
func (a *Admin) withCopies(ctx context.Context, rows []statusRow) error {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	cs, err := a.cat.Copies(ctx, ids...)
	if err != nil {
		return err
	}
	byID := make(map[int64][]lanseedd.Copy)
	for _, c := range cs {
		byID[c.FileID] = append(byID[c.FileID], c)
	}
	for i := range rows {
		rows[i].Copies = byID[rows[i].ID]
	}
	return nil
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
	f := a.withSwarm(describe(a.cfg, a.seeder, row))
	if f.Copies, err = a.cat.Copies(r.Context(), id); err != nil {
		a.catalogDown(w, r, err)
		return
	}
	a.outage.up()
	writeJSON(w, f)
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
	// Differing are the newest nodes' copies that are not their row's.
	Differing []lanseedd.Copy
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
		rows, err = a.cat.Page(ctx, store.Query{
			States: []lanseedd.State{lanseedd.StateError, lanseedd.StateMissing}, Newest: true, Limit: 20,
		})
		for _, row := range rows {
			v.Attention = append(v.Attention, statusRow{File: describe(a.cfg, a.seeder, row), Age: formatAge(now, row.UpdatedAt)})
		}
	}
	if err == nil && v.Stats.Conflicts > 0 {
		v.Differing, _, err = a.cat.Conflicts(ctx, 20)
	}
	var next int64 // the after= of the next page, 0 for none
	if err == nil {
		var rows []lanseedd.Row
		rows, err = a.cat.Page(ctx, q)
		for _, row := range rows {
			v.Files = append(v.Files, statusRow{File: a.withSwarm(describe(a.cfg, a.seeder, row)), Age: formatAge(now, row.UpdatedAt)})
		}
		if len(v.Nodes) > 1 && err == nil {
			err = a.withCopies(ctx, v.Files)
		}
		if len(rows) == q.Limit {
			next = rows[len(rows)-1].FileID
		}
	}
	if err == nil {
		v.Total, err = a.total(ctx, q)
	}
	if err != nil {
		v.Error = "The catalog database is unavailable: " + err.Error() + ". Seeding and tracking go on; this page fills again when it is back."
	}
	v.Pages = int((v.Total + int64(q.Limit) - 1) / int64(q.Limit))
	link := func(p int, after int64) string {
		vals := url.Values{}
		if q.Search != "" {
			vals.Set("q", q.Search)
		}
		if v.Filter != "" {
			vals.Set("state", v.Filter)
		}
		vals.Set("page", strconv.Itoa(p))
		if after > 0 {
			vals.Set("after", strconv.FormatInt(after, 10))
		}
		return "?" + vals.Encode()
	}
	// Next pages follow the last id shown, at any depth; a previous page
	// is read from its offset, as far as that goes.
	if page > 1 && (page-2)*q.Limit <= maxOffset {
		v.PrevURL = link(page-1, 0)
	}
	if next > 0 {
		v.NextURL = link(page+1, next)
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

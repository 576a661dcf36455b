package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/tracker"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fakeCatalog is a state table in memory; down makes every call fail as a
// lost database connection does.
type fakeCatalog struct {
	mu   sync.Mutex
	rows []lanseedd.Row
	down bool
	// counted is how many times Counts was called.
	counted int
}

var errDown = errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")

func (c *fakeCatalog) setDown(down bool) { c.mu.Lock(); c.down = down; c.mu.Unlock() }

func (c *fakeCatalog) find(match func(lanseedd.Row) bool) (lanseedd.Row, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return lanseedd.Row{}, errDown
	}
	for _, r := range c.rows {
		if match(r) {
			return r, nil
		}
	}
	return lanseedd.Row{}, lanseedd.ErrNotFound
}

func (c *fakeCatalog) Get(_ context.Context, id int64) (lanseedd.Row, error) {
	return c.find(func(r lanseedd.Row) bool { return r.FileID == id })
}

func (c *fakeCatalog) GetByInfoHash(_ context.Context, ih string) (lanseedd.Row, error) {
	return c.find(func(r lanseedd.Row) bool { return r.InfoHash == strings.ToLower(ih) })
}

// matching returns the rows in q's states, in order, with ids above
// q.After.
func (c *fakeCatalog) matching(q store.Query) ([]lanseedd.Row, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errDown
	}
	var out []lanseedd.Row
	for _, r := range c.rows {
		if (len(q.States) == 0 || slices.Contains(q.States, r.State)) && r.FileID > q.After {
			out = append(out, r)
		}
	}
	return out, nil
}

func (c *fakeCatalog) Page(_ context.Context, q store.Query) ([]lanseedd.Row, error) {
	rows, err := c.matching(q)
	if q.Limit > 0 && len(rows) > q.Limit {
		rows = rows[:q.Limit]
	}
	return rows, err
}

func (c *fakeCatalog) Count(_ context.Context, q store.Query) (int64, error) {
	q.After = 0
	rows, err := c.matching(q)
	return int64(len(rows)), err
}

func (c *fakeCatalog) Counts(context.Context) (map[lanseedd.State]int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counted++
	if c.down {
		return nil, errDown
	}
	m := map[lanseedd.State]int64{}
	for _, r := range c.rows {
		m[r.State]++
	}
	return m, nil
}

// The fake catalog has one node: no copies of other nodes.
func (c *fakeCatalog) Copies(context.Context, ...int64) ([]lanseedd.Copy, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errDown
	}
	return nil, nil
}

func (c *fakeCatalog) Conflicts(context.Context, int) ([]lanseedd.Copy, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, 0, errDown
	}
	return nil, 0, nil
}

func (c *fakeCatalog) OldestPending(context.Context) (time.Time, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return time.Time{}, false, errDown
	}
	return time.Time{}, false, nil
}

func (c *fakeCatalog) Ping(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errDown
	}
	return nil
}

// fakeSeeder seeds nothing; its torrents would live in dir.
type fakeSeeder struct{ root, dir string }

func (s fakeSeeder) TorrentFile(id int64) string {
	return filepath.Join(s.dir, strconv.FormatInt(id, 10)+".torrent")
}
func (s fakeSeeder) ContentRoot() string { return s.root }
func (s fakeSeeder) Stats() lanseedd.SeederStats {
	return lanseedd.SeederStats{Torrents: 1, UploadRate: 1 << 20}
}
func (fakeSeeder) Problem() error       { return nil }
func (fakeSeeder) OnDemand() bool       { return false }
func (fakeSeeder) Trackers() [][]string { return [][]string{{"http://fs.lan:6969/announce"}} }
func (fakeSeeder) TorrentStats([20]byte) (lanseedd.TorrentStats, bool) {
	return lanseedd.TorrentStats{}, false
}
func (fakeSeeder) Seeded(int64) ([20]byte, bool)    { return [20]byte{}, false }
func (fakeSeeder) SeededRow([20]byte) (int64, bool) { return 0, false }

type fakeTracker struct{}

func (fakeTracker) Stats() tracker.Stats {
	return tracker.Stats{Swarms: 1, Peers: 3, Seeders: 1, Leechers: 2, HTTPAnnounces: 7, UDPAnnounces: 5, Completed: 4}
}
func (fakeTracker) Swarm([20]byte) (tracker.SwarmStats, bool) { return tracker.SwarmStats{}, false }

const (
	testRoot = "/srv/files"
	readyIH  = "0123456789abcdef0123456789abcdef01234567"
	// readyMagnet has several parameters, so '&' must come through as is.
	readyMagnet = "magnet:?xt=urn:btih:" + readyIH + "&dn=a.bin&tr=http%3A%2F%2Ffs.lan%3A6969%2Fannounce&xl=5"
)

// front is both listeners over one fake catalog, served over real HTTP.
type front struct {
	cat         *fakeCatalog
	admin       *Admin
	public, adm *httptest.Server
}

func newFront(t *testing.T) *front {
	t.Helper()
	cat := &fakeCatalog{rows: []lanseedd.Row{
		{FileID: 1, Path: "a.bin", Name: "a.bin", State: lanseedd.StateReady, InfoHash: readyIH, Size: 5, Magnet: readyMagnet},
		{FileID: 2, Path: "dir/b.bin", Name: "b.bin", State: lanseedd.StateError, Size: 9,
			Error: "hash " + testRoot + "/dir/b.bin: read " + testRoot + "/dir/b.bin: input/output error"},
		{FileID: 3, Path: "c.bin", Name: "c.bin", State: lanseedd.StateError,
			Error: `path is outside the content root: "c.bin" is a link to /etc/shadow`},
	}}
	cfg := Config{BaseURL: "http://fs.lan:8080", FeedItems: 10, WebSeedMode: WebSeedStandIn, Version: "1.2.3"}
	sd := fakeSeeder{root: testRoot, dir: t.TempDir()}
	log := slog.New(slog.DiscardHandler)
	pub := NewPublic(cfg, cat, sd, log)
	adm := NewAdmin(cfg, cat, sd, fakeTracker{}, pub, log)
	f := &front{cat: cat, admin: adm, public: httptest.NewServer(pub), adm: httptest.NewServer(adm)}
	t.Cleanup(f.public.Close)
	t.Cleanup(f.adm.Close)
	return f
}

func do(t *testing.T, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// keys lists the object keys of a decoded JSON document, with their paths.
func keys(prefix string, v any, out map[string]bool) {
	if m, ok := v.(map[string]any); ok {
		for k, sub := range m {
			out[prefix+k] = true
			keys(prefix+k+".", sub, out)
		}
	}
}

func TestAPIStatsNames(t *testing.T) {
	f := newFront(t)
	_, body := do(t, "GET", f.adm.URL+"/api/stats")
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/api/stats: %v\n%s", err, body)
	}
	got := map[string]bool{}
	keys("", doc, got)
	for k := range got {
		last := k[strings.LastIndexByte(k, '.')+1:]
		if !snakeCase.MatchString(last) {
			t.Errorf("/api/stats key %s is not snake_case", k)
		}
	}
	for _, k := range []string{"started_at", "uptime_seconds", "oldest_pending_seconds", "rows.ready",
		"seeder.uploaded_bytes", "seeder.upload_rate_bytes_per_second", "seeder.download_rate_bytes_per_second",
		"tracker.http_announces", "tracker.udp_announces", "tracker.completed", "tracker.swarms",
		"web_seed.served", "web_seed.stood_down", "web_seed.sent_bytes"} {
		if !got[k] {
			t.Errorf("/api/stats lacks %s", k)
		}
	}
	if tr := doc["tracker"].(map[string]any); tr["completed"] != 4.0 || tr["http_announces"] != 7.0 {
		t.Errorf("tracker block %v", tr)
	}

	_, body = do(t, "GET", f.public.URL+"/api/files/1")
	doc = map[string]any{}
	json.Unmarshal(body, &doc)
	if doc["size_bytes"] != 5.0 || doc["size"] != nil {
		t.Errorf("public /api/files/1 size: %s", body)
	}
}

// TestAPIErrorsAreJSON: every error under /api/ on either listener is
// {"error": "..."} with its status code.
func TestAPIErrorsAreJSON(t *testing.T) {
	f := newFront(t)
	for _, c := range []struct {
		name, method, url string
		down              bool
		code              int
	}{
		{"public unknown id", "GET", f.public.URL + "/api/files/99", false, 404},
		{"public bad id", "GET", f.public.URL + "/api/files/nope", false, 404},
		{"public unknown infohash", "GET", f.public.URL + "/api/files/" + strings.Repeat("ab", 20), false, 404},
		{"public catalog down", "GET", f.public.URL + "/api/files/1", true, 503},
		{"public unknown endpoint", "GET", f.public.URL + "/api/stats", false, 404},
		{"public wrong method", "POST", f.public.URL + "/api/files/1", false, 405},
		{"admin unknown id", "GET", f.adm.URL + "/api/files/99", false, 404},
		{"admin bad id", "GET", f.adm.URL + "/api/files/nope", false, 404},
		{"admin file, catalog down", "GET", f.adm.URL + "/api/files/1", true, 503},
		{"admin files, catalog down", "GET", f.adm.URL + "/api/files", true, 503},
		{"admin stats, catalog down", "GET", f.adm.URL + "/api/stats", true, 503},
		{"admin unknown endpoint", "GET", f.adm.URL + "/api/nope", false, 404},
		{"admin wrong method", "DELETE", f.adm.URL + "/api/stats", false, 405},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.cat.setDown(c.down)
			defer f.cat.setDown(false)
			resp, body := do(t, c.method, c.url)
			var e struct {
				Error string `json:"error"`
			}
			if resp.StatusCode != c.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
				json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("%s %s: %s %q %s, want %d and a JSON error", c.method, c.url, resp.Status, resp.Header.Get("Content-Type"), body, c.code)
			}
		})
	}
	// Outside /api/ the answers stay text, for BitTorrent clients and people.
	if resp, _ := do(t, "GET", f.public.URL+"/t/99.torrent"); resp.StatusCode != 404 || strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("/t/99.torrent: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}

func TestMagnetNotHTMLEscaped(t *testing.T) {
	f := newFront(t)
	for _, url := range []string{f.public.URL + "/api/files/1", f.public.URL + "/api/files/" + readyIH, f.adm.URL + "/api/files/1", f.adm.URL + "/api/files"} {
		_, body := do(t, "GET", url)
		// The magnet may list our web seed (the fake seeder seeds nothing).
		if !bytes.Contains(body, []byte(strings.TrimSuffix(readyMagnet, "&xl=5"))) || bytes.Contains(body, []byte(`\u0026`)) {
			t.Errorf("%s: magnet escaped or missing:\n%s", url, body)
		}
	}
}

// TestPublicErrorsHideServerPaths: the public listener shows row errors
// with paths relative to the content root and no other absolute path; the
// admin listener shows them whole.
func TestPublicErrorsHideServerPaths(t *testing.T) {
	f := newFront(t)
	for _, url := range []string{"/t/2.torrent", "/ws/2/b.bin", "/api/files/2", "/t/3.torrent", "/api/files/3"} {
		_, body := do(t, "GET", f.public.URL+url)
		if bytes.Contains(body, []byte(testRoot)) || bytes.Contains(body, []byte("/etc")) {
			t.Errorf("public %s shows a server path: %s", url, body)
		}
		if !bytes.Contains(body, []byte("error")) && !bytes.Contains(body, []byte("outside")) {
			t.Errorf("public %s lost the reason: %s", url, body)
		}
	}
	if _, body := do(t, "GET", f.public.URL+"/api/files/2"); !bytes.Contains(body, []byte("read dir/b.bin: input/output error")) {
		t.Errorf("the error should name the file relative to the root: %s", body)
	}
	if _, body := do(t, "GET", f.adm.URL+"/api/files/2"); !bytes.Contains(body, []byte(testRoot+"/dir/b.bin")) {
		t.Errorf("the admin API should show the whole error: %s", body)
	}
}

func TestRedactPaths(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"open /srv/files/a b.mkv: permission denied", "open a b.mkv: permission denied"},
		{"read /srv/files/x: EIO", "read x: EIO"},
		{`"c" is a link to /etc/shadow`, `"c" is a link to [path]`},
		{"remove /var/lib/lanseedd/torrents/4.torrent: EROFS", "remove [path]: EROFS"},
		{"stat /srv/filesystem/x: gone", "stat [path]: gone"},
		{"file is empty", "file is empty"},
		{"see http://fs.lan/x", "see http://fs.lan/x"},
	} {
		if got := redactPaths(c.in, "/srv/files/"); got != c.want {
			t.Errorf("redactPaths(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestMetricNames scrapes /metrics and checks the names the alert rules
// and dashboard in contrib/ use, and that the retired ones are gone.
func TestMetricNames(t *testing.T) {
	f := newFront(t)
	do(t, "GET", f.public.URL+"/api/files/1")
	do(t, "GET", f.public.URL+"/api/files/99")
	do(t, "GET", f.public.URL+"/no/such/page")
	startedAt := float64(f.admin.reload.okAtNs.Load()) / 1e9
	started := time.Unix(int64(startedAt), 0)

	scrape := func() map[string]*dto {
		t.Helper()
		_, body := do(t, "GET", f.adm.URL+"/metrics")
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics: %v", err)
		}
		return fams
	}
	fams := scrape()
	groups := regexp.MustCompile(`^lanseedd_(build_info|config|catalog|seeder|tracker|web_seed|http)_`)
	for name := range fams {
		if strings.HasPrefix(name, "lanseedd_") && !groups.MatchString(name+"_") {
			t.Errorf("%s is outside the metric groups", name)
		}
	}
	for _, name := range []string{
		"lanseedd_build_info", "lanseedd_config_last_reload_successful", "lanseedd_config_last_reload_success_timestamp_seconds",
		"lanseedd_catalog_up", "lanseedd_catalog_rows", "lanseedd_seeder_reconcile_lag_seconds",
		"lanseedd_seeder_torrents", "lanseedd_seeder_peers", "lanseedd_seeder_connections_total", "lanseedd_seeder_uploaded_bytes_total",
		"lanseedd_seeder_hashed_bytes_total", "lanseedd_seeder_hash_seconds_total", "lanseedd_seeder_state_dir_ok",
		"lanseedd_tracker_swarms", "lanseedd_tracker_peers", "lanseedd_tracker_announces_total", "lanseedd_tracker_scrapes_total",
		"lanseedd_tracker_udp_connects_total", "lanseedd_tracker_errors_total", "lanseedd_tracker_refused_total",
		"lanseedd_tracker_completions_total", "lanseedd_web_seed_requests_total", "lanseedd_web_seed_sent_bytes_total",
		"lanseedd_http_requests_total",
	} {
		if fams[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	for _, old := range []string{"lanseedd_queue_length", "lanseedd_rows", "lanseedd_webseed_requests_total", "lanseedd_webseed_bytes_total",
		"lanseedd_hashed_bytes_total", "lanseedd_uploaded_bytes_total", "lanseedd_seeded_torrents", "lanseedd_reconcile_lag_seconds"} {
		if fams[old] != nil {
			t.Errorf("retired metric %s still exported", old)
		}
	}

	if m := one(t, fams, "lanseedd_build_info", nil); m == nil || label(m, "version") != "1.2.3" || !strings.HasPrefix(label(m, "goversion"), "go") || label(m, "revision") == "" {
		t.Errorf("build info %v", m)
	}
	if v := value(one(t, fams, "lanseedd_tracker_completions_total", nil)); v != 4 {
		t.Errorf("completions %v, want 4", v)
	}
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"listener": "public", "handler": "/api/files/{id}", "code": "200"}, 1},
		{map[string]string{"listener": "public", "handler": "/api/files/{id}", "code": "404"}, 1},
		{map[string]string{"listener": "public", "handler": "unmatched", "code": "404"}, 1},
	} {
		if v := value(one(t, fams, "lanseedd_http_requests_total", c.labels)); v != c.want {
			t.Errorf("lanseedd_http_requests_total%v = %v, want %v", c.labels, v, c.want)
		}
	}

	// The configuration read at start counts as loaded; a failed reload
	// keeps the time of the last good one.
	if v := value(one(t, fams, "lanseedd_config_last_reload_successful", nil)); v != 1 {
		t.Errorf("reload successful at start = %v", v)
	}
	f.admin.ReloadResult(false, started.Add(time.Minute))
	fams = scrape()
	if v := value(one(t, fams, "lanseedd_config_last_reload_successful", nil)); v != 0 {
		t.Errorf("after a failed reload: %v", v)
	}
	if v := value(one(t, fams, "lanseedd_config_last_reload_success_timestamp_seconds", nil)); v != startedAt {
		t.Errorf("a failed reload moved the success time to %v", v)
	}
	f.admin.ReloadResult(true, started.Add(2*time.Minute))
	fams = scrape()
	if v := value(one(t, fams, "lanseedd_config_last_reload_success_timestamp_seconds", nil)); v != float64(started.Add(2*time.Minute).Unix()) {
		t.Errorf("success time after a good reload: %v", v)
	}
	if v := value(one(t, fams, "lanseedd_http_requests_total", map[string]string{"listener": "admin", "handler": "/metrics", "code": "200"})); v < 2 {
		t.Errorf("admin scrapes counted %v", v)
	}

	f.cat.setDown(true)
	fams = scrape()
	if v := value(one(t, fams, "lanseedd_catalog_up", nil)); v != 0 {
		t.Errorf("catalog_up with the catalog down: %v", v)
	}
	if fams["lanseedd_seeder_torrents"] == nil {
		t.Error("seeder figures should not depend on the catalog")
	}
}

// TestStatusPage: the page renders, and says so when the catalog is down
// rather than failing.
func TestStatusPage(t *testing.T) {
	f := newFront(t)
	if resp, body := do(t, "GET", f.adm.URL+"/"); resp.StatusCode != 200 || !bytes.Contains(body, []byte("a.bin")) {
		t.Errorf("status page: %s\n%s", resp.Status, body)
	}
	f.cat.setDown(true)
	if resp, body := do(t, "GET", f.adm.URL+"/"); resp.StatusCode != 200 || !bytes.Contains(body, []byte("unavailable")) {
		t.Errorf("status page, catalog down: %s\n%s", resp.Status, body)
	}
}

// TestFilesCursor walks /api/files by its next cursor, and the status page
// by its next links, which carry the same cursor.
func TestFilesCursor(t *testing.T) {
	f := newFront(t)
	type page struct {
		Total int64 `json:"total"`
		Next  int64 `json:"next"`
		Files []struct {
			ID int64 `json:"id"`
		} `json:"files"`
	}
	var (
		ids []int64
		url = f.adm.URL + "/api/files?per_page=2"
	)
	for range 3 {
		resp, body := do(t, "GET", url)
		var p page
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %s %v\n%s", url, resp.Status, err, body)
		}
		if p.Total != 3 {
			t.Errorf("%s: total %d, want 3", url, p.Total)
		}
		for _, fl := range p.Files {
			ids = append(ids, fl.ID)
		}
		if p.Next == 0 {
			break
		}
		url = f.adm.URL + "/api/files?per_page=2&after=" + strconv.FormatInt(p.Next, 10)
	}
	if !slices.Equal(ids, []int64{1, 2, 3}) {
		t.Errorf("walk by next: %v, want [1 2 3]", ids)
	}

	_, body := do(t, "GET", f.adm.URL+"/?per_page=2")
	if !bytes.Contains(body, []byte(`href="?after=2&amp;page=2"`)) {
		t.Errorf("status page's next link does not start after the last row:\n%s", body)
	}
	_, body = do(t, "GET", f.adm.URL+"/?per_page=2&after=2&page=2")
	if !bytes.Contains(body, []byte("c.bin")) || !bytes.Contains(body, []byte(`href="?page=1"`)) {
		t.Errorf("status page after row 2:\n%s", body)
	}

	for _, u := range []string{"/api/files?after=x", "/api/files?page=2002", "/api/files?after=-3"} {
		if resp, body := do(t, "GET", f.adm.URL+u); resp.StatusCode != 400 {
			t.Errorf("%s: %s, want 400\n%s", u, resp.Status, body)
		}
	}
	if resp, _ := do(t, "GET", f.adm.URL+"/api/files?page=2002&after=2"); resp.StatusCode != 200 {
		t.Errorf("a deep page after a file id: %s", resp.Status)
	}
}

// TestCountsShared: the status page, /api/stats, the totals of /api/files
// and metrics scrapes share one reading of the per-state counts for a few
// seconds.
func TestCountsShared(t *testing.T) {
	f := newFront(t)
	for _, u := range []string{"/api/stats", "/", "/api/files", "/metrics", "/api/stats"} {
		if resp, _ := do(t, "GET", f.adm.URL+u); resp.StatusCode != 200 {
			t.Fatalf("%s: %s", u, resp.Status)
		}
	}
	f.cat.mu.Lock()
	defer f.cat.mu.Unlock()
	if f.cat.counted != 1 {
		t.Errorf("the catalog was counted %d times, want once", f.cat.counted)
	}
}

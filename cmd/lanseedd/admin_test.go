package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/web"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestAdminEndpoints(t *testing.T) {
	content := t.TempDir()
	for _, n := range []string{"a.bin", "b.bin", "c.bin"} {
		testenv.RandomFile(t, filepath.Join(content, n), 64<<10)
	}
	snapshot.Guard(t, content)
	d := startDaemon(t, content)
	var ids []int64
	for _, p := range []string{"a.bin", "b.bin", "c.bin", "gone.bin"} {
		ids = append(ids, d.exec(t, "INSERT INTO files(path) VALUES (?)", p))
	}
	var ready []lanseedd.Row
	for _, id := range ids[:3] {
		ready = append(ready, d.waitState(t, id, lanseedd.StateReady))
	}
	d.waitState(t, ids[3], lanseedd.StateMissing)
	// A peer's announce loads each torrent (seeder.load: demand).
	for _, r := range ready {
		if f := d.announce(t, r.InfoHash); f != "" {
			t.Fatalf("announce for row %d: %s", r.FileID, f)
		}
	}
	admin := d.AdminURL()

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/nope": 404} {
		if resp, body := getWith(t, admin+path, nil); resp.StatusCode != want {
			t.Errorf("GET %s: %s %s, want %d", path, resp.Status, body, want)
		}
	}

	var stats web.Stats
	_, body := getWith(t, admin+"/api/stats", nil)
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatalf("/api/stats: %v\n%s", err, body)
	}
	if stats.Rows[lanseedd.StateReady] != 3 || stats.Rows[lanseedd.StateMissing] != 1 || stats.Seeder.Torrents != 3 ||
		stats.Tracker.Swarms != 3 || stats.Seeder.HashedBytes < 3*64<<10 {
		t.Errorf("/api/stats = %+v", stats)
	}

	var page struct {
		Total   int64      `json:"total"`
		PerPage int        `json:"per_page"`
		Files   []web.File `json:"files"`
	}
	_, body = getWith(t, admin+"/api/files?state=ready&per_page=2&page=2", nil)
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if page.Total != 3 || page.PerPage != 2 || len(page.Files) != 1 || page.Files[0].ID != ids[2] {
		t.Errorf("/api/files page 2 of ready by 2 = %+v", page)
	}
	if f := page.Files[0]; f.Seeders == nil || *f.Seeders != 1 || f.Uploaded == nil {
		t.Errorf("file figures missing: %+v", f)
	}
	_, body = getWith(t, admin+"/api/files?state=missing,error", nil)
	json.Unmarshal(body, &page)
	if page.Total != 1 || page.Files[0].Path != "gone.bin" || page.Files[0].Error == "" {
		t.Errorf("/api/files?state=missing,error = %+v", page)
	}
	_, body = getWith(t, admin+"/api/files?q=B.BI", nil)
	json.Unmarshal(body, &page)
	if page.Total != 1 || page.Files[0].Path != "b.bin" {
		t.Errorf("/api/files?q=B.BI = %+v", page)
	}

	// The seeder seeds a.bin, so its web seed stands down.
	if resp, _ := getWith(t, web.WebSeedURL(d.HTTPURL(), ids[0])+"a.bin", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("web seed of a seeded torrent: %s", resp.Status)
	}

	resp, body := getWith(t, admin+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		mf, ok := families[name]
		if !ok {
			t.Errorf("metric %s missing", name)
			return -1
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
		t.Errorf("metric %s%v missing", name, labels)
		return -1
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"lanseedd_catalog_rows", map[string]string{"state": "ready"}, 3},
		{"lanseedd_catalog_rows", map[string]string{"state": "missing"}, 1},
		{"lanseedd_catalog_rows", map[string]string{"state": "pending"}, 0},
		{"lanseedd_catalog_up", nil, 1},
		{"lanseedd_seeder_torrents", nil, 3},
		{"lanseedd_tracker_swarms", nil, 3},
		{"lanseedd_tracker_peers", map[string]string{"kind": "leecher"}, 3},
		{"lanseedd_seeder_activations_total", map[string]string{"result": "ok"}, 3},
		{"lanseedd_web_seed_requests_total", map[string]string{"answer": "stood_down"}, 1},
		{"lanseedd_web_seed_requests_total", map[string]string{"answer": "served"}, 0},
		{"lanseedd_web_seed_sent_bytes_total", nil, 0},
	} {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value("lanseedd_seeder_hashed_bytes_total", nil); got < 3*64<<10 {
		t.Errorf("lanseedd_seeder_hashed_bytes_total = %v", got)
	}
	if got := value("lanseedd_tracker_announces_total", map[string]string{"protocol": "http"}); got < 3 {
		t.Errorf("http announces = %v", got)
	}
	if got := value("lanseedd_http_requests_total", map[string]string{"listener": "public", "handler": "/ws/{id}/{path...}", "code": "503"}); got != 1 {
		t.Errorf("public web seed requests answered 503 = %v, want 1", got)
	}
	if got := value("lanseedd_build_info", nil); got != 1 {
		t.Errorf("lanseedd_build_info = %v", got)
	}
}

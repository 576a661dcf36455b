package web

import (
	"bytes"
	"html/template"
	"net/http"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/store"
)

var indexPage = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"bytes": FormatBytes,
}).ParseFS(templates, "index.html"))

// index serves the public listener's page: the newest ready files with
// their links, the same as the feed, which names it as its channel link.
func (p *Public) index(w http.ResponseWriter, r *http.Request) {
	rows, err := p.cat.Page(r.Context(), store.Query{
		States: []lanseedd.State{lanseedd.StateReady}, Newest: true, Limit: p.cfg.FeedItems,
	})
	if err != nil {
		p.log.Warn("reading the catalog failed", "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the catalog is unavailable; try again shortly", http.StatusServiceUnavailable)
		return
	}
	type item struct {
		File
		Age string
	}
	v := struct {
		Feed  string
		Files []item
	}{Feed: p.cfg.BaseURL + "/feed.rss"}
	now := time.Now()
	for _, row := range rows {
		v.Files = append(v.Files, item{File: describe(p.cfg, p.seeder, row), Age: formatAge(now, row.UpdatedAt)})
	}
	var page bytes.Buffer
	if err := indexPage.Execute(&page, v); err != nil {
		p.log.Error("rendering the file list failed", "err", err)
		http.Error(w, "the page failed to render", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page.Bytes())
}

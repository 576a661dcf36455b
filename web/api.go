package web

import (
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// File is the JSON view of one catalog row. Its names are part of the
// catalog site's interface: snake_case, with the unit in numeric names.
type File struct {
	ID         int64     `json:"id"`
	Path       string    `json:"path"`
	Name       string    `json:"name"`
	State      string    `json:"state"`
	Size       int64     `json:"size_bytes"`
	InfoHash   string    `json:"infohash,omitempty"`
	Magnet     string    `json:"magnet,omitempty"`
	TorrentURL string    `json:"torrent_url,omitempty"`
	Error      string    `json:"error,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Swarm figures, on the admin API only.
	Seeders   *int   `json:"seeders,omitempty"`
	Leechers  *int   `json:"leechers,omitempty"`
	Completed *int   `json:"completed,omitempty"`
	Uploaded  *int64 `json:"uploaded_bytes,omitempty"` // by the seeder
	// Node is the node whose copy the torrent was made from; Copies what
	// the other nodes found of theirs (admin API, one file).
	Node   string          `json:"node,omitempty"`
	Copies []lanseedd.Copy `json:"copies,omitempty"`
}

// SeededBy lists the nodes that seed a ready row: the one that made its
// torrent and those whose copy is the same (status page).
func (f File) SeededBy() []string {
	if f.State != string(lanseedd.StateReady) || f.Node == "" {
		return nil
	}
	nodes := []string{f.Node}
	for _, c := range f.Copies {
		if c.State == lanseedd.CopySeeding && c.RowInfoHash == f.InfoHash {
			nodes = append(nodes, c.Node)
		}
	}
	return nodes
}

// describe builds a row's JSON view; ready rows get their links. The
// magnet lists our web seed exactly when the .torrent served now does.
func describe(cfg Config, s Seeder, row lanseedd.Row) File {
	base := cfg.BaseURL
	f := File{
		ID: row.FileID, Path: row.Path, Name: row.Name, State: string(row.State),
		Size: row.Size, Error: row.Error, UpdatedAt: row.UpdatedAt, Node: row.Node,
	}
	if f.Name == "" {
		f.Name = path.Base(row.Path)
	}
	if row.State != lanseedd.StateReady {
		return f
	}
	f.InfoHash = row.InfoHash
	f.TorrentURL = base + "/t/" + strconv.FormatInt(row.FileID, 10) + ".torrent"
	f.Magnet = row.Magnet
	if f.Magnet == "" {
		// Rows made before magnet links were stored.
		if mi, err := metainfo.LoadFromFile(s.TorrentFile(row.FileID)); err == nil {
			f.Magnet = torrentfile.Magnet(mi, f.Name, row.Size)
		}
	}
	f.Magnet = withTrackers(f.Magnet, s.Trackers())
	ours := WebSeedURL(base, row.FileID)
	if hideWebSeed(cfg, s, row) {
		f.Magnet = withoutWebSeed(f.Magnet, ours)
	} else {
		f.Magnet = withWebSeed(f.Magnet, ours)
	}
	return f
}

// withTrackers returns magnet listing the trackers of tiers, in order, as
// the .torrent served does.
func withTrackers(magnet string, tiers [][]string) string {
	m, err := metainfo.ParseMagnetUri(magnet)
	if err != nil {
		return magnet
	}
	var trackers []string
	for _, t := range tiers {
		trackers = append(trackers, t...)
	}
	if slices.Equal(m.Trackers, trackers) {
		return magnet
	}
	m.Trackers = trackers
	return m.String()
}

// withoutWebSeed returns magnet without the web seed ws.
func withoutWebSeed(magnet, ws string) string {
	m, err := metainfo.ParseMagnetUri(magnet)
	if err != nil || !slices.Contains(m.Params["ws"], ws) {
		return magnet
	}
	m.Params["ws"] = slices.DeleteFunc(m.Params["ws"], func(u string) bool { return u == ws })
	if len(m.Params["ws"]) == 0 {
		delete(m.Params, "ws")
	}
	return m.String()
}

// withWebSeed returns magnet with the web seed ws first among its web
// seeds, as in the .torrent.
func withWebSeed(magnet, ws string) string {
	m, err := metainfo.ParseMagnetUri(magnet)
	if err != nil || slices.Contains(m.Params["ws"], ws) {
		return magnet
	}
	m.Params["ws"] = append([]string{ws}, m.Params["ws"]...)
	return m.String()
}

// apiFile serves GET /api/files/{id}: the row of a decimal id or an
// infohash. A row's error names no absolute server path here.
func (p *Public) apiFile(w http.ResponseWriter, r *http.Request) {
	row, ok := p.lookup(w, r, r.PathValue("id"))
	if !ok {
		return
	}
	f := describe(p.cfg, p.seeder, row)
	f.Error = redactPaths(f.Error, p.seeder.ContentRoot())
	writeJSON(w, f)
}

// writeJSON answers v, indented for people reading it with curl. '&', '<'
// and '>' stay as they are: magnet links are copied from it, and nothing
// embeds it in HTML.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

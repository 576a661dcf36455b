// Package web is lanseedd's HTTP front: the .torrent links the catalog site
// points to.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/lanseedd/lanseedd"
)

// Rows is what the front reads of lanseedd's state table.
type Rows interface {
	Get(ctx context.Context, fileID int64) (lanseedd.Row, error)
	GetByInfoHash(ctx context.Context, infohash string) (lanseedd.Row, error)
}

// Torrents locates the .torrent file of a row.
type Torrents interface {
	TorrentFile(fileID int64) string
}

// Server serves the public endpoints.
type Server struct {
	rows     Rows
	torrents Torrents
	log      *slog.Logger
	mux      *http.ServeMux
}

// New returns the public HTTP handler.
func New(rows Rows, torrents Torrents, logger *slog.Logger) *Server {
	s := &Server{rows: rows, torrents: torrents, log: logger, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /t/{name}", s.torrent)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// torrent serves /t/{id}.torrent and /t/{infohash}.torrent.
func (s *Server) torrent(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutSuffix(r.PathValue("name"), ".torrent")
	if !ok {
		http.Error(w, "not found: links look like /t/42.torrent", http.StatusNotFound)
		return
	}
	var (
		row lanseedd.Row
		err error
	)
	if id, perr := strconv.ParseInt(key, 10, 64); perr == nil {
		row, err = s.rows.Get(r.Context(), id)
	} else if isInfoHash(key) {
		row, err = s.rows.GetByInfoHash(r.Context(), key)
	} else {
		http.Error(w, "not found: links look like /t/42.torrent or /t/<40 hex digits>.torrent", http.StatusNotFound)
		return
	}
	switch {
	case errors.Is(err, lanseedd.ErrNotFound):
		http.Error(w, "no such file in the catalog", http.StatusNotFound)
		return
	case err != nil:
		s.log.Warn("reading the catalog failed", "err", err)
		http.Error(w, "the catalog is unavailable; try again shortly", http.StatusServiceUnavailable)
		return
	}
	switch row.State {
	case lanseedd.StateReady:
	case lanseedd.StateDeleted:
		http.Error(w, "no such file in the catalog", http.StatusNotFound)
		return
	case lanseedd.StatePending:
		w.Header().Set("Retry-After", "5")
		http.Error(w, fmt.Sprintf("file %d (%s) is being prepared; try again in a few seconds", row.FileID, row.Path),
			http.StatusServiceUnavailable)
		return
	case lanseedd.StateMissing:
		http.Error(w, fmt.Sprintf("file %d (%s) is missing on the server", row.FileID, row.Path), http.StatusNotFound)
		return
	default:
		http.Error(w, fmt.Sprintf("file %d (%s) cannot be shared: %s", row.FileID, row.Path, row.Error), http.StatusConflict)
		return
	}
	f, err := os.Open(s.torrents.TorrentFile(row.FileID))
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
	for _, c := range s {
		if !unicode.Is(unicode.ASCII_Hex_Digit, c) {
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

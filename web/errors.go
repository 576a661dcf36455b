package web

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// apiPrefix is where both listeners answer machines: their errors are JSON.
const apiPrefix = "/api/"

// replyError answers code with msg: {"error": msg} under /api/, plain text
// elsewhere (the .torrent links, web seeds and feed are read by BitTorrent
// clients and people, who show the text as it is).
func replyError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if !strings.HasPrefix(r.URL.Path, apiPrefix) {
		http.Error(w, msg, code)
		return
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// apiUnknown answers requests under /api/ that no route takes, so that a
// client of the API reads a JSON error there too rather than the mux's text.
func apiUnknown(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		replyError(w, r, http.StatusMethodNotAllowed, "method not allowed: the API is read-only")
		return
	}
	replyError(w, r, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
}

// absPath matches an absolute path where an error message names one: at the
// start or after a space, quote, parenthesis or '='. It ends at white space,
// a quote, a comma or a colon (Go's "open /x: ..."), so a path with spaces
// is cut at the first one; what follows is a relative fragment that says
// nothing about the server's layout.
var absPath = regexp.MustCompile(`(^|[\s"'(=])/[^\s"'),:]*`)

// redactPaths returns msg for the public listener: paths under the content
// root become relative to it, and any other absolute path (the state
// directory, a symlink's target outside the root) is replaced, so that LAN
// users and the catalog site never learn the server's file system layout.
// The admin listener shows messages as they are.
func redactPaths(msg, root string) string {
	if root = strings.TrimSuffix(root, "/"); root != "" {
		msg = strings.ReplaceAll(msg, root+"/", "")
	}
	return absPath.ReplaceAllString(msg, "${1}[path]")
}

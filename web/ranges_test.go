package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestBoundRanges(t *testing.T) {
	for _, c := range []struct {
		header string
		ok     bool
		after  string // the Range header handed on
	}{
		{"", true, ""},
		{"bytes=0-99", true, "bytes=0-99"},
		{"bytes=-5", true, "bytes=-5"},
		{"bytes=-0", false, ""},
		{"bytes=-000", false, ""},
		{"bytes= -0 ,", false, ""},
		{"bytes=-0,0-3", true, "bytes=0-3"},
		{"bytes=0-0,,", true, "bytes=0-0,,"},
		{"bytes=" + strings.Repeat("0-0,", MaxRanges-1) + "0-0", true, "bytes=" + strings.Repeat("0-0,", MaxRanges-1) + "0-0"},
		{"bytes=" + strings.Repeat("0-0,", MaxRanges) + "0-0", false, ""},
		{"items=0-5", true, "items=0-5"}, // not ours to judge: net/http ignores it
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			r.Header.Set("Range", c.header)
		}
		w := httptest.NewRecorder()
		ok := boundRanges(w, r, 1000)
		if ok != c.ok {
			t.Errorf("%.40q: ok %v, want %v", c.header, ok, c.ok)
			continue
		}
		if !ok {
			if w.Code != http.StatusRequestedRangeNotSatisfiable || w.Header().Get("Content-Range") != "bytes */1000" {
				t.Errorf("%.40q: %d, Content-Range %q", c.header, w.Code, w.Header().Get("Content-Range"))
			}
		} else if got := r.Header.Get("Range"); got != c.after {
			t.Errorf("%.40q: handed on %q, want %q", c.header, got, c.after)
		}
	}
}

// FuzzBoundRanges: whatever the Range header, the answer of
// http.ServeContent after boundRanges stays within what MaxRanges parts of
// the body can take.
func FuzzBoundRanges(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-0", "bytes=0-0,0-0,0-0", "bytes=1-2,-3,5-"} {
		f.Add(s)
	}
	body := bytes.Repeat([]byte("x"), 1000)
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Range", h)
		w := httptest.NewRecorder()
		if boundRanges(w, r, int64(len(body))) {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		}
		if limit := MaxRanges * (len(body) + 200); w.Body.Len() > limit {
			t.Fatalf("%q: %d bytes of answer", h, w.Body.Len())
		}
		if w.Code == http.StatusPartialContent && strings.Contains(w.Header().Get("Content-Range"), "1000-999/") {
			t.Fatalf("%q: an empty range answered 206", h)
		}
	})
}

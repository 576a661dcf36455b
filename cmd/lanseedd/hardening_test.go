package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/web"
)

// TestPeerBind: seeder.peer_bind keeps the peer port on one address, so that
// the same port on another address of the host stays free.
func TestPeerBind(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *Config) { c.Seeder.PeerBind = "127.0.0.1" })
	port := strconv.Itoa(d.Seeder.Port())
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("peer port on the bound address: %v", err)
	}
	c.Close()
	// Bound to every address, the port would be taken on 127.0.0.2 too.
	ln, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		t.Fatalf("peer port %s taken on 127.0.0.2 though seeder.peer_bind is 127.0.0.1: %v", port, err)
	}
	ln.Close()
}

// readyWebSeed starts a daemon whose web seed always serves, with one ready
// row of size random bytes, and returns the daemon and the row's web seed URL.
func readyWebSeed(t *testing.T, size int, opts ...func(*Config)) (*testDaemon, string, []byte) {
	t.Helper()
	content := t.TempDir()
	data := writeRandom(t, filepath.Join(content, "a.bin"), size)
	opts = append([]func(*Config){func(c *Config) { c.HTTP.WebSeedMode = web.WebSeedAlways }}, opts...)
	d := startDaemon(t, content, opts...)
	id := d.exec(t, "INSERT INTO files(path) VALUES ('a.bin')")
	d.waitState(t, id, lanseedd.StateReady)
	return d, web.WebSeedURL(d.HTTPURL(), id) + "a.bin", data
}

// TestWebSeedRanges: a request for many ranges is refused rather than
// answered with a body many times the file, and an empty suffix range
// (bytes=-0) is unsatisfiable.
func TestWebSeedRanges(t *testing.T) {
	_, ws, data := readyWebSeed(t, 100<<10)
	many := "bytes=" + strings.Repeat("0-0,", 100000) + "0-0"
	resp, body := getWith(t, ws, map[string]string{"Range": many})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || len(body) > len(data) {
		t.Errorf("100,001 ranges: %s, %d bytes of body for a %d-byte file; want 416", resp.Status, len(body), len(data))
	}
	for _, rg := range []string{"bytes=-0", "bytes=-000", "bytes= -0 "} {
		resp, _ := getWith(t, ws, map[string]string{"Range": rg})
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != "bytes */"+strconv.Itoa(len(data)) {
			t.Errorf("%s: %s, Content-Range %q; want 416, bytes */%d", rg, resp.Status, resp.Header.Get("Content-Range"), len(data))
		}
	}
	// What clients ask for still works: one range, a few ranges, a suffix
	// beside an empty one.
	for rg, want := range map[string]int{"bytes=10-19": 10, "bytes=-5": 5, "bytes=-0,0-3": 4} {
		resp, body := getWith(t, ws, map[string]string{"Range": rg})
		if resp.StatusCode != http.StatusPartialContent || len(body) != want {
			t.Errorf("%s: %s, %d bytes; want 206 with %d", rg, resp.Status, len(body), want)
		}
	}
	if resp, body := getWith(t, ws, map[string]string{"Range": "bytes=0-0,10-10,20-20"}); resp.StatusCode != http.StatusPartialContent ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") || len(body) > 1000 {
		t.Errorf("three ranges: %s %s, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
}

// TestAdminHost: the admin listener answers requests for its own names and
// addresses and refuses others, as a DNS rebinding page would send.
func TestAdminHost(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *Config) { c.Admin.AllowedHosts = []string{"Admin.LAN"} })
	port := d.adminLn.Addr().(*net.TCPAddr).Port
	host, _ := os.Hostname()
	for h, want := range map[string]int{
		"evil.example:" + strconv.Itoa(port): http.StatusForbidden,
		"evil.example":                       http.StatusForbidden,
		"localhost.evil.example":             http.StatusForbidden,
		"10.255.255.1":                       http.StatusForbidden, // not one of ours
		"127.0.0.1:" + strconv.Itoa(port):    http.StatusOK,
		"localhost:1":                        http.StatusOK,
		"LOCALHOST.":                         http.StatusOK,
		"[::1]:8081":                         http.StatusOK,
		"admin.lan:443":                      http.StatusOK,
		host:                                 http.StatusOK,
	} {
		for _, path := range []string{"/", "/api/stats", "/metrics"} {
			resp, body := getWith(t, d.AdminURL()+path, map[string]string{"Host": h})
			if resp.StatusCode != want {
				t.Errorf("Host %q, %s: %s, want %d\n%.200s", h, path, resp.Status, want, body)
			}
		}
	}
}

// TestAdminSearchTooLong: a search longer than any path is the client's
// error, not a catalog outage.
func TestAdminSearchTooLong(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	// SQLite checks a LIKE pattern's length only against a row.
	d.exec(t, "INSERT INTO files(path) VALUES ('a.bin')")
	long := strings.Repeat("a", 60000)
	for _, u := range []string{"/api/files?q=" + long, "/?q=" + long, "/api/files?page=9223372036854775807"} {
		if resp, body := getWith(t, d.AdminURL()+u, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%.40s…: %s, want 400\n%.200s", u, resp.Status, body)
		}
	}
	if resp, _ := getWith(t, d.AdminURL()+"/api/files?q=a", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a short search: %s", resp.Status)
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/seeder"
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
	data := testenv.RandomFile(t, filepath.Join(content, "a.bin"), size)
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

// fdsOn counts this process's descriptors open on the file at path.
func fdsOn(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == path {
			n++
		}
	}
	return n
}

// serverSockets counts this process's descriptors on TCP connections
// accepted on port (their local port), the listener's included.
func serverSockets(t *testing.T, port string) int {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf(":%04X", p)
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) > 9 && strings.HasSuffix(f[1], local) {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && inodes[target] {
			n++
		}
	}
	return n
}

// closedByServer reports whether the server closes c within d, reading and
// dropping whatever it still sends.
func closedByServer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func hostPort(u string) string { return strings.TrimPrefix(u, "http://") }

// TestSlowBody: a client sending its request body a byte at a time is cut
// after http.read_timeout, on both listeners.
func TestSlowBody(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *Config) { c.HTTP.ReadTimeout = time.Second })
	for _, target := range []struct{ addr, path string }{
		{hostPort(d.HTTPURL()), "/feed.rss"}, {hostPort(d.AdminURL()), "/healthz"},
	} {
		const n = 20
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := net.Dial("tcp", target.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n", target.path)
			conns[i] = c
			go func() {
				// One byte every 100 ms, for longer than the test waits.
				for range 100 {
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
		start := time.Now()
		for i, c := range conns {
			if !closedByServer(c, 5*time.Second-time.Since(start)) {
				t.Errorf("%s%s: slow-body connection %d still open after %s", target.addr, target.path, i, time.Since(start).Round(time.Millisecond))
			}
		}
	}
}

// TestNonReadingWebSeed: clients that request a large file from the web seed
// and read nothing are cut after http.write_timeout, and their descriptors
// (socket and file) closed; a slow client that keeps reading is not cut.
func TestNonReadingWebSeed(t *testing.T) {
	d, ws, _ := readyWebSeed(t, 16<<20, func(c *Config) { c.HTTP.WriteTimeout = time.Second })
	u, _ := url.Parse(ws)

	// The slow reader takes 256 KiB every 300 ms, for 4 s. The descriptors
	// are counted once it has its first bytes, so that its own are in the
	// baseline.
	slowDone := make(chan error, 1)
	slowStarted := make(chan struct{})
	go func() {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			slowDone <- err
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", u.RequestURI(), u.Host)
		var got int64
		for start := time.Now(); time.Since(start) < 4*time.Second; time.Sleep(300 * time.Millisecond) {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := io.CopyN(io.Discard, c, 256<<10)
			if got == 0 {
				close(slowStarted)
			}
			got += n
			if err != nil {
				slowDone <- fmt.Errorf("slow reader cut after %d bytes: %w", got, err)
				return
			}
		}
		slowDone <- nil
	}()
	select {
	case <-slowStarted:
	case err := <-slowDone:
		t.Fatal(err)
	}

	file := filepath.Join(strings.TrimSuffix(d.content, "/"), "a.bin")
	_, port, _ := net.SplitHostPort(u.Host)
	before, beforeFile := serverSockets(t, port), fdsOn(t, file)
	const n = 30
	for range n {
		c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(u.Host)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadBuffer(4 << 10)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", u.RequestURI(), u.Host)
	}
	time.Sleep(500 * time.Millisecond)
	t.Logf("server sockets: %d before (%d descriptors on the file), %d with %d clients not reading (%d on the file)", before, beforeFile, serverSockets(t, port), n, fdsOn(t, file))
	// Each client holds its own socket; the daemon's socket and file for it
	// must be gone. The write timeout is 1 s; the bound leaves room for a
	// loaded machine.
	gone := func() bool { return fdsOn(t, file) <= beforeFile && serverSockets(t, port) <= before }
	for deadline := time.Now().Add(10 * time.Second); !gone() && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if !gone() {
		t.Errorf("%d server sockets open (%d descriptors on the file) 10 s after %d clients stopped reading (%d before, %d on the file): the daemon keeps theirs",
			serverSockets(t, port), fdsOn(t, file), n, before, beforeFile)
	}
	if err := <-slowDone; err != nil {
		t.Error(err)
	}
}

// TestConnsPerIP: the public listener keeps at most http.max_conns_per_ip
// connections from one address, and gives a place back when one closes.
func TestConnsPerIP(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *Config) { c.HTTP.MaxConnsPerIP = 5 })
	addr := hostPort(d.HTTPURL())
	var conns []net.Conn
	for range 8 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		time.Sleep(20 * time.Millisecond) // accepted in this order
	}
	served := 0
	for _, c := range conns {
		if serves(c, "/feed.rss") {
			served++
		}
	}
	if served != 5 {
		t.Fatalf("%d of 8 connections from one address served, want 5", served)
	}
	conns[0].Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		ok := serves(c, "/feed.rss")
		c.Close()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no place given back after a connection closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serves reports whether a request on c is answered.
func serves(c net.Conn, path string) bool {
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestIdleTimeouts: idle connections are closed on the admin listener and
// the tracker's HTTP side, as on the public listener.
func TestIdleTimeouts(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *Config) {
		c.HTTP.IdleTimeout = time.Second
		c.Tracker.IdleTimeout = time.Second
	})
	for name, addr := range map[string]string{
		"public":  hostPort(d.HTTPURL()),
		"admin":   hostPort(d.AdminURL()),
		"tracker": strings.TrimSuffix(hostPort(d.AnnounceURL()), "/announce"),
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if name == "admin" && !serves(c, "/healthz") || name == "public" && !serves(c, "/feed.rss") {
			t.Errorf("%s: no answer", name)
		}
		if !closedByServer(c, 4*time.Second) {
			t.Errorf("%s: idle connection still open after 4 s", name)
		}
	}
}

// TestLinksDuringOutage: while the catalog database is unusable, the
// .torrent links of rows being seeded are still served, from the seeder's
// state, and the outage is logged once, not for every request.
func TestLinksDuringOutage(t *testing.T) {
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "a.bin"), 200<<10)
	// Links by infohash are served from the torrents loaded (in demand
	// mode a row's .torrent is found by id only, without the catalog).
	cfg := testConfig(t, content, func(c *Config) { c.Seeder.Load = seeder.LoadEager })
	logs := &logBuffer{tb: t}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err := m.Start(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() }) // its catalog is gone: errors expected
	d := &testDaemon{Main: m, content: content}
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(cfg.Catalog.DSN, "sqlite:")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d.db = db
	id := d.exec(t, "INSERT INTO files(path) VALUES ('a.bin')")
	row := d.waitState(t, id, lanseedd.StateReady)
	byID := d.HTTPURL() + "/t/" + itoa(id) + ".torrent"
	byHash := d.HTTPURL() + "/t/" + row.InfoHash + ".torrent"
	_, want := httpGet(t, byID)

	m.Store.DB().Close() // every catalog read fails from here on
	for i := range 50 {
		for _, u := range []string{byID, byHash} {
			resp, body := getWith(t, u, nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
				t.Fatalf("request %d, %s during the outage: %s, %d bytes (want the %d of before)", i, u, resp.Status, len(body), len(want))
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "a.bin.torrent") {
				t.Errorf("Content-Disposition %q", cd)
			}
		}
		// What only the catalog knows is unavailable, not unknown.
		if resp, _ := getWith(t, d.HTTPURL()+"/t/"+itoa(id+1)+".torrent", nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("a row not seeded during the outage: %s, want 503", resp.Status)
		}
		if resp, _ := getWith(t, d.HTTPURL()+"/api/files/"+itoa(id), nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/api/files during the outage: %s, want 503", resp.Status)
		}
	}
	if n := logs.count("the catalog is unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times by the public listener for 200 requests, want once", n)
	}
}

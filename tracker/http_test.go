package tracker

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
)

func newTestTracker(tb testing.TB, change func(*Config)) *Tracker {
	tb.Helper()
	cfg := DefaultConfig()
	if change != nil {
		change(&cfg)
	}
	tr, err := New(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

func hashN(n int) [20]byte {
	var h [20]byte
	copy(h[:], fmt.Sprintf("hash-%015d", n))
	return h
}

func announceQ(ih [20]byte, port int, extra string) string {
	return "/announce?info_hash=" + url.QueryEscape(string(ih[:])) + "&peer_id=" + peerID +
		fmt.Sprintf("&port=%d&uploaded=0&downloaded=0", port) + extra
}

// get sends target to ServeHTTP from remote and decodes the bencoded reply.
func get(tb testing.TB, tr *Tracker, remote, target string, header ...string) map[string]any {
	tb.Helper()
	r := httptest.NewRequest("GET", target, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	tr.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		tb.Fatalf("GET %s: status %d", target, w.Code)
	}
	var m map[string]any
	if err := bencode.Unmarshal(w.Body.Bytes(), &m); err != nil {
		tb.Fatalf("GET %s: body %q: %v", target, w.Body.String(), err)
	}
	return m
}

func compactPeers(tb testing.TB, m map[string]any, key string, size int) []netip.AddrPort {
	tb.Helper()
	v, ok := m[key]
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok || len(s)%size != 0 {
		tb.Fatalf("%s = %#v, want a string of %d-byte entries", key, v, size)
	}
	var out []netip.AddrPort
	for i := 0; i < len(s); i += size {
		a, _ := netip.AddrFromSlice([]byte(s[i : i+size-2]))
		out = append(out, netip.AddrPortFrom(a, uint16(s[i+size-2])<<8|uint16(s[i+size-1])))
	}
	return out
}

func wantInt(tb testing.TB, m map[string]any, key string, want int64) {
	tb.Helper()
	if got, ok := m[key].(int64); !ok || got != want {
		tb.Fatalf("%s = %#v, want %d (reply %v)", key, m[key], want, m)
	}
}

func wantFailure(tb testing.TB, m map[string]any, substr string) {
	tb.Helper()
	s, ok := m["failure reason"].(string)
	if !ok || !strings.Contains(s, substr) {
		tb.Fatalf("failure reason = %#v, want one containing %q", m["failure reason"], substr)
	}
}

func TestHTTPAnnounce(t *testing.T) {
	ih := hashN(1)
	tests := []struct {
		name   string
		config func(*Config)
		setup  [][2]string // remote, target
		remote string
		target string
		header []string
		check  func(t *testing.T, m map[string]any)
	}{
		{
			name:   "first peer gets counts, intervals and external ip",
			remote: "10.0.0.1:5555", target: announceQ(ih, 6881, "&left=10"),
			check: func(t *testing.T, m map[string]any) {
				wantInt(t, m, "interval", 120)
				wantInt(t, m, "min interval", 30)
				wantInt(t, m, "complete", 0)
				wantInt(t, m, "incomplete", 1)
				if m["external ip"] != "\x0a\x00\x00\x01" {
					t.Fatalf("external ip = %q", m["external ip"])
				}
				if p := compactPeers(t, m, "peers", 6); len(p) != 0 {
					t.Fatalf("peers = %v, want none (own entry)", p)
				}
			},
		},
		{
			name:   "compact peers exclude the requester",
			setup:  [][2]string{{"10.0.0.1:1", announceQ(ih, 6881, "&left=0")}, {"10.0.0.2:1", announceQ(ih, 6882, "&left=5")}},
			remote: "10.0.0.2:2", target: announceQ(ih, 6882, "&left=5"),
			check: func(t *testing.T, m map[string]any) {
				wantInt(t, m, "complete", 1)
				wantInt(t, m, "incomplete", 1)
				p := compactPeers(t, m, "peers", 6)
				if len(p) != 1 || p[0] != netip.MustParseAddrPort("10.0.0.1:6881") {
					t.Fatalf("peers = %v", p)
				}
			},
		},
		{
			name:   "same address, other port is another peer",
			setup:  [][2]string{{"10.0.0.1:1", announceQ(ih, 1000, "")}},
			remote: "10.0.0.1:2", target: announceQ(ih, 1001, ""),
			check: func(t *testing.T, m map[string]any) {
				if p := compactPeers(t, m, "peers", 6); len(p) != 1 || p[0].Port() != 1000 {
					t.Fatalf("peers = %v", p)
				}
			},
		},
		{
			name:   "non-compact list of dictionaries",
			setup:  [][2]string{{"10.0.0.1:1", announceQ(ih, 6881, "")}, {"[2001:db8::1]:1", announceQ(ih, 6883, "")}},
			remote: "10.0.0.9:1", target: announceQ(ih, 7000, "&compact=0"),
			check: func(t *testing.T, m map[string]any) {
				l, ok := m["peers"].([]any)
				if !ok || len(l) != 2 {
					t.Fatalf("peers = %#v", m["peers"])
				}
				got := map[string]int64{}
				for _, e := range l {
					d := e.(map[string]any)
					got[d["ip"].(string)] = d["port"].(int64)
				}
				if got["10.0.0.1"] != 6881 || got["2001:db8::1"] != 6883 {
					t.Fatalf("peers = %v", got)
				}
			},
		},
		{
			name:   "IPv6 peers in peers6 for both families (BEP 7)",
			setup:  [][2]string{{"10.0.0.1:1", announceQ(ih, 6881, "")}, {"[2001:db8::1]:1", announceQ(ih, 6883, "")}},
			remote: "[2001:db8::2]:1", target: announceQ(ih, 7000, ""),
			check: func(t *testing.T, m map[string]any) {
				p4, p6 := compactPeers(t, m, "peers", 6), compactPeers(t, m, "peers6", 18)
				if len(p4) != 1 || len(p6) != 1 || p6[0] != netip.MustParseAddrPort("[2001:db8::1]:6883") {
					t.Fatalf("peers %v peers6 %v", p4, p6)
				}
				if ext := m["external ip"].(string); len(ext) != 16 {
					t.Fatalf("external ip %q", ext)
				}
			},
		},
		{
			name:   "v4-mapped source is IPv4",
			remote: "[::ffff:10.0.0.7]:1", target: announceQ(ih, 7000, ""),
			check: func(t *testing.T, m map[string]any) {
				if m["external ip"] != "\x0a\x00\x00\x07" {
					t.Fatalf("external ip = %q", m["external ip"])
				}
			},
		},
		{
			name: "numwant caps the reply",
			setup: func() (s [][2]string) {
				for i := range 10 {
					s = append(s, [2]string{fmt.Sprintf("10.0.1.%d:1", i+1), announceQ(ih, 6881, "")})
				}
				return s
			}(),
			remote: "10.0.0.9:1", target: announceQ(ih, 7000, "&numwant=3"),
			check: func(t *testing.T, m map[string]any) {
				if p := compactPeers(t, m, "peers", 6); len(p) != 3 {
					t.Fatalf("got %d peers, want 3", len(p))
				}
				wantInt(t, m, "incomplete", 11)
			},
		},
		{
			name:   "numwant above the maximum is capped",
			config: func(c *Config) { c.MaxNumWant = 2; c.DefaultNumWant = 1 },
			setup: [][2]string{{"10.0.1.1:1", announceQ(ih, 1, "")}, {"10.0.1.2:1", announceQ(ih, 1, "")},
				{"10.0.1.3:1", announceQ(ih, 1, "")}},
			remote: "10.0.0.9:1", target: announceQ(ih, 7000, "&numwant=500"),
			check: func(t *testing.T, m map[string]any) {
				if p := compactPeers(t, m, "peers", 6); len(p) != 2 {
					t.Fatalf("got %d peers, want 2", len(p))
				}
			},
		},
		{
			name:   "seeders are given leechers only",
			setup:  [][2]string{{"10.0.0.1:1", announceQ(ih, 1, "&left=0")}, {"10.0.0.2:1", announceQ(ih, 1, "&left=9")}},
			remote: "10.0.0.3:1", target: announceQ(ih, 1, "&left=0"),
			check: func(t *testing.T, m map[string]any) {
				p := compactPeers(t, m, "peers", 6)
				if len(p) != 1 || p[0].Addr() != netip.MustParseAddr("10.0.0.2") {
					t.Fatalf("peers = %v", p)
				}
				wantInt(t, m, "complete", 2)
			},
		},
		{
			name:   "stopped removes the peer",
			setup:  [][2]string{{"10.0.0.1:1", announceQ(ih, 1, "")}, {"10.0.0.1:1", announceQ(ih, 1, "&event=stopped")}},
			remote: "10.0.0.2:1", target: announceQ(ih, 1, ""),
			check: func(t *testing.T, m map[string]any) {
				wantInt(t, m, "incomplete", 1)
				if p := compactPeers(t, m, "peers", 6); len(p) != 0 {
					t.Fatalf("peers = %v", p)
				}
			},
		},
		{
			name: "completed counts once and makes a seeder",
			setup: [][2]string{{"10.0.0.1:1", announceQ(ih, 1, "&left=9")}, {"10.0.0.1:1", announceQ(ih, 1, "&left=0&event=completed")},
				{"10.0.0.1:1", announceQ(ih, 1, "&left=0&event=completed")}},
			remote: "10.0.0.2:1", target: announceQ(ih, 1, "&left=3"),
			check: func(t *testing.T, m map[string]any) {
				wantInt(t, m, "downloaded", 1)
				wantInt(t, m, "complete", 1)
				wantInt(t, m, "incomplete", 1)
			},
		},
		{
			name:   "ip parameter ignored by default",
			remote: "10.0.0.1:1", target: announceQ(ih, 1, "&ip=192.0.2.1"),
			check: func(t *testing.T, m map[string]any) {
				if m["external ip"] != "\x0a\x00\x00\x01" {
					t.Fatalf("external ip = %q", m["external ip"])
				}
			},
		},
		{
			name:   "ip parameter honoured when allowed",
			config: func(c *Config) { c.AllowIPParam = true },
			remote: "10.0.0.1:1", target: announceQ(ih, 1, "&ip=192.0.2.1"),
			check: func(t *testing.T, m map[string]any) {
				if m["external ip"] != "\xc0\x00\x02\x01" {
					t.Fatalf("external ip = %q", m["external ip"])
				}
			},
		},
		{
			name:   "X-Forwarded-For ignored from untrusted source",
			config: func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} },
			remote: "10.0.0.1:1", target: announceQ(ih, 1, ""), header: []string{"X-Forwarded-For", "192.0.2.1"},
			check: func(t *testing.T, m map[string]any) {
				if m["external ip"] != "\x0a\x00\x00\x01" {
					t.Fatalf("external ip = %q", m["external ip"])
				}
			},
		},
		{
			name:   "X-Forwarded-For honoured from trusted proxy",
			config: func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} },
			remote: "127.0.0.1:1", target: announceQ(ih, 1, ""), header: []string{"X-Forwarded-For", "203.0.113.9, 192.0.2.1, 127.0.0.2"},
			check: func(t *testing.T, m map[string]any) {
				if m["external ip"] != "\xc0\x00\x02\x01" {
					t.Fatalf("external ip = %q", m["external ip"])
				}
			},
		},
		{
			name:   "malformed announce gets a failure reason",
			remote: "10.0.0.1:1", target: "/announce?info_hash=short&port=1",
			check: func(t *testing.T, m map[string]any) { wantFailure(t, m, "info_hash") },
		},
		{
			name:   "missing port",
			remote: "10.0.0.1:1", target: "/announce?info_hash=" + escapedHash,
			check: func(t *testing.T, m map[string]any) { wantFailure(t, m, "port") },
		},
		{
			name:   "catalog-only refuses unknown infohash with retry in",
			config: func(c *Config) { c.CatalogOnly = true },
			remote: "10.0.0.1:1", target: announceQ(ih, 1, ""),
			check: func(t *testing.T, m map[string]any) {
				wantFailure(t, m, "unregistered")
				wantInt(t, m, "retry in", 5)
			},
		},
		{
			name:   "swarm limit refuses new swarms, keeps old ones",
			config: func(c *Config) { c.MaxSwarms = 1 },
			setup:  [][2]string{{"10.0.0.1:1", announceQ(hashN(99), 1, "")}},
			remote: "10.0.0.1:1", target: announceQ(ih, 1, ""),
			check: func(t *testing.T, m map[string]any) {
				wantFailure(t, m, "too many swarms")
				wantInt(t, m, "retry in", 5)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestTracker(t, tt.config)
			for _, s := range tt.setup {
				if m := get(t, tr, s[0], s[1]); m["failure reason"] != nil {
					t.Fatalf("setup %v: %v", s, m)
				}
			}
			tt.check(t, get(t, tr, tt.remote, tt.target, tt.header...))
		})
	}
}

func TestHTTPSwarmLimitKeepsExistingSwarm(t *testing.T) {
	tr := newTestTracker(t, func(c *Config) { c.MaxSwarms = 2 })
	get(t, tr, "10.0.0.1:1", announceQ(hashN(1), 1, ""))
	get(t, tr, "10.0.0.1:1", announceQ(hashN(2), 1, ""))
	wantFailure(t, get(t, tr, "10.0.0.1:1", announceQ(hashN(3), 1, "")), "too many swarms")
	m := get(t, tr, "10.0.0.2:1", announceQ(hashN(1), 1, ""))
	if p := compactPeers(t, m, "peers", 6); len(p) != 1 {
		t.Fatalf("existing swarm not served: %v", m)
	}
	if s := tr.Stats(); s.Refused != 1 || s.Swarms != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHTTPCatalogOnly(t *testing.T) {
	tr := newTestTracker(t, func(c *Config) { c.CatalogOnly = true })
	ih := hashN(7)
	tr.SetAllowed([][20]byte{ih})
	if m := get(t, tr, "10.0.0.1:1", announceQ(ih, 1, "")); m["failure reason"] != nil {
		t.Fatalf("allowed hash refused: %v", m)
	}
	wantFailure(t, get(t, tr, "10.0.0.1:1", announceQ(hashN(8), 1, "")), "unregistered")
	// Taking the hash off the list drops its swarm at the next expiry.
	tr.SetAllowed(nil)
	tr.expire()
	if _, ok := tr.Swarm(ih); ok {
		t.Fatal("swarm kept after its infohash was disallowed")
	}
}

func TestAllowOne(t *testing.T) {
	tr := newTestTracker(t, func(c *Config) { c.CatalogOnly = true })
	a, b := hashN(7), hashN(8) // the same shard of the allow set ("h…")
	tr.Allow(a, true)
	tr.Allow(b, true)
	for _, ih := range [][20]byte{a, b} {
		if m := get(t, tr, "10.0.0.1:1", announceQ(ih, 1, "")); m["failure reason"] != nil {
			t.Fatalf("allowed hash refused: %v", m)
		}
	}
	tr.Allow(a, false)
	wantFailure(t, get(t, tr, "10.0.0.1:1", announceQ(a, 1, "")), "unregistered")
	if m := get(t, tr, "10.0.0.1:1", announceQ(b, 1, "")); m["failure reason"] != nil {
		t.Fatalf("removing one hash refused its neighbour: %v", m)
	}
	tr.SetAllowed([][20]byte{a})
	wantFailure(t, get(t, tr, "10.0.0.1:1", announceQ(b, 1, "")), "unregistered")
}

func TestHTTPScrape(t *testing.T) {
	tr := newTestTracker(t, nil)
	a, b, unknown := hashN(1), hashN(2), hashN(3)
	get(t, tr, "10.0.0.1:1", announceQ(a, 1, "&left=0"))
	get(t, tr, "10.0.0.2:1", announceQ(a, 1, "&left=5"))
	get(t, tr, "10.0.0.2:1", announceQ(a, 1, "&left=0&event=completed"))
	get(t, tr, "10.0.0.3:1", announceQ(b, 1, "&left=5"))

	q := "/scrape?info_hash=" + url.QueryEscape(string(b[:])) + "&info_hash=" + url.QueryEscape(string(a[:])) +
		"&info_hash=" + url.QueryEscape(string(unknown[:])) + "&info_hash=" + url.QueryEscape(string(a[:]))
	m := get(t, tr, "10.0.0.9:1", q)
	files, ok := m["files"].(map[string]any)
	if !ok || len(files) != 3 {
		t.Fatalf("files = %#v", m["files"])
	}
	want := map[[20]byte][3]int64{a: {2, 1, 0}, b: {0, 0, 1}, unknown: {0, 0, 0}}
	for h, w := range want {
		f := files[string(h[:])].(map[string]any)
		wantInt(t, f, "complete", w[0])
		wantInt(t, f, "downloaded", w[1])
		wantInt(t, f, "incomplete", w[2])
	}
	wantFailure(t, get(t, tr, "10.0.0.9:1", "/scrape"), "info_hash")
	wantFailure(t, get(t, tr, "10.0.0.9:1", "/scrape?info_hash=x"), "info_hash")
	if s, ok := tr.Swarm(a); !ok || s != (SwarmStats{Seeders: 2, Leechers: 0, Completed: 1}) {
		t.Fatalf("Swarm(a) = %+v, %v", s, ok)
	}
}

func TestHTTPNotFound(t *testing.T) {
	tr := newTestTracker(t, nil)
	w := httptest.NewRecorder()
	tr.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusNotFound {
		t.Fatalf("status %d", w.Code)
	}
}

// TestServeTCP checks the standalone HTTP frontend: keep-alive, the same
// replies as ServeHTTP, and refusals of what it does not serve.
func TestServeTCP(t *testing.T) {
	tr := newTestTracker(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.ServeTCP(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	base := "http://" + ln.Addr().String()
	ih := hashN(1)
	for i, port := range []int{1, 2, 3} {
		resp, err := client.Get(base + announceQ(ih, port, ""))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := bencode.Unmarshal(body, &m); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		wantInt(t, m, "incomplete", int64(i+1))
		if p := compactPeers(t, m, "peers", 6); len(p) != i {
			t.Fatalf("announce %d: peers %v", i, p)
		}
	}
	resp, err := client.Get(base + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	raw := func(req string) string {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, req)
		b, _ := io.ReadAll(bufio.NewReader(c))
		return string(b)
	}
	for req, want := range map[string]string{
		"POST /announce HTTP/1.1\r\n\r\n":                      "405",
		"garbage\r\n\r\n":                                      "400",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n": "400",
		"GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\n":  "414",
		"GET /scrape?info_hash=x HTTP/1.0\r\n\r\n":             "failure reason",
	} {
		if got := raw(req); !strings.Contains(got, want) {
			t.Errorf("%.40q: got %q, want %q", req, got, want)
		}
	}
}

// TestHTTPNonCompactPeerIDs checks that a non-compact reply lists each
// peer's id (BEP 3), whichever protocol the peer announced with, the local
// seeder's included, and leaves them out on no_peer_id=1.
func TestHTTPNonCompactPeerIDs(t *testing.T) {
	ih := hashN(1)
	tr := newTestTracker(t, nil)
	tr.SetLocal(&Local{
		Addrs:  []netip.AddrPort{netip.MustParseAddrPort("192.0.2.10:6881")},
		PeerID: [20]byte([]byte("-AN0001-localseeder1")),
		Has:    func([20]byte, bool) bool { return true },
	})
	withID := func(id string, port int) string {
		return strings.Replace(announceQ(ih, port, ""), "peer_id="+peerID, "peer_id="+url.QueryEscape(id), 1)
	}
	get(t, tr, "10.0.0.1:1", withID("-TR3000-httppeer0001", 6881))
	get(t, tr, "[2001:db8::1]:1", withID("-qB4000-ipv6peer0001", 6883))
	src := netip.MustParseAddrPort("10.0.0.2:1")
	r := udpDo(tr, udpAnnouncePacket(tr.connID(src, tr.connWindow()), 1,
		udpAnn{ih: ih, port: 6882, id: "-lt0D00-\x00\x01udppeer001"}), src.String())
	if binary.BigEndian.Uint32(r) != actionAnnounce {
		t.Fatalf("UDP announce reply %x", r)
	}
	want := map[string]string{
		"10.0.0.1:6881":      "-TR3000-httppeer0001",
		"10.0.0.2:6882":      "-lt0D00-\x00\x01udppeer001",
		"[2001:db8::1]:6883": "-qB4000-ipv6peer0001",
		"192.0.2.10:6881":    "-AN0001-localseeder1",
	}

	for _, tc := range []struct {
		query   string
		withIDs bool
	}{
		{"&compact=0", true},
		{"&compact=0&no_peer_id=1", false},
	} {
		m := get(t, tr, "10.0.0.9:1", withID("-AR1000-requester001", 7000)+tc.query)
		l, ok := m["peers"].([]any)
		if !ok || len(l) != len(want) {
			t.Fatalf("%s: peers = %#v", tc.query, m["peers"])
		}
		for _, e := range l {
			d := e.(map[string]any)
			a, err := netip.ParseAddr(d["ip"].(string))
			if err != nil {
				t.Fatal(err)
			}
			ap := netip.AddrPortFrom(a, uint16(d["port"].(int64))).String()
			id, has := d["peer id"]
			switch {
			case !tc.withIDs && has:
				t.Errorf("%s: %s has peer id %q", tc.query, ap, id)
			case tc.withIDs && id != want[ap]:
				t.Errorf("%s: %s has peer id %q, want %q", tc.query, ap, id, want[ap])
			}
		}
	}
}

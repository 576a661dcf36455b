package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// blackholeProxy forwards TCP connections to a database server until
// blackhole is called; from then on it forwards nothing and answers
// nothing, on the connections it has and on new ones, as a server whose
// packets are dropped.
type blackholeProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	dark   bool
	conns  []net.Conn // upstream connections, closed when it goes dark
	held   []net.Conn // client connections, kept open and silent
}

func startBlackholeProxy(t *testing.T, target string) *blackholeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.held = append(p.held, c)
			dark := p.dark
			p.mu.Unlock()
			if !dark {
				go p.forward(c)
			}
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *blackholeProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	p.mu.Unlock()
	go io.Copy(up, c)
	io.Copy(c, up)
}

func (p *blackholeProxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dark = true
	for _, up := range p.conns {
		up.Close() // the client's side stays open: it hears nothing more
	}
}

func (p *blackholeProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range append(p.held, p.conns...) {
		c.Close()
	}
}

// TestLinksDuringBlackholedCatalog: a PostgreSQL catalog that stops
// answering (packets dropped) costs one request a few seconds; the
// .torrent links of seeded rows are then served from the seeder's state
// at once, and what needs the catalog fails at once.
func TestLinksDuringBlackholedCatalog(t *testing.T) {
	dsn := dbtest.NewPostgres(t)
	site := serverCatalog(t, dsn)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startBlackholeProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "a.bin"), 200<<10)
	// Eager: links by infohash are served from the torrents loaded.
	cfg := testConfig(t, content, func(c *Config) { c.Catalog.DSN = u.String() }, eager)
	m := NewMain(cfg, testLogger(t))
	if err := m.Start(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() }) // its catalog is unreachable: errors expected
	d := &testDaemon{Main: m, content: content}
	ids, err := site.AddFiles(context.Background(), []string{"a.bin"})
	if err != nil {
		t.Fatal(err)
	}
	row := d.waitState(t, ids[0], lanseedd.StateReady)
	link := d.HTTPURL() + "/t/" + itoa(ids[0]) + ".torrent"
	_, want := httpGet(t, link)

	proxy.blackhole()
	start := time.Now()
	if resp, body := getWith(t, link, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("first request in the outage: %s after %s", resp.Status, time.Since(start))
	}
	first := time.Since(start)
	if first > 5*time.Second {
		t.Errorf("first request in the outage took %s", first)
	}
	start = time.Now()
	for range 20 {
		for _, l := range []string{link, d.HTTPURL() + "/t/" + row.InfoHash + ".torrent"} {
			if resp, body := getWith(t, l, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
				t.Fatalf("%s in the outage: %s", l, resp.Status)
			}
		}
		if resp, _ := getWith(t, d.HTTPURL()+"/api/files/"+itoa(ids[0]), nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/api/files in the outage: %s, want 503", resp.Status)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("60 requests in the outage took %s (the first %s): they should not wait on the catalog", d, first)
	}
}

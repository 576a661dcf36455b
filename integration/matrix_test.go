//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/internal/netlab"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/store"
)

// needsLAN names the clients that cannot download from a peer on the
// same loopback address, and why; without network namespaces they are
// skipped.
var needsLAN = map[string]string{
	"transmission": "Transmission drops peers on 127.0.0.0/11 as martian",
	"ctorrent":     "ctorrent drops every peer whose IP is its host name's (127.0.0.1 here) as itself",
}

// TestClients is the interop matrix: every real client downloads catalog
// files from a running lanseedd by every path it supports, each from a file
// of its own (a Cyrillic name with spaces), and the bytes are compared.
// The daemon and each client run in network namespaces of their own on a
// bridged 10.x LAN when the test runs as root, else on loopback.
func TestClients(t *testing.T) {
	ctx := context.Background()
	var lab *netlab.Lab
	if err := netlab.Available(ctx); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("network namespaces are needed for Transmission and ctorrent: %v", err)
		}
		t.Logf("no network namespaces (%v): running on loopback", err)
	} else {
		var err error
		lab, err = netlab.New(ctx, netlab.Config{Hosts: 1 + len(clients), Subnet: netipPrefix("10.78.0.0/24")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lab.Close() })
	}
	hostOf := func(i int) *netlab.Host {
		if lab == nil {
			return nil
		}
		return lab.Host(i)
	}

	// One file per case, so that every download comes from our seeder or
	// web seed, never from a client that finished before.
	type tcase struct {
		c    client
		path string
		name string
		data []byte
		id   int64
	}
	var cases []*tcase
	content := t.TempDir()
	for _, c := range clients {
		for _, p := range paths {
			if _, no := c.unsupported[p]; no {
				continue
			}
			tc := &tcase{c: c, path: p, name: fmt.Sprintf("Фильм 02 (2024) %s %s.mkv", c.name, p)}
			tc.data = make([]byte, 2<<20+int(randUint(1<<20)))
			rand.Read(tc.data)
			if err := os.WriteFile(filepath.Join(content, tc.name), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			cases = append(cases, tc)
		}
	}
	snapshot.Guard(t, content)
	// By default lanseedd's web seed stands in only for torrents its seeder
	// does not seed; the matrix asks each client's BEP 19 support with the
	// seeder running (a torrent listing no tracker), so it serves always.
	d := startDaemon(t, daemonConfig{Content: content, Host: hostOf(0), YAML: "http:\n  web_seed_mode: always\n"})
	site := openCatalog(t, d.cfg.Catalog)
	var names []string
	for _, tc := range cases {
		names = append(names, tc.name)
	}
	ids, err := site.AddFiles(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		tc.id = ids[i]
	}

	results := &matrix{cells: map[[2]string]string{}}
	t.Run("clients", func(t *testing.T) {
		for ci, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				for p, why := range c.unsupported {
					results.set(c.name, p, "n/a: "+why)
				}
				if _, err := toolPath(c); err != nil {
					for _, p := range paths {
						results.setIfEmpty(c.name, p, "skip: not installed")
					}
					if os.Getenv("CI") != "" {
						t.Fatalf("%s is not installed (.ci/run installs it): %v", c.tool, err)
					}
					t.Skipf("%s is not installed: %v", c.tool, err)
				}
				if why, ok := needsLAN[c.name]; ok && lab == nil {
					for _, p := range paths {
						results.setIfEmpty(c.name, p, "skip: needs namespaces")
					}
					t.Skipf("%s: %s; needs network namespaces (root)", c.name, why)
				}
				host := hostOf(1 + ci)
				for pi, tc := range cases {
					if tc.c.name != c.name {
						continue
					}
					t.Run(tc.path, func(t *testing.T) {
						start := time.Now()
						err := runCase(t, d, c, tc.path, tc.id, tc.data, host, 6900+pi)
						if err != nil {
							results.set(c.name, tc.path, "FAIL")
							t.Fatal(err)
						}
						results.set(c.name, tc.path, fmt.Sprintf("pass %.1fs", time.Since(start).Seconds()))
					})
				}
			})
		}
	})
	table := results.String()
	t.Logf("interop matrix (%s):\n%s", map[bool]string{true: "namespaces", false: "loopback"}[lab != nil], table)
	if dir := os.Getenv("LANSEEDD_ARTIFACTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "interop-matrix.txt"), []byte(table), 0o644)
	}
}

// runCase makes one client download one file by one path.
func runCase(t *testing.T, d *daemon, c client, path string, id int64, data []byte, host *netlab.Host, port int) error {
	row := d.waitReady(t, id)
	code, served, err := d.get(d.httpURL() + "/t/" + strconv.FormatInt(id, 10) + ".torrent")
	if err != nil || code != 200 {
		return fmt.Errorf("GET /t/%d.torrent: %d %v", id, code, err)
	}
	if host == nil {
		port = freePort(t, true)
	}
	j := &job{path: path, dir: t.TempDir(), work: t.TempDir(), name: row.Name, sum: sha256.Sum256(data), host: host, port: port}
	mi, err := metainfo.Load(bytes.NewReader(served))
	if err != nil {
		return err
	}
	var httpTracker, udpTracker string
	for _, tier := range mi.UpvertedAnnounceList() {
		for _, a := range tier {
			switch {
			case strings.HasPrefix(a, "http://"):
				httpTracker = a
			case strings.HasPrefix(a, "udp://"):
				udpTracker = a
			}
		}
	}
	if httpTracker == "" || udpTracker == "" || len(mi.UrlList) == 0 {
		return fmt.Errorf("served torrent lacks a tracker or the web seed: %q %q %q", httpTracker, udpTracker, mi.UrlList)
	}
	switch path {
	case pathLink:
		if c.fetchesURLs {
			j.url = d.httpURL() + "/t/" + strconv.FormatInt(id, 10) + ".torrent"
		} else {
			j.torrent = writeVariant(t, j.work, mi, nil, true)
		}
	case pathHTTP:
		j.torrent = writeVariant(t, j.work, mi, []string{httpTracker}, false)
	case pathUDP:
		j.torrent = writeVariant(t, j.work, mi, []string{udpTracker}, false)
	case pathWebSeed:
		j.torrent = writeVariant(t, j.work, mi, []string{}, true)
	case pathMagnet:
		if !strings.Contains(row.Magnet, row.InfoHash) {
			return fmt.Errorf("magnet %q lacks the infohash %s", row.Magnet, row.InfoHash)
		}
		j.magnet = row.Magnet
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.download(ctx, j); err != nil {
		return err
	}
	if !j.done() {
		return fmt.Errorf("%s: the downloaded file differs", j.name)
	}
	// The seeder's part: nothing for a web seed download, something when
	// the web seed was not offered.
	f, err := d.file(id)
	if err != nil {
		return err
	}
	up := int64(-1)
	if f.Uploaded != nil {
		up = *f.Uploaded
	}
	switch path {
	case pathWebSeed:
		if up != 0 {
			return fmt.Errorf("web seed download: the seeder uploaded %d bytes; want none", up)
		}
	case pathHTTP, pathUDP:
		if up < int64(len(data)) {
			return fmt.Errorf("the seeder uploaded %d of %d bytes; the client got the rest elsewhere", up, len(data))
		}
	}
	return nil
}

// writeVariant writes mi with other trackers (nil: as served) and with or
// without its web seeds. The info dictionary, hence the infohash, is
// unchanged.
func writeVariant(t *testing.T, dir string, mi *metainfo.MetaInfo, trackers []string, webSeeds bool) string {
	t.Helper()
	v := *mi
	if trackers != nil {
		v.Announce, v.AnnounceList = "", nil
		if len(trackers) > 0 {
			v.Announce = trackers[0]
		}
	}
	if !webSeeds {
		v.UrlList = nil
	}
	var buf bytes.Buffer
	if err := v.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := metainfo.Load(bytes.NewReader(buf.Bytes()))
	if err != nil || back.HashInfoBytes() != mi.HashInfoBytes() {
		t.Fatalf("variant torrent changed the infohash: %v", err)
	}
	path := filepath.Join(dir, "variant.torrent")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// openCatalog connects to the catalog as the site does.
func openCatalog(t testing.TB, dsn string) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN = dsn
	st, err := store.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// matrix is the table of results, client by path.
type matrix struct {
	mu    sync.Mutex
	cells map[[2]string]string
}

func (m *matrix) set(c, p, v string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cells[[2]string{c, p}] = v
}

func (m *matrix) setIfEmpty(c, p, v string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cells[[2]string{c, p}]; !ok {
		m.cells[[2]string{c, p}] = v
	}
}

func (m *matrix) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%-13s", "client")
	for _, p := range paths {
		fmt.Fprintf(&b, " | %-10s", p)
	}
	b.WriteString("\n")
	var notes []string
	for _, c := range clients {
		fmt.Fprintf(&b, "%-13s", c.name)
		for _, p := range paths {
			v, ok := m.cells[[2]string{c.name, p}]
			if !ok {
				v = "not run"
			}
			if strings.HasPrefix(v, "n/a: ") {
				notes = append(notes, fmt.Sprintf("%s %s: %s", c.name, p, strings.TrimPrefix(v, "n/a: ")))
				v = "n/a"
			}
			fmt.Fprintf(&b, " | %-10s", v)
		}
		b.WriteString("\n")
	}
	for _, c := range clients {
		if why, ok := needsLAN[c.name]; ok {
			notes = append(notes, c.name+": needs a LAN address of its own (namespaces): "+why)
		}
	}
	notes = append(notes,
		"aria2 udp: aria2 sends UDP tracker requests from its DHT socket, so DHT is on (an empty routing table) for that path",
		"webtorrent: webtorrent 2.8.5 (npm) under Node, DHT, local discovery, uTP and UPnP/NAT-PMP off, no WebRTC (lanseedd's peers are TCP and uTP)")
	slices.Sort(notes)
	for _, n := range notes {
		b.WriteString("  " + n + "\n")
	}
	return b.String()
}

//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lanseedd/lanseedd/internal/netlab"
)

// The ways a client may get a catalog file; see TestClients.
const (
	pathLink    = "link"    // the .torrent link as served: both trackers and the web seed
	pathHTTP    = "http"    // only the HTTP tracker, no web seed: the seeder found through it
	pathUDP     = "udp"     // only the UDP tracker, no web seed
	pathWebSeed = "webseed" // no tracker at all: the web seed alone, the seeder never reached
	pathMagnet  = "magnet"  // the magnet link of /api/files/{id}
)

var paths = []string{pathLink, pathHTTP, pathUDP, pathWebSeed, pathMagnet}

// job is one download for a client to make.
type job struct {
	path string
	// Exactly one of url, torrent and magnet is what the client is given
	// (see client.accepts): the .torrent link, a .torrent file, a magnet.
	url, torrent, magnet string
	// link is the .torrent link, for clients that cannot fetch URLs: the
	// driver hands them torrent, which holds what the link served.
	dir  string // an empty directory to download into
	work string // an empty directory for the client's own files
	name string // the file name the download must produce
	sum  [32]byte
	host *netlab.Host // the client's namespace, nil for loopback
	// port is a free BitTorrent port for the client in its namespace.
	port int
}

// source is what the client is given: a magnet, a URL or a file.
func (j *job) source() string {
	switch {
	case j.magnet != "":
		return j.magnet
	case j.url != "":
		return j.url
	}
	return j.torrent
}

// command runs a program in the job's namespace.
func (j *job) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if j.host != nil {
		cmd = j.host.Command(ctx, name, args...)
	} else {
		cmd = exec.CommandContext(ctx, name, args...)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// done reports whether the job's file holds the expected bytes.
func (j *job) done() bool {
	f, err := os.Open(filepath.Join(j.dir, j.name))
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return bytes.Equal(h.Sum(nil), j.sum[:])
}

// runUntilDone starts cmd and waits until the job's file is complete (then
// stops cmd), or cmd exits, or ctx ends. Clients that keep seeding after
// their download are stopped this way.
func (j *job) runUntilDone(ctx context.Context, cmd *exec.Cmd) error {
	return j.runUntilDoneThen(ctx, cmd, nil)
}

// runUntilDoneThen is runUntilDone, calling then once cmd has started (to
// hand a client its download through an API).
func (j *job) runUntilDoneThen(ctx context.Context, cmd *exec.Cmd, then func(*syncBuffer) error) error {
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if then != nil {
		if err := then(&out); err != nil {
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			return fmt.Errorf("%w\n%s", err, out.tail())
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			if j.done() {
				return nil
			}
			return fmt.Errorf("%s exited before the download was complete: %v\n%s", cmd.Path, err, out.tail())
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			return fmt.Errorf("download not complete: %w\n%s", ctx.Err(), out.tail())
		case <-tick.C:
			if j.done() {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(5 * time.Second):
					cmd.Process.Signal(syscall.SIGKILL)
					<-exited
				}
				return nil
			}
		}
	}
}

// syncBuffer collects a child's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) tail() string {
	b.mu.Lock()
	s := b.b.String()
	b.mu.Unlock()
	// Progress lines end in \r and repeat: keep the last 40 distinct ones.
	var lines []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" && (len(lines) == 0 || lines[len(lines)-1] != l) {
			lines = append(lines, l)
		}
	}
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// client is a real BitTorrent client (from Debian; webtorrent from npm)
// and how to drive it.
type client struct {
	name string
	// tool is the program that must be installed.
	tool string
	// fetchesURLs: the client is given the .torrent link itself, not a file.
	fetchesURLs bool
	// unsupported names the paths the client cannot take, and why.
	unsupported map[string]string
	download    func(ctx context.Context, j *job) error
}

var clients = []client{
	{
		name: "aria2", tool: "aria2c", fetchesURLs: true,
		download: func(ctx context.Context, j *job) error {
			args := []string{"--dir", j.dir, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
				"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--follow-torrent=mem",
				"--listen-port=" + strconv.Itoa(j.port), "--bt-tracker-timeout=5", "--bt-stop-timeout=60",
				"--bt-save-metadata=false", "--console-log-level=notice", "--summary-interval=0",
				"--check-integrity=true"}
			if j.path == pathUDP {
				// aria2 sends UDP tracker requests from its DHT socket, so
				// it announces over UDP only with DHT on; a fresh routing
				// table knows no node, so no DHT traffic leaves the lab.
				args = append(args, "--enable-dht=true", "--dht-file-path="+filepath.Join(j.work, "dht.dat"),
					"--dht-listen-port="+strconv.Itoa(j.port+500))
			}
			args = append(args, j.source())
			return j.runUntilDone(ctx, j.command(ctx, "aria2c", args...))
		},
	},
	{
		name: "transmission", tool: "transmission-cli", fetchesURLs: true,
		download: downloadTransmission,
	},
	{
		name: "qbittorrent", tool: "qbittorrent-nox", fetchesURLs: true,
		download: downloadQBittorrent,
	},
	{
		name: "libtorrent", tool: "/usr/bin/python3",
		download: func(ctx context.Context, j *job) error {
			script := filepath.Join(j.work, "get.py")
			if err := os.WriteFile(script, []byte(libtorrentScript), 0o644); err != nil {
				return err
			}
			return j.runUntilDone(ctx, j.command(ctx, "/usr/bin/python3", script, j.source(), j.dir, strconv.Itoa(j.port)))
		},
	},
	{
		name: "webtorrent", tool: "node", fetchesURLs: true,
		download: downloadWebTorrent,
	},
	{
		name: "rtorrent", tool: "rtorrent", fetchesURLs: true,
		unsupported: map[string]string{pathWebSeed: "rtorrent 0.9.8 has no web seed (BEP 19) support"},
		download:    downloadRTorrent,
	},
	{
		name: "ctorrent", tool: "ctorrent",
		unsupported: map[string]string{
			pathUDP:     "ctorrent dnh3.3.2 speaks only HTTP trackers",
			pathWebSeed: "ctorrent has no web seed support",
			pathMagnet:  "ctorrent has no magnet support",
		},
		download: func(ctx context.Context, j *job) error {
			// -e 0: exit as soon as the download is complete.
			cmd := j.command(ctx, "ctorrent", "-e", "0", "-p", strconv.Itoa(j.port), "-s", filepath.Join(j.dir, j.name), "-b", filepath.Join(j.work, "bitfield"), j.torrent)
			cmd.Stdin = nil
			return j.runUntilDone(ctx, cmd)
		},
	},
}

// libtorrentScript downloads argv[1] (a .torrent file or a magnet) into
// argv[2] with libtorrent-rasterbar, listening on port argv[3], and exits
// once it seeds.
const libtorrentScript = `import sys, time
import libtorrent as lt

src, save, port = sys.argv[1], sys.argv[2], sys.argv[3]
s = lt.session({
    "listen_interfaces": "0.0.0.0:" + port,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.tracker_notification | lt.alert.category_t.peer_notification,
})
if src.startswith("magnet:"):
    p = lt.parse_magnet_uri(src)
else:
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(src)
p.save_path = save
h = s.add_torrent(p)
while True:
    for a in s.pop_alerts():
        print(type(a).__name__, a.message(), flush=True)
    st = h.status()
    if st.is_seeding:
        print("done", st.total_wanted, flush=True)
        break
    time.sleep(0.1)
`

// errSkip marks a client that cannot run here.
var errSkip = errors.New("skipped")

func toolPath(c client) (string, error) {
	if strings.HasPrefix(c.tool, "/") {
		if _, err := os.Stat(c.tool); err != nil {
			return "", err
		}
		if c.name == "libtorrent" {
			if out, err := exec.Command(c.tool, "-c", "import libtorrent").CombinedOutput(); err != nil {
				return "", fmt.Errorf("python3-libtorrent: %v: %s", err, out)
			}
		}
		return c.tool, nil
	}
	path, err := exec.LookPath(c.tool)
	if err == nil && c.name == "webtorrent" {
		_, err = installWebTorrent()
	}
	return path, err
}

//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/internal/netlab"
)

// daemonConfig says how to run one lanseedd.
type daemonConfig struct {
	// Catalog is the catalog DSN; empty means the embedded SQLite catalog in
	// the state directory.
	Catalog string
	Content string
	// State is lanseedd's state directory; empty means a new one.
	State string
	// Host runs the daemon inside a lab namespace, reachable at the host's
	// address; nil runs it on loopback.
	Host *netlab.Host
	// YAML is added to the daemon's config file.
	YAML string
}

// daemon is the lanseedd binary running as a child process, restartable
// with the same ports and directories.
type daemon struct {
	t   testing.TB
	cfg daemonConfig
	// ip is the address clients reach the daemon at.
	ip                                         string
	httpPort, trackerPort, adminPort, peerPort int
	// client reaches the daemon's listeners, from inside its namespace.
	client  *http.Client
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// startDaemon runs lanseedd until the test ends.
func startDaemon(t testing.TB, cfg daemonConfig) *daemon {
	t.Helper()
	if cfg.State == "" {
		cfg.State = t.TempDir()
	}
	if cfg.Catalog == "" {
		cfg.Catalog = "sqlite:" + filepath.Join(cfg.State, "catalog.db")
	}
	d := &daemon{t: t, cfg: cfg, logPath: filepath.Join(cfg.State, "lanseedd.log")}
	if h := cfg.Host; h != nil {
		d.ip = h.Addr.String()
		d.httpPort, d.trackerPort, d.adminPort, d.peerPort = 8080, 6969, 8081, 6881
		d.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: h.DialContext}}
	} else {
		d.ip = "127.0.0.1"
		d.httpPort, d.trackerPort, d.adminPort, d.peerPort = freePort(t, true), freePort(t, true), freePort(t, false), freePort(t, false)
		d.client = &http.Client{Timeout: 10 * time.Second}
	}
	if err := os.WriteFile(filepath.Join(cfg.State, "lanseedd.yml"), []byte(cfg.YAML+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			d.dumpLog()
		}
	})
	d.start()
	return d
}

// freePort returns a loopback port free for TCP, and for UDP too if udp.
func freePort(t testing.TB, udp bool) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if !udp {
			ln.Close()
			return port
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func (d *daemon) args() []string {
	listen := func(port int) string { return net.JoinHostPort(d.ip, strconv.Itoa(port)) }
	return []string{"run",
		"-config", filepath.Join(d.cfg.State, "lanseedd.yml"),
		"-catalog", d.cfg.Catalog,
		"-content", d.cfg.Content,
		"-state", d.cfg.State,
		"-http", listen(d.httpPort),
		"-tracker", listen(d.trackerPort),
		"-admin", net.JoinHostPort("127.0.0.1", strconv.Itoa(d.adminPort)),
		"-peer-port", strconv.Itoa(d.peerPort),
		"-public-url", "http://" + d.ip,
	}
}

// start runs the daemon and waits until it answers.
func (d *daemon) start() {
	d.t.Helper()
	if err := d.startErr(); err != nil {
		d.t.Fatal(err)
	}
}

// startErr is start for goroutines other than the test's.
func (d *daemon) startErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		return fmt.Errorf("daemon already running")
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	d.starts++
	fmt.Fprintf(logf, "=== start %d at %s\n", d.starts, time.Now().Format(time.RFC3339Nano))
	var cmd *exec.Cmd
	if d.cfg.Host != nil {
		cmd = d.cfg.Host.Command(context.Background(), lanseeddBin, d.args()...)
	} else {
		cmd = exec.Command(lanseeddBin, d.args()...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start lanseedd: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	d.cmd, d.exited = cmd, exited
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := d.client.Get(d.adminURL() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			d.cmd = nil
			return fmt.Errorf("lanseedd exited at start: %v: %s", cmd.ProcessState, d.lastLine())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lanseedd does not answer on %s: %v", d.adminURL(), err)
		}
	}
}

// lastLine is the daemon log's last line.
func (d *daemon) lastLine() string {
	b, _ := os.ReadFile(d.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// supervise starts the daemon as systemd's Restart=on-failure does: a
// start that fails (the catalog's server is down) is tried again, every
// second here, until it succeeds or a minute has passed. It returns how
// many starts failed.
func (d *daemon) supervise() (int, error) {
	deadline := time.Now().Add(time.Minute)
	for failed := 0; ; failed++ {
		err := d.startErr()
		if err == nil || time.Now().After(deadline) {
			return failed, err
		}
		time.Sleep(time.Second)
	}
}

// running reports whether the daemon process runs.
func (d *daemon) running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd != nil
}

// cleanEnv is the test's environment without LANSEEDD_* settings, which
// would override the daemon's flags' defaults.
func cleanEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "LANSEEDD_") })
	// LANSEEDD_TEST_LOAD=eager runs the daemons with every ready row
	// loaded (seeder.load).
	if load := os.Getenv("LANSEEDD_TEST_LOAD"); load != "" {
		env = append(env, "LANSEEDD_SEEDER_LOAD="+load)
	}
	return env
}

// kill stops the daemon with SIGKILL: no flush, no goodbye.
func (d *daemon) kill() { d.signal(syscall.SIGKILL) }

// stop stops the daemon with SIGTERM, as systemd does.
func (d *daemon) stop() { d.signal(syscall.SIGTERM) }

func (d *daemon) signal(sig syscall.Signal) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		d.t.Errorf("lanseedd did not stop within 20 s of %v; killing it", sig)
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
}

// dumpLog writes the daemon's log since its last start to the test log,
// and keeps the whole log in $LANSEEDD_ARTIFACTS if set.
func (d *daemon) dumpLog() {
	b, _ := os.ReadFile(d.logPath)
	if dir := os.Getenv("LANSEEDD_ARTIFACTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		name := strings.NewReplacer("/", "_", " ", "_").Replace(d.t.Name()) + ".lanseedd.log"
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	if i := bytes.LastIndex(b, []byte("=== start ")); i >= 0 {
		b = b[i:]
	}
	if len(b) > 20000 {
		b = append([]byte("…"), b[len(b)-20000:]...)
	}
	d.t.Logf("lanseedd log (%s) since its last start:\n%s", d.logPath, b)
}

func (d *daemon) httpURL() string {
	return "http://" + net.JoinHostPort(d.ip, strconv.Itoa(d.httpPort))
}

func (d *daemon) adminURL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(d.adminPort))
}

func (d *daemon) trackerHost() string { return net.JoinHostPort(d.ip, strconv.Itoa(d.trackerPort)) }

// get fetches a URL on one of the daemon's listeners.
func (d *daemon) get(url string) (int, []byte, error) {
	resp, err := d.client.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// apiFile is the part of /api/files/{id} the tests read.
type apiFile struct {
	ID       int64  `json:"id"`
	Path     string `json:"path"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Size     int64  `json:"size_bytes"`
	InfoHash string `json:"infohash"`
	Magnet   string `json:"magnet"`
	Error    string `json:"error"`
	Seeders  *int   `json:"seeders"`
	Uploaded *int64 `json:"uploaded_bytes"`
}

// file reads a row through the admin API, which adds swarm figures.
func (d *daemon) file(id int64) (apiFile, error) {
	code, body, err := d.get(d.adminURL() + "/api/files/" + strconv.FormatInt(id, 10))
	if err != nil {
		return apiFile{}, err
	}
	if code != http.StatusOK {
		return apiFile{}, fmt.Errorf("GET /api/files/%d: %d %s", id, code, body)
	}
	var f apiFile
	err = json.Unmarshal(body, &f)
	return f, err
}

// waitReady waits until row id is ready and returns its public API view.
func (d *daemon) waitReady(t testing.TB, id int64) apiFile {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body, err := d.get(d.httpURL() + "/api/files/" + strconv.FormatInt(id, 10))
		var f apiFile
		if err == nil && code == http.StatusOK && json.Unmarshal(body, &f) == nil && f.State == "ready" {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("row %d never became ready: %d %s %v", id, code, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

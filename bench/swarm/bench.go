package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/bench/internal/benchkit"
	"github.com/lanseedd/lanseedd/internal/netlab"
)

// Ports in the server's namespace.
const (
	plainHTTPPort = 80
	lanseeddHTTP  = 8080
	trackerPort   = 6969
	adminPort     = 8081
	peerPort      = 6881
)

type bench struct {
	opts     options
	lab      *netlab.Lab
	dir      string
	content  string
	fileName string
	bin      string
	logf     func(string, ...any)
	// hc reaches the LAN from the server's namespace.
	hc *http.Client
}

// variant is lanseedd's scenario with the torrent as served (web seed and
// peers) or without its web seed (peers only).
type variant struct {
	webSeed bool
	solo    time.Duration
	swarm   scenario
}

func (v variant) name() string {
	if v.webSeed {
		return "as served"
	}
	return "url-list stripped"
}

// scenario is one way of delivering the file to the clients.
type scenario struct {
	// times[i] is client i's completion time, from its own start.
	times []time.Duration
	// failed counts clients that did not finish.
	failed int
	// serverTx is what the server's interface sent meanwhile.
	serverTx uint64
	// daemon is what lanseedd's seeder and web seed report having sent
	// meanwhile (lanseedd scenarios only).
	daemon daemonTx
	// timeline is the scenario second by second (with -timeline).
	timeline []timelineRow
}

// daemonTx splits lanseedd's upload by listener, from its admin API.
type daemonTx struct {
	seeder, webSeed  int64
	webSeedRequests  int64
	webSeedStoodDown int64
}

func (d daemonTx) sub(o daemonTx) daemonTx {
	return daemonTx{d.seeder - o.seeder, d.webSeed - o.webSeed, d.webSeedRequests - o.webSeedRequests, d.webSeedStoodDown - o.webSeedStoodDown}
}

func (b *bench) server() *netlab.Host    { return b.lab.Host(0) }
func (b *bench) clients() []*netlab.Host { return b.lab.Hosts()[1:] }
func (b *bench) url(port int, p string) string {
	return fmt.Sprintf("http://%s:%d%s", b.server().Addr, port, p)
}

func (b *bench) run(ctx context.Context) (*report, error) {
	rep := &report{opts: b.opts}
	b.hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return b.server().DialContext(ctx, network, addr)
		},
	}}
	rate, _ := benchkit.ParseRate(b.opts.rate)
	expected := time.Duration(float64(b.opts.size*8*int64(b.opts.clients)) / rate * float64(time.Second))
	timeout := b.opts.timeout
	if timeout == 0 {
		timeout = 3*expected + time.Minute
	}

	var err error
	if b.opts.httpRun {
		b.logf("scenario A: %d clients fetch the file over plain HTTP at once (about %s)", b.opts.clients, expected.Round(time.Second))
		if rep.http, err = b.plainHTTP(ctx, timeout); err != nil {
			return nil, err
		}
		b.logf("HTTP: slowest client %s", rep.http.max().Round(time.Millisecond))
	}

	if b.opts.stack {
		b.logf("scenario C: %d clients download the seeds' own stack's torrent (mktorrent, opentracker, a seeding aria2c)", b.opts.clients)
		// The stack is the yardstick, not what is measured: when it
		// cannot be brought up, the run goes on without its row and the
		// report says why.
		if rep.stack, err = b.stack(ctx, timeout); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			rep.stackErr = err
			b.logf("stack: %v; the stack's row is left out of this run", err)
		} else {
			b.logf("stack: slowest client %s", rep.stack.max().Round(time.Millisecond))
		}
	}

	stop, err := b.startLanseedd(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	for _, webSeed := range b.opts.webSeeds {
		v := variant{webSeed: webSeed}
		if b.opts.solo {
			b.logf("solo, %s: one lanseedd client alone", v.name())
			solo, err := b.swarm(ctx, b.clients()[:1], "solo", webSeed, "", timeout)
			if err != nil {
				return nil, err
			}
			if solo.failed > 0 {
				return nil, errors.New("the solo client did not finish: see the logs above")
			}
			v.solo = solo.times[0]
			b.logf("solo: %s", v.solo.Round(time.Millisecond))
		}
		b.logf("scenario B, %s: %d clients download the torrent at once", v.name(), b.opts.clients)
		if v.swarm, err = b.swarm(ctx, b.clients(), "swarm", webSeed, "", timeout); err != nil {
			return nil, err
		}
		b.logf("lanseedd, %s: slowest client %s", v.name(), v.swarm.max().Round(time.Millisecond))
		rep.variants = append(rep.variants, v)
	}
	return rep, nil
}

// plainHTTP serves the content directory with net/http's file server in
// the server's namespace and has every client fetch the file with aria2c
// over one connection.
func (b *bench) plainHTTP(ctx context.Context, timeout time.Duration) (scenario, error) {
	ln, err := b.server().Listen("tcp", fmt.Sprintf(":%d", plainHTTPPort))
	if err != nil {
		return scenario{}, err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(b.content))}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	before, err := b.server().Counters(ctx)
	if err != nil {
		return scenario{}, err
	}
	url := b.url(plainHTTPPort, "/"+b.fileName)
	type done struct {
		i   int
		d   time.Duration
		err error
	}
	results := make(chan done, len(b.clients()))
	for i, h := range b.clients() {
		dir := filepath.Join(b.dir, "http", strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return scenario{}, err
		}
		cmd := h.Command(ctx, "aria2c", append(aria2Common(dir),
			"--max-connection-per-server=1", "--split=1", url)...)
		logTo(cmd, filepath.Join(dir, "aria2c.log"))
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return scenario{}, err
		}
		go func() {
			err := cmd.Wait()
			results <- done{i, time.Since(start), err}
			os.RemoveAll(filepath.Join(dir, b.fileName))
		}()
	}
	s := scenario{times: make([]time.Duration, len(b.clients()))}
	for range b.clients() {
		r := <-results
		s.times[r.i] = r.d
		if r.err != nil {
			s.failed++
			b.logf("HTTP client %d: %v (log: %s)", r.i, r.err, filepath.Join(b.dir, "http", strconv.Itoa(r.i), "aria2c.log"))
		}
	}
	after, err := b.server().Counters(context.Background())
	if err != nil {
		return s, err
	}
	s.serverTx = after.Sub(before).TxBytes
	return s, nil
}

// startLanseedd adds the file to a new embedded catalog and runs lanseedd
// in the server's namespace until the file is ready. stop ends it.
func (b *bench) startLanseedd(ctx context.Context) (stop func(), err error) {
	state := filepath.Join(b.dir, "state")
	conf := b.opts.config
	if conf == "" {
		conf = filepath.Join(b.dir, "lanseedd.yml")
		if err := os.WriteFile(conf, []byte("# defaults and flags only\n"), 0o644); err != nil {
			return nil, err
		}
	}
	common := []string{"-config", conf, "-state", state, "-content", b.content}
	add := exec.CommandContext(ctx, b.bin, append(append([]string{"files", "add"}, common...), b.fileName)...)
	add.Env = cleanEnv()
	if out, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lanseedd files add: %w\n%s", err, out)
	}
	cmd := b.server().Command(ctx, b.bin, append([]string{"run"}, append(common,
		"-http", fmt.Sprintf(":%d", lanseeddHTTP),
		"-tracker", fmt.Sprintf(":%d", trackerPort),
		"-admin", fmt.Sprintf("127.0.0.1:%d", adminPort),
		"-peer-port", strconv.Itoa(peerPort),
		"-public-url", "http://"+b.server().Addr.String())...)...)
	cmd.Env = cleanEnv()
	logFile := filepath.Join(b.dir, "lanseedd.log")
	logTo(cmd, logFile)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}

	hc := b.hc
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var f struct{ State, Error string }
		resp, err := hc.Get(b.url(lanseeddHTTP, "/api/files/1"))
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&f)
			resp.Body.Close()
		}
		if err == nil && f.State == "ready" {
			b.logf("lanseedd seeds the file")
			return stop, nil
		}
		if f.State == "error" || f.State == "missing" {
			stop()
			return nil, fmt.Errorf("lanseedd: file is %s: %s", f.State, f.Error)
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("lanseedd exited: %v (log: %s)", err, logFile)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("lanseedd did not get the file ready in 2 minutes (log: %s)", logFile)
		}
	}
}

// swarm has the hosts download the file's torrent with aria2c at once:
// lanseedd's, or the one at torrent when it is not empty (then lanseedd's
// figures are not read). Clients that finish keep seeding, as subscribers
// do, until the last one is done; then all are stopped.
func (b *bench) swarm(ctx context.Context, hosts []*netlab.Host, name string, webSeed bool, torrent string, timeout time.Duration) (scenario, error) {
	lanseedd := torrent == ""
	before, err := b.server().Counters(ctx)
	if err != nil {
		return scenario{}, err
	}
	var daemonBefore daemonTx
	if lanseedd {
		if daemonBefore, err = b.daemonTx(); err != nil {
			return scenario{}, err
		}
		torrent = b.url(lanseeddHTTP, "/t/1.torrent")
		if !webSeed {
			if torrent, err = b.torrentWithoutWebSeeds(torrent); err != nil {
				return scenario{}, err
			}
		}
	}
	type client struct {
		cmd    *exec.Cmd
		dir    string
		start  time.Time
		exited chan error
	}
	cs := make([]*client, len(hosts))
	defer func() {
		for _, c := range cs {
			if c != nil {
				stopClient(c.cmd, c.exited)
			}
		}
	}()
	for i, h := range hosts {
		dir := filepath.Join(b.dir, name, strconv.Itoa(i))
		if lanseedd && !webSeed {
			dir = filepath.Join(b.dir, name+"-peers-only", strconv.Itoa(i))
		}
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return scenario{}, err
		}
		hook := filepath.Join(dir, "done.sh")
		// The hook runs when the download is complete and seeding
		// starts; it records the moment in a file polled below.
		script := fmt.Sprintf("#!/bin/sh\ndate +%%s%%N > '%[1]s/done.tmp' && mv '%[1]s/done.tmp' '%[1]s/done'\n", dir)
		if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
			return scenario{}, err
		}
		cmd, err := b.clientCommand(ctx, h, dir, torrent, hook, len(hosts))
		if err != nil {
			return scenario{}, err
		}
		c := &client{cmd: cmd, dir: dir, exited: make(chan error, 1), start: time.Now()}
		if err := cmd.Start(); err != nil {
			return scenario{}, err
		}
		cs[i] = c
		go func() { c.exited <- cmd.Wait() }()
	}

	var stopTimeline func() []sample
	if b.opts.timeline && len(hosts) > 1 {
		stopTimeline = recordTimeline(b.lab, 200*time.Millisecond, b.logf)
	}
	s := scenario{times: make([]time.Duration, len(hosts))}
	deadline := time.Now().Add(timeout)
	pending := len(cs)
	finished := make([]bool, len(cs))
	for pending > 0 {
		for i, c := range cs {
			if finished[i] {
				continue
			}
			if raw, err := os.ReadFile(filepath.Join(c.dir, "done")); err == nil {
				ns, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
				if err != nil {
					return s, fmt.Errorf("client %d: hook wrote %q", i, raw)
				}
				s.times[i] = time.Unix(0, ns).Sub(c.start)
				finished[i] = true
				pending--
				continue
			}
			select {
			case err := <-c.exited:
				c.exited <- err
				b.logf("%s client %d exited before finishing: %v (log: %s)", name, i, err, filepath.Join(c.dir, "client.log"))
				finished[i] = true
				s.failed++
				s.times[i] = time.Since(c.start)
				pending--
			default:
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.logf("%s: %d clients did not finish within %s", name, pending, timeout)
			for i := range cs {
				if !finished[i] {
					s.failed++
					s.times[i] = timeout
				}
			}
			break
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if stopTimeline != nil {
		rate, _ := benchkit.ParseRate(b.opts.rate)
		s.timeline = timeline(stopTimeline(), rate, b.opts.serverRate(), time.Second, b.opts.size)
	}
	after, err := b.server().Counters(context.Background())
	if err != nil {
		return s, err
	}
	s.serverTx = after.Sub(before).TxBytes
	if lanseedd {
		daemonAfter, err := b.daemonTx()
		if err != nil {
			return s, err
		}
		s.daemon = daemonAfter.sub(daemonBefore)
	}
	for _, c := range cs {
		stopClient(c.cmd, c.exited)
		os.RemoveAll(filepath.Join(c.dir, b.fileName))
	}
	cs = nil
	return s, nil
}

// daemonTx reads what lanseedd's seeder and web seed have sent so far.
func (b *bench) daemonTx() (daemonTx, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/api/stats", adminPort)
	resp, err := b.hc.Get(url)
	if err != nil {
		return daemonTx{}, err
	}
	defer resp.Body.Close()
	var st struct {
		Seeder struct {
			UploadedBytes int64 `json:"uploaded_bytes"`
		} `json:"seeder"`
		WebSeed struct {
			Served    int64 `json:"served"`
			StoodDown int64 `json:"stood_down"`
			Bytes     int64 `json:"sent_bytes"`
		} `json:"web_seed"`
	}
	if resp.StatusCode != http.StatusOK {
		return daemonTx{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return daemonTx{}, fmt.Errorf("GET %s: %w", url, err)
	}
	return daemonTx{st.Seeder.UploadedBytes, st.WebSeed.Bytes, st.WebSeed.Served + st.WebSeed.StoodDown, st.WebSeed.StoodDown}, nil
}

// torrentWithoutWebSeeds fetches the torrent at url and writes it without
// its web seeds to a file, whose path it returns.
func (b *bench) torrentWithoutWebSeeds(url string) (string, error) {
	resp, err := b.hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	mi, err := metainfo.Load(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	mi.UrlList = nil
	path := filepath.Join(b.dir, "no-webseed.torrent")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := mi.Write(f); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// clientCommand is the command of one BitTorrent client of a swarm,
// downloading torrent (a URL or a file) into dir, running hook once it
// has the whole file, then seeding until stopped. Its output goes to
// client.log in dir.
func (b *bench) clientCommand(ctx context.Context, h *netlab.Host, dir, torrent, hook string, swarm int) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	switch b.opts.client {
	case "transmission":
		// transmission-cli takes its settings from a config directory.
		// DHT and local discovery off, as for aria2; uTP off, so that every
		// client speaks TCP as aria2 does (and reaches the stack's aria2c
		// seeder); no ratio or idle limit: it seeds until stopped.
		conf := filepath.Join(dir, "transmission")
		settings := map[string]any{
			"dht-enabled": false, "lpd-enabled": false, "pex-enabled": true, "utp-enabled": false,
			"port-forwarding-enabled": false, "peer-port": peerPort,
			"ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
			"peer-limit-per-torrent": max(60, swarm+5), "peer-limit-global": max(240, swarm+5),
			"download-dir": dir, "incomplete-dir-enabled": false, "rename-partial-files": false,
		}
		if b.opts.debugLog {
			settings["message-level"] = 3 // debug
		}
		raw, err := json.Marshal(settings)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(conf, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(conf, "settings.json"), raw, 0o644); err != nil {
			return nil, err
		}
		cmd = h.Command(ctx, "transmission-cli", "-g", conf, "-w", dir,
			"-p", strconv.Itoa(peerPort), "-M", "-D", "-U", "-f", hook, torrent)
	default:
		args := append(aria2Common(dir),
			"--follow-torrent=mem",
			"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
			"--enable-peer-exchange=true",
			// aria2 announces over UDP only through its DHT socket: without
			// DHT a UDP announce fails, and trying the next URL of the tier
			// waits for the tracker watcher's next round (seconds). A
			// default aria2, with DHT, would announce over UDP at once.
			"--bt-exclude-tracker="+fmt.Sprintf("udp://%s:%d/announce", b.server().Addr, trackerPort),
			// Seed until stopped, whatever the ratio.
			"--seed-ratio=0.0",
			"--bt-max-peers="+strconv.Itoa(max(55, swarm+5)),
			"--listen-port="+strconv.Itoa(peerPort),
			"--on-bt-download-complete="+hook)
		if b.opts.debugLog {
			args = append(args, "--log-level=info", "--log="+filepath.Join(dir, "debug.log"))
		}
		args = append(append(args, b.opts.aria2BT...), torrent)
		cmd = h.Command(ctx, "aria2c", args...)
	}
	logTo(cmd, filepath.Join(dir, "client.log"))
	return cmd, nil
}

// aria2Common are the options of every aria2c run: no config file, no
// console progress, files written as they come.
func aria2Common(dir string) []string {
	return []string{
		"--no-conf", "--dir=" + dir, "--allow-overwrite=true", "--auto-file-renaming=false",
		"--file-allocation=none", "--summary-interval=0", "--show-console-readout=false",
		"--console-log-level=notice", "--disable-ipv6=true",
	}
}

// stopClient ends an aria2c with SIGTERM (it tells the tracker it
// stopped), or SIGKILL when that takes too long; the stack's opentracker
// too. exited gets back what it held, for a later stop.
func stopClient(cmd *exec.Cmd, exited chan error) {
	if cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
	}
}

func logTo(cmd *exec.Cmd, path string) {
	if f, err := os.Create(path); err == nil {
		cmd.Stdout, cmd.Stderr = f, f
	}
}

// cleanEnv is the environment without LANSEEDD_* variables, so that only
// the flags configure the daemon.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "LANSEEDD_") })
}

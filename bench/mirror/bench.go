package main

import (
	"context"
	"encoding/json"
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

	"github.com/lanseedd/lanseedd/bench/internal/benchkit"
	"github.com/lanseedd/lanseedd/internal/netlab"
)

// Ports in every host's namespace (each has its own).
const (
	rsyncPort   = 873
	httpPort    = 8080
	trackerPort = 6969
	adminPort   = 8081
	peerPort    = 6881
)

type bench struct {
	opts    options
	lab     *netlab.Lab
	dir     string
	content string
	files   []file
	bin     string
	cat     *catalog
	logf    func(string, ...any)
	primary *daemon
}

func (b *bench) primaryHost() *netlab.Host { return b.lab.Host(0) }

// total is the content's size in bytes.
func (b *bench) total() int64 {
	var n int64
	for _, f := range b.files {
		n += f.size
	}
	return n
}

// lineTime is how long copies of the content take at the links' rate.
func (b *bench) lineTime(copies int) time.Duration {
	rate, _ := benchkit.ParseRate(b.opts.rate)
	return time.Duration(float64(b.total()*8*int64(copies)) / rate * float64(time.Second))
}

func (b *bench) timeout(copies int) time.Duration {
	if b.opts.timeout > 0 {
		return b.opts.timeout
	}
	return 3*b.lineTime(copies) + time.Minute
}

// run runs the three scenarios opts.runs times. The report holds the runs
// done, also on error.
func (b *bench) run(ctx context.Context) (*report, error) {
	rep := &report{opts: b.opts, total: b.total(), files: len(b.files)}
	defer func() {
		if b.primary != nil {
			b.primary.stop()
		}
	}()
	for i := range b.opts.runs {
		var r result
		b.logf("run %d, rsync: the other host pulls the content from rsync --daemon on the primary (line rate: %s)", i+1, b.lineTime(1).Round(time.Second))
		rs, err := b.rsync(ctx, i)
		if err != nil {
			return rep, err
		}
		r.rsync = rs
		b.logf("rsync: %s", rs.time.Round(time.Millisecond))

		if b.primary == nil {
			if err := b.startPrimary(ctx); err != nil {
				return rep, err
			}
		}
		b.logf("run %d, one mirror: a mirror node with an empty root fills it", i+1)
		one, err := b.mirrors(ctx, i, []string{"m"}, 0)
		if err != nil {
			return rep, err
		}
		r.one = one
		b.logf("one mirror: %s; the primary's seeder sent %s, its web seed %s", one.times[0].Round(time.Millisecond),
			mib(one.primaryUp.seeder), mib(one.primaryUp.webSeed))

		b.logf("run %d, two mirrors: B starts once A has %.0f%% of the content", i+1, 100*b.opts.secondAt)
		two, err := b.mirrors(ctx, i, []string{"a", "b"}, b.opts.secondAt)
		if err != nil {
			return rep, err
		}
		r.two = two
		b.logf("two mirrors: A %s, B %s (started %s after A)", two.times[0].Round(time.Millisecond),
			two.times[1].Round(time.Millisecond), two.offsets[1].Round(time.Millisecond))
		b.logf("two mirrors: the primary's seeder sent %s, its web seed %s", mib(two.primaryUp.seeder), mib(two.primaryUp.webSeed))
		rep.runs = append(rep.runs, r)
	}
	return rep, nil
}

// rsyncRun is the rsync scenario's outcome.
type rsyncRun struct {
	time      time.Duration
	primaryTx uint64
}

// rsync serves the content with rsync's daemon in the primary's namespace
// and has host 1 pull it into an empty directory.
func (b *bench) rsync(ctx context.Context, run int) (rsyncRun, error) {
	dir := filepath.Join(b.dir, "rsync", strconv.Itoa(run+1))
	dest := filepath.Join(dir, "dest")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return rsyncRun{}, err
	}
	defer os.RemoveAll(dest)
	conf := filepath.Join(dir, "rsyncd.conf")
	if err := os.WriteFile(conf, []byte(rsyncdConf(b.content, filepath.Join(dir, "rsyncd.log"))), 0o644); err != nil {
		return rsyncRun{}, err
	}
	srv := b.primaryHost().Command(ctx, "rsync", "--daemon", "--no-detach", "--config="+conf,
		"--address="+b.primaryHost().Addr.String(), "--port="+strconv.Itoa(rsyncPort))
	logTo(srv, filepath.Join(dir, "rsyncd.out"))
	if err := srv.Start(); err != nil {
		return rsyncRun{}, fmt.Errorf("rsync --daemon: %w", err)
	}
	srvExited := make(chan error, 1)
	go func() { srvExited <- srv.Wait() }()
	defer stopProcess(srv, srvExited)

	client := b.lab.Host(1)
	addr := net.JoinHostPort(b.primaryHost().Addr.String(), strconv.Itoa(rsyncPort))
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := client.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return rsyncRun{}, fmt.Errorf("rsync --daemon does not listen on %s: %v (log: %s)", addr, err, dir)
		}
		select {
		case err := <-srvExited:
			srvExited <- err
			return rsyncRun{}, fmt.Errorf("rsync --daemon exited: %v (log: %s)", err, dir)
		case <-ctx.Done():
			return rsyncRun{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}

	tctx, cancel := context.WithTimeout(ctx, b.timeout(1))
	defer cancel()
	before, err := b.primaryHost().Counters(ctx)
	if err != nil {
		return rsyncRun{}, err
	}
	pull := client.Command(tctx, "rsync", "-a", "rsync://"+b.primaryHost().Addr.String()+"/content/", dest+"/")
	start := time.Now()
	out, err := pull.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return rsyncRun{}, fmt.Errorf("rsync -a rsync://%s/content/: %w\n%s", b.primaryHost().Addr, err, out)
	}
	after, err := b.primaryHost().Counters(ctx)
	if err != nil {
		return rsyncRun{}, err
	}
	if err := verify(dest, b.files); err != nil {
		return rsyncRun{}, fmt.Errorf("rsync's copy: %w", err)
	}
	return rsyncRun{time: took, primaryTx: after.Sub(before).TxBytes}, nil
}

// rsyncdConf serves root read only as module content, without a chroot,
// as root (the work directory is not readable by nobody).
func rsyncdConf(root, logFile string) string {
	return fmt.Sprintf(`use chroot = no
uid = root
gid = root
log file = %s

[content]
	path = %s
	read only = yes
`, logFile, root)
}

// mirrorRun is the outcome of mirror nodes filling their roots at once.
type mirrorRun struct {
	// names[i] is mirror i's node name; offsets[i] when it started, from
	// the first one's start; times[i] how long it took to have every file,
	// from its own start.
	names   []string
	offsets []time.Duration
	times   []time.Duration
	// got[i] is what mirror i had fetched at the end; failed[i] says it
	// did not have every file when the scenario timed out (times[i] is
	// then the time it had).
	failed []bool
	got    []int64
	// primaryTx is what the primary's interface sent, and mirrorTx[i]
	// what mirror i's sent, from the first mirror's start until the last
	// one was done.
	primaryTx uint64
	mirrorTx  []uint64
	// primaryUp is what the primary's daemon reports having sent
	// meanwhile, by listener.
	primaryUp uploads
}

// span is the time from the first mirror's start until the last one was
// done.
func (m mirrorRun) span() time.Duration {
	var d time.Duration
	for i := range m.times {
		d = max(d, m.offsets[i]+m.times[i])
	}
	return d
}

// mirrors starts a mirror node with an empty root on hosts 1, 2, … for
// each name: the first at once, each next one once the one before has
// received secondAt of the content's size; and waits until every one has fetched
// it all. Then it stops them, checks their roots and removes them.
func (b *bench) mirrors(ctx context.Context, run int, names []string, secondAt float64) (mirrorRun, error) {
	m := mirrorRun{names: names, offsets: make([]time.Duration, len(names)), times: make([]time.Duration, len(names)),
		failed: make([]bool, len(names)), got: make([]int64, len(names))}
	hosts := b.lab.Hosts()[1 : 1+len(names)]
	before := make([]netlab.Counters, len(names)+1)
	for i, h := range append([]*netlab.Host{b.primaryHost()}, hosts...) {
		c, err := h.Counters(ctx)
		if err != nil {
			return m, err
		}
		before[i] = c
	}
	upBefore, err := b.primary.uploads(ctx)
	if err != nil {
		return m, err
	}
	total := b.total()
	tctx, cancel := context.WithTimeout(ctx, b.timeout(len(names)))
	defer cancel()
	ds := make([]*daemon, len(names))
	defer func() {
		for _, d := range ds {
			if d != nil {
				d.stop()
			}
		}
	}()
	var first time.Time
	done := make([]bool, len(names))
	started := 0
	for pending := len(names); pending > 0; {
		// The next mirror starts when the one before has its share.
		if started < len(names) {
			ready := started == 0
			if !ready {
				// What the one before received, on its interface: its
				// fetches run side by side, and a row counts as fetched
				// only once whole, near the end.
				c, err := hosts[started-1].Counters(tctx)
				ready = err == nil && float64(c.RxBytes-before[started].RxBytes) >= secondAt*float64(total)
			}
			if ready {
				node := fmt.Sprintf("%s%d", names[started], run+1)
				root := filepath.Join(b.dir, "nodes", node, "root")
				d, err := b.startDaemon(tctx, hosts[started], node, root, true)
				if err != nil {
					return m, err
				}
				if started == 0 {
					first = d.start
				}
				m.offsets[started] = d.start.Sub(first)
				ds[started] = d
				started++
			}
		}
		for i, d := range ds[:started] {
			if done[i] {
				continue
			}
			select {
			case err := <-d.exited:
				d.exited <- err
				return m, fmt.Errorf("mirror %s exited: %v (log: %s)", d.name, err, d.logFile)
			default:
			}
			n, err := d.fetched(tctx)
			if err == nil && n >= total {
				m.times[i], m.got[i] = time.Since(d.start), n
				done[i] = true
				pending--
			}
		}
		if pending == 0 {
			break
		}
		select {
		case <-tctx.Done():
			if ctx.Err() != nil {
				return m, ctx.Err()
			}
			// The mirrors not done are reported as such, with what
			// they had.
			for i, d := range ds {
				if done[i] {
					continue
				}
				m.failed[i] = true
				if d == nil {
					b.logf("mirror %d was never started", i+1)
					continue
				}
				m.times[i] = time.Since(d.start)
				m.got[i], _ = d.fetched(ctx)
				b.logf("mirror %s: %s of %s fetched after %s (log: %s)", d.name, mib(m.got[i]), mib(total), m.times[i].Round(time.Second), d.logFile)
			}
			pending = 0
		case <-time.After(100 * time.Millisecond):
		}
	}
	upAfter, err := b.primary.uploads(ctx)
	if err != nil {
		return m, err
	}
	m.primaryUp = upAfter.sub(upBefore)
	m.mirrorTx = make([]uint64, len(names))
	for i, h := range append([]*netlab.Host{b.primaryHost()}, hosts...) {
		c, err := h.Counters(ctx)
		if err != nil {
			return m, err
		}
		tx := c.Sub(before[i]).TxBytes
		if i == 0 {
			m.primaryTx = tx
		} else {
			m.mirrorTx[i-1] = tx
		}
	}
	for i, d := range ds {
		if d == nil {
			continue
		}
		d.stop()
		ds[i] = nil
		if m.failed[i] {
			continue
		}
		if err := verify(d.root, b.files); err != nil {
			return m, fmt.Errorf("mirror %s: %w", d.name, err)
		}
		if !b.opts.keep {
			os.RemoveAll(d.root)
			os.RemoveAll(filepath.Join(d.state, "mirror"))
		}
	}
	return m, nil
}

// startPrimary adds a catalog row for every file and runs the primary node
// on host 0 until every row is ready.
func (b *bench) startPrimary(ctx context.Context) error {
	if err := b.cat.migrate(ctx, b.bin); err != nil {
		return err
	}
	paths := make([]string, len(b.files))
	for i, f := range b.files {
		paths[i] = f.path
	}
	if err := b.cat.insert(ctx, paths); err != nil {
		return fmt.Errorf("catalog rows: %w", err)
	}
	d, err := b.startDaemon(ctx, b.primaryHost(), "primary", b.content, false)
	if err != nil {
		return err
	}
	b.primary = d
	b.logf("the primary hashes %d files", len(b.files))
	for deadline := time.Now().Add(10*time.Minute + b.lineTime(1)); ; {
		st, err := b.cat.states(ctx)
		if err == nil && st["ready"] == len(b.files) {
			b.logf("the primary has every row ready after %s", time.Since(d.start).Round(time.Millisecond))
			return nil
		}
		if err == nil && st["error"]+st["missing"] > 0 {
			return fmt.Errorf("the primary left rows in error or missing: %v (log: %s)", st, d.logFile)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the primary has not every row ready: %v %v (log: %s)", st, err, d.logFile)
		}
		select {
		case err := <-d.exited:
			d.exited <- err
			return fmt.Errorf("the primary exited: %v (log: %s)", err, d.logFile)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// daemon is a lanseedd node running in a host's namespace.
type daemon struct {
	name, root, state, logFile string
	cmd                        *exec.Cmd
	exited                     chan error
	start                      time.Time
	// hc reaches the listeners in the daemon's namespace.
	hc *http.Client
}

// nodeYAML is a node's config: quick heartbeats, as a mirror no
// free-space floor, and the log level.
func nodeYAML(name string, mirror bool, logLevel string) string {
	y := "node:\n  name: " + name + "\n  heartbeat: 1s\n  timeout: 3s\n"
	if mirror {
		y += "  mirror: true\n  mirror_min_free: 0\n"
	}
	return y + "log:\n  level: " + logLevel + "\n"
}

// startDaemon runs `lanseedd run` on h with root as its content root (an
// empty mirror root for a mirror), and waits until its admin listener
// answers. The daemon's start time is taken before the process starts.
func (b *bench) startDaemon(ctx context.Context, h *netlab.Host, name, root string, mirror bool) (*daemon, error) {
	d := &daemon{name: name, root: root, state: filepath.Join(b.dir, "nodes", name, "state"), exited: make(chan error, 1)}
	d.logFile = filepath.Join(d.state, "lanseedd.log")
	for _, dir := range []string{root, d.state} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(d.state, "lanseedd.yml")
	if err := os.WriteFile(conf, []byte(nodeYAML(name, mirror, b.opts.logLevel)), 0o644); err != nil {
		return nil, err
	}
	addr := h.Addr.String()
	args := []string{"run",
		"-config", conf,
		"-catalog", b.cat.dsn(),
		"-content", root,
		"-state", d.state,
		"-http", net.JoinHostPort(addr, strconv.Itoa(httpPort)),
		"-tracker", net.JoinHostPort(addr, strconv.Itoa(trackerPort)),
		"-admin", net.JoinHostPort("127.0.0.1", strconv.Itoa(adminPort)),
		"-peer-port", strconv.Itoa(peerPort),
		"-public-url", "http://" + addr}
	if !b.opts.superSeed {
		args = append(args, "-super-seed=false")
	}
	d.cmd = h.Command(context.WithoutCancel(ctx), b.bin, args...)
	d.cmd.Env = cleanEnv()
	logTo(d.cmd, d.logFile)
	d.hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: h.DialContext}}
	d.start = time.Now()
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("lanseedd run (%s): %w", name, err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := d.hc.Get(d.adminURL("/healthz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		select {
		case err := <-d.exited:
			d.exited <- err
			return nil, fmt.Errorf("lanseedd (%s) exited at start: %v (log: %s)", name, err, d.logFile)
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("lanseedd (%s) does not answer on its admin listener: %v (log: %s)", name, err, d.logFile)
		}
	}
}

func (d *daemon) adminURL(p string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", adminPort, p)
}

// stats is the part of the admin API's /api/stats the benchmark reads.
type stats struct {
	Seeder struct {
		Uploaded int64 `json:"uploaded_bytes"`
		Fetched  int64 `json:"mirror_fetched_bytes"`
	} `json:"seeder"`
	WebSeed struct {
		Sent int64 `json:"sent_bytes"`
	} `json:"web_seed"`
}

func (d *daemon) stats(ctx context.Context) (stats, error) {
	var st stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.adminURL("/api/stats"), nil)
	if err != nil {
		return st, err
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /api/stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET /api/stats: %w", err)
	}
	return st, nil
}

// fetched reads the bytes the mirror has fetched into its root.
func (d *daemon) fetched(ctx context.Context) (int64, error) {
	st, err := d.stats(ctx)
	return st.Seeder.Fetched, err
}

// uploads splits what a daemon sent by listener.
type uploads struct {
	seeder, webSeed int64
}

func (u uploads) sub(o uploads) uploads { return uploads{u.seeder - o.seeder, u.webSeed - o.webSeed} }

// uploads reads what the daemon's seeder and web seed have sent so far.
func (d *daemon) uploads(ctx context.Context) (uploads, error) {
	st, err := d.stats(ctx)
	return uploads{st.Seeder.Uploaded, st.WebSeed.Sent}, err
}

// stop ends the daemon with SIGTERM (it leaves the nodes at once), or
// SIGKILL when that takes too long.
func (d *daemon) stop() { stopProcess(d.cmd, d.exited) }

// stopProcess ends a process with SIGTERM, or SIGKILL after 10 seconds.
func stopProcess(cmd *exec.Cmd, exited chan error) {
	if cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		exited <- <-exited
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func logTo(cmd *exec.Cmd, path string) {
	if f, err := os.Create(path); err == nil {
		cmd.Stdout, cmd.Stderr = f, f
	}
}

// cleanEnv is the environment without LANSEEDD_* variables, so that only
// the flags and the config file configure the daemons.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "LANSEEDD_") })
}

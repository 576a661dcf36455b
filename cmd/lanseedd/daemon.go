package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/seeder"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/tracker"
	"github.com/lanseedd/lanseedd/web"
	"github.com/spf13/cobra"
)

// shutdownTimeout bounds a graceful stop.
const shutdownTimeout = 10 * time.Second

// runCommand is `lanseedd run`: the daemon.
func runCommand() *cobra.Command {
	l := &loader{}
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "run the daemon",
		Long: `Run the daemon: watch the catalog, make and seed a torrent for every row,
serve the .torrent links, the feed and the web seed, and run the tracker.
SIGHUP re-reads the configuration; SIGTERM or SIGINT stop it within 10
seconds.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), cmd, l)
		},
	}
	configFlags(cmd.Flags(), l)
	daemonFlags(cmd.Flags(), l)
	return cmd
}

func runDaemon(ctx context.Context, cmd *cobra.Command, l *loader) error {
	stderr := cmd.ErrOrStderr()
	cfg, warnings, err := l.load()
	if err == nil {
		if err = cfg.Validate(); err != nil {
			err = configError{err}
		}
	}
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(cfg.Log.Level.Level())
	logger := newLogger(stderr, cfg.Log.Format, level)
	if cfg.File != "" {
		logger.Info("read config file", "path", cfg.File)
	}
	for _, w := range warnings {
		logger.Warn(w)
	}
	m := NewMain(cfg, logger)
	if err := m.Start(ctx); err != nil {
		m.Close()
		return err
	}
	notify(logger, daemon.SdNotifyReady)
	stopWatchdog := watchdog(logger, m.Healthy)
	defer stopWatchdog()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			notify(logger, daemon.SdNotifyReloading)
			next, warnings, err := l.load()
			if err == nil {
				err = next.Validate()
			}
			for _, w := range warnings {
				logger.Warn(w)
			}
			if err != nil {
				logger.Error("reload: config not applied", "err", err)
			} else {
				level.Set(next.Log.Level.Level())
				m.Reload(ctx, next)
			}
			m.Admin.ReloadResult(err == nil, time.Now())
			notify(logger, daemon.SdNotifyReady)
		case <-ctx.Done():
			notify(logger, daemon.SdNotifyStopping)
			stopWatchdog()
			logger.Info("shutting down")
			return m.Close()
		case err := <-m.Failed():
			notify(logger, daemon.SdNotifyStopping)
			stopWatchdog()
			logger.Info("shutting down: a part stopped")
			// Close returns the part's error too; the exit status is not 0,
			// so that systemd's Restart=on-failure starts a whole daemon.
			if cerr := m.Close(); cerr != nil {
				return cerr
			}
			return err
		}
	}
}

// notify tells systemd about the daemon's state, when it runs under it.
func notify(logger *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		logger.Warn("systemd notification failed", "state", state, "err", err)
	}
}

// Main is the whole daemon, built from a Config, so that tests can run it
// in-process.
type Main struct {
	Config Config
	Log    *slog.Logger

	Store   *store.Store
	Tracker *tracker.Tracker
	Seeder  *seeder.Seeder
	Admin   *web.Admin
	nodes   *nodes

	httpLn    net.Listener
	adminLn   net.Listener
	trackerLn *tracker.Listeners
	httpSrv   *http.Server
	adminSrv  *http.Server

	// extraWebSeeds can change on reload; new torrents take them up.
	extraWebSeeds atomic.Pointer[[]string]

	cancel context.CancelFunc
	wg     sync.WaitGroup
	parts  parts
	mu     sync.Mutex
	errs   []error

	// stopBudget replaces shutdownTimeout, for tests.
	stopBudget time.Duration
}

// NewMain returns a daemon that Start will build.
func NewMain(cfg Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Log: logger}
}

// Start opens the catalog, listens, starts the seeder and serves, in the
// background. Close stops it all.
func (m *Main) Start(ctx context.Context) error {
	cfg := m.Config
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Seeder.StateDir, 0o750); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	// The daemon is a node: its rows and claims are its (the commands
	// that open the catalog are none).
	sc := cfg.storeConfig()
	sc.Node = cfg.Node.Name
	m.Log.Info("opening catalog", "catalog", sc)
	st, err := store.Open(ctx, sc, m.Log)
	if err != nil {
		return err
	}
	m.Store = st
	if st.Dialect() == "sqlite" {
		// The embedded catalog keeps itself migrated.
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	} else if err := st.CheckMigrated(ctx); err != nil {
		return fmt.Errorf("%w; run 'lanseedd migrate' with the same configuration", err)
	}

	if m.Tracker, err = tracker.New(cfg.Tracker.Config, m.Log.With("component", "tracker")); err != nil {
		return err
	}
	if m.trackerLn, err = tracker.Listen(ctx, cfg.Tracker.Listen, runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	if m.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	if m.adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	ep, err := endpointsFor(cfg.HTTP.PublicURL, m.httpLn.Addr(), m.trackerLn.Addr())
	if err != nil {
		return err
	}
	if cfg.HTTP.PublicURL == "" {
		m.Log.Info("no -public-url given; LAN clients are told to reach this host by its name",
			"public_url", ep.public, "hint", "set -public-url http://NAME-OR-IP if clients cannot resolve it")
	}
	m.extraWebSeeds.Store(&cfg.HTTP.WebSeeds)
	webSeeds := func(row lanseedd.Row) []string {
		extra := contentWebSeeds(*m.extraWebSeeds.Load(), row.Path)
		if cfg.HTTP.WebSeedMode == web.WebSeedOff {
			return extra
		}
		// The public listener leaves ours out of the torrent it serves
		// while the seeder seeds it (web.WebSeedStandIn).
		return append([]string{web.WebSeedURL(ep.links, row.FileID)}, extra...)
	}
	if m.Seeder, err = seeder.New(cfg.seederConfig(), st, ep.announce, webSeeds, m.Log.With("component", "seeder")); err != nil {
		return err
	}
	if cfg.HTTP.WebSeedMode != web.WebSeedAlways {
		// The stored magnet goes with the .torrent served while the
		// seeder seeds, which leaves our own web seed out.
		m.Seeder.SetMagnetWebSeeds(func(row lanseedd.Row) []string {
			return contentWebSeeds(*m.extraWebSeeds.Load(), row.Path)
		})
	}
	// Our tracker lists the seeder in the swarm of every ready row, without
	// an announce, and loads the torrent when a peer asks (seeder.load).
	// In catalog-only mode those are the swarms allowed.
	// This daemon is one node of those sharing the catalog: the first
	// heartbeat is recorded before serving, so that the first torrents
	// served list the nodes up.
	peers := localPeers(ctx, ep.host, cfg.Seeder.PeerBind, m.Seeder.Port(), m.Log)
	peerID := m.Seeder.PeerID()
	m.nodes = &nodes{m: m, seeding: make(map[[20]byte]seedingNodes), self: lanseedd.Node{
		Name: cfg.Node.Name, PublicURL: ep.links, Trackers: ep.announce,
		Peers: addrStrings(peers), PeerID: hex.EncodeToString(peerID[:]), Version: Version,
	}}
	m.nodes.beat(ctx)
	m.Seeder.SetNodes(m.nodes.list)
	m.Tracker.SetLocal(&tracker.Local{
		Addrs:  peers,
		PeerID: peerID,
		Has:    m.Seeder.Has,
		Others: m.nodes.seeders,
	})
	webCfg := cfg.HTTP.Config
	webCfg.BaseURL, webCfg.Version = ep.links, Version
	webLog := m.Log.With("component", "web")
	pub := web.NewPublic(webCfg, st, m.Seeder, webLog)
	m.httpSrv = web.Server(webCfg, pub)
	m.httpLn = web.LimitPerIP(m.httpLn, webCfg.MaxConnsPerIP)
	m.Admin = web.NewAdmin(webCfg, st, m.Seeder, m.Tracker, pub, webLog)
	m.Admin.SetNodes(cfg.Node.Name, m.nodes.list)
	m.adminSrv = web.Server(webCfg, web.AllowHosts(cfg.Admin.AdminConfig, cfg.Admin.Listen, m.Admin))

	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.goRun("tracker", func() error { return m.Tracker.Serve(ctx, m.trackerLn.TCP, m.trackerLn.UDP) })
	m.goRun("seeder", func() error { return m.Seeder.Run(ctx) })
	m.goRun("catalog watch", func() error { return st.Watch(ctx, m.Seeder.Wake) })
	m.goRun("nodes", func() error { return m.nodes.run(ctx) })
	m.goRun("http", func() error { return serve(m.httpSrv, m.httpLn) })
	m.goRun("admin", func() error { return serve(m.adminSrv, m.adminLn) })
	m.Log.Info("lanseedd running",
		"links", ep.links+"/t/{id}.torrent",
		"status_page", "http://"+m.adminLn.Addr().String()+"/",
		"announce", strings.Join(ep.announce, " "),
		"peer_port", m.Seeder.Port(),
		"node", cfg.Node.Name,
		"content", m.Seeder.ContentRoot())
	return nil
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// contentWebSeeds returns, for each base URL serving the content root as it
// is, the BEP 19 URL of a row: the directory holding the row's file or
// directory, ending in "/", so that clients append the torrent's name.
func contentWebSeeds(bases []string, catalogPath string) []string {
	dir := path.Dir(path.Clean("/" + catalogPath))
	var out []string
	for _, b := range bases {
		u := strings.TrimRight(b, "/")
		for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
			if part != "" {
				u += "/" + url.PathEscape(part)
			}
		}
		out = append(out, u+"/")
	}
	return out
}

// reloadable are the keys a reload applies while running; a change of any
// other key needs a restart.
var reloadable = map[string]bool{
	"log.level":            true,
	"http.web_seeds":       true,
	"seeder.upload_rate":   true,
	"seeder.download_rate": true,
}

// changedKeys lists the keys whose values differ between two configs.
func changedKeys(old, next *Config) []string {
	var keys []string
	nextSettings := settingsOf(next)
	for i, s := range settingsOf(old) {
		if !reflect.DeepEqual(s.field.Interface(), nextSettings[i].field.Interface()) {
			keys = append(keys, s.key)
		}
	}
	return keys
}

// Reload applies what can change while running and triggers a full
// reconcile; every other key that changed is logged as needing a restart.
func (m *Main) Reload(ctx context.Context, next Config) {
	old := m.Config
	for _, key := range changedKeys(&old, &next) {
		if !reloadable[key] {
			m.Log.Warn("reload: needs a restart; keeping the running value", "key", key)
		}
	}
	seeds := next.HTTP.WebSeeds
	m.extraWebSeeds.Store(&seeds)
	m.Seeder.SetRates(next.Seeder.UploadRate, next.Seeder.DownloadRate)
	for key := range reloadable {
		if s, ok := settingFor(&next, key); ok {
			o, _ := settingFor(&m.Config, key)
			o.field.Set(s.field)
		}
	}
	m.Log.Info("reloaded", "log_level", next.Log.Level, "web_seeds", len(seeds),
		"upload_rate", next.Seeder.UploadRate, "download_rate", next.Seeder.DownloadRate)
	go func() {
		if _, err := m.Store.Resync(ctx); err != nil {
			m.Log.Warn("reload: catalog comparison failed", "err", err)
		}
		m.Seeder.Wake()
	}()
}

// goRun runs a part in the background; its error is kept for Close. A part
// that stops before Close, even without an error, fails the daemon.
func (m *Main) goRun(name string, run func() error) {
	m.parts.start(name)
	m.wg.Go(func() {
		if err := m.parts.stop(name, run()); err != nil {
			m.Log.Error("part stopped", "part", name, "err", err)
			m.mu.Lock()
			m.errs = append(m.errs, err)
			m.mu.Unlock()
		}
	})
}

// HTTPURL gives the public listener's base URL on loopback, for tests.
func (m *Main) HTTPURL() string { return "http://" + loopback(m.httpLn.Addr()) }

// AdminURL gives the admin listener's base URL on loopback, for tests.
func (m *Main) AdminURL() string { return "http://" + loopback(m.adminLn.Addr()) }

// AnnounceURL is the tracker's HTTP announce URL on loopback.
func (m *Main) AnnounceURL() string { return "http://" + loopback(m.trackerLn.Addr()) + "/announce" }

func loopback(a net.Addr) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.(*net.TCPAddr).Port))
}

// Close stops serving, waits for the parts, and closes the client and the
// catalog, all within one budget of shutdownTimeout.
func (m *Main) Close() error {
	m.parts.close()
	if m.cancel != nil {
		m.cancel()
	}
	budget := cmp.Or(m.stopBudget, shutdownTimeout)
	start := time.Now()
	// Requests and parts get the first part of the budget; what is left
	// is for the client and the catalog, which releases its claims (up to
	// 3 s of the 10), so that another daemon need not wait for the lease.
	drain, cancel := context.WithDeadline(context.Background(), start.Add(budget*3/5))
	defer cancel()
	end, cancelEnd := context.WithDeadline(context.Background(), start.Add(budget))
	defer cancelEnd()
	// The other parts stop on cancel, meanwhile.
	stopped := make(chan struct{})
	go func() { m.wg.Wait(); close(stopped) }()
	var servers sync.WaitGroup
	for _, srv := range []*http.Server{m.httpSrv, m.adminSrv} {
		if srv != nil {
			servers.Go(func() {
				if srv.Shutdown(drain) != nil {
					// Clients still downloading are cut off.
					srv.Close()
				}
			})
		}
	}
	servers.Wait()
	if !waitDone(drain, stopped) {
		m.Log.Warn("parts did not stop in time; closing anyway", "waited", time.Since(start))
	}
	if m.cancel == nil {
		// Start failed before serving: the listeners are ours to close.
		for _, ln := range []net.Listener{m.httpLn, m.adminLn} {
			if ln != nil {
				ln.Close()
			}
		}
		if m.trackerLn != nil {
			m.trackerLn.Close()
		}
	}
	if m.Seeder != nil && !within(end, m.Seeder.Close) {
		m.Log.Warn("BitTorrent client did not close in time", "budget", budget)
	}
	if m.nodes != nil && !within(end, func() { m.nodes.leave(end) }) {
		m.Log.Warn("catalog did not record this node's stop in time", "budget", budget)
	}
	if m.Store != nil && !within(end, func() { m.Store.Close() }) {
		m.Log.Warn("catalog did not close in time", "budget", budget)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.errs...)
}

// endpoints are the URLs that go into torrents and links.
type endpoints struct {
	public   string
	host     string   // the public URL's host, without port
	links    string   // base of .torrent links and web seeds
	announce []string // tracker URLs, HTTP and UDP
}

// endpointsFor derives the URLs from the public URL (or the host name) and
// the listeners' ports. A public URL with a port or path of its own (a
// reverse proxy in front) is used as given for links.
func endpointsFor(public string, httpAddr, trackerAddr net.Addr) (endpoints, error) {
	if public == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		public = "http://" + host
	}
	u, err := url.Parse(public)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return endpoints{}, fmt.Errorf("public_url: want http://HOST[:PORT][/PATH], got %q", public)
	}
	host := u.Hostname()
	tport := strconv.Itoa(trackerAddr.(*net.TCPAddr).Port)
	ep := endpoints{public: public, host: host}
	// HTTP first: every client speaks it, and aria2 without DHT, which
	// cannot announce over UDP, tries the tier's URLs in order (UDP first
	// cost it 2 s per download here; HTTP first, nothing).
	ep.announce = []string{
		"http://" + net.JoinHostPort(host, tport) + "/announce",
		"udp://" + net.JoinHostPort(host, tport) + "/announce",
	}
	if u.Port() != "" || strings.Trim(u.Path, "/") != "" {
		ep.links = strings.TrimRight(public, "/")
	} else {
		ep.links = u.Scheme + "://" + net.JoinHostPort(host, strconv.Itoa(httpAddr.(*net.TCPAddr).Port))
	}
	return ep, nil
}

// localPeers are the addresses our tracker gives peers for this server's
// seeder: the peer_bind address if set, else the addresses of the public
// URL's host (where LAN clients reach the tracker, and so this host).
func localPeers(ctx context.Context, host, bind string, port int, log *slog.Logger) []netip.AddrPort {
	var addrs []netip.Addr
	if bind != "" {
		if a, err := netip.ParseAddr(bind); err == nil && !a.IsUnspecified() {
			addrs = append(addrs, a.Unmap())
		}
	}
	if len(addrs) == 0 {
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, a.Unmap())
		} else {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			cancel()
			if err != nil {
				log.Warn("cannot resolve the public URL's host; the tracker lists this server's seeder at 127.0.0.1 only",
					"host", host, "err", err, "hint", "set http.public_url to an address LAN clients reach")
			}
			for _, a := range found {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	if len(addrs) == 0 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, netip.AddrPortFrom(a, uint16(port)))
	}
	return out
}

func addrStrings(addrs []netip.AddrPort) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

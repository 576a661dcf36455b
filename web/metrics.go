package web

import (
	"context"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports the daemon's figures at scrape time, from the same
// sources as the status page, so the two never disagree.
//
// Names are grouped by the part they describe (lanseedd_catalog_*,
// lanseedd_seeder_*, lanseedd_tracker_*, lanseedd_web_seed_*,
// lanseedd_config_*, lanseedd_http_*), and carry their unit: _bytes,
// _seconds, and _total for counters. README.md lists them, and
// contrib/prometheus and contrib/grafana use them.
type collector struct {
	a     *Admin
	build buildInfo
}

var (
	descBuildInfo = prometheus.NewDesc("lanseedd_build_info",
		"Always 1; the labels say which build runs.", []string{"version", "revision", "goversion"}, nil)
	descReloadOK = prometheus.NewDesc("lanseedd_config_last_reload_successful",
		"1 if the last configuration reload (SIGHUP) was applied, 0 if it was rejected.", nil, nil)
	descReloadAt = prometheus.NewDesc("lanseedd_config_last_reload_success_timestamp_seconds",
		"When the configuration was last loaded successfully (at start or on SIGHUP).", nil, nil)

	descCatalogUp = prometheus.NewDesc("lanseedd_catalog_up",
		"1 if the catalog database answered this scrape.", nil, nil)
	descRows = prometheus.NewDesc("lanseedd_catalog_rows",
		"Rows of the state table, by state; absent while the catalog is down.", []string{"state"}, nil)

	descLag = prometheus.NewDesc("lanseedd_seeder_reconcile_lag_seconds",
		"How long the longest-waiting pending row has waited; 0 with none.", nil, nil)
	descTorrents    = prometheus.NewDesc("lanseedd_seeder_torrents", "Torrents loaded in the BitTorrent client (in demand mode, those peers asked for lately).", nil, nil)
	descMaxLoaded   = prometheus.NewDesc("lanseedd_seeder_max_loaded", "The cap on torrents loaded at once (seeder.max_loaded; demand mode).", nil, nil)
	descActivations = prometheus.NewDesc("lanseedd_seeder_activations_total",
		"Torrents loaded for a peer (an announce or an incoming connection), by result.", []string{"result"}, nil)
	descUnloads = prometheus.NewDesc("lanseedd_seeder_unloads_total",
		"Torrents unloaded, by reason: quiet (no peer, no announce for seeder.unload_after) or cap (seeder.max_loaded reached).", []string{"reason"}, nil)
	descActivationSeconds = prometheus.NewDesc("lanseedd_seeder_activation_seconds",
		"Time from a peer's request to its torrent loaded: catalog lookup, stat of the files, load.", nil, nil)
	descSweepRows    = prometheus.NewDesc("lanseedd_seeder_sweep_rows", "Ready rows whose files the last sweep stat'ed.", nil, nil)
	descSweepSeconds = prometheus.NewDesc("lanseedd_seeder_sweep_seconds", "Duration of the last sweep of ready rows' files.", nil, nil)
	descSeederPeers  = prometheus.NewDesc("lanseedd_seeder_peers", "Peers connected to the seeder.", nil, nil)
	descSeederConns  = prometheus.NewDesc("lanseedd_seeder_connections_total", "Peer connections made by the seeder (handshake completed), by transport.", []string{"transport"}, nil)
	descUploaded     = prometheus.NewDesc("lanseedd_seeder_uploaded_bytes_total", "Bytes of content uploaded by the seeder.", nil, nil)
	descHashedBytes  = prometheus.NewDesc("lanseedd_seeder_hashed_bytes_total", "Bytes of content hashed.", nil, nil)
	descHashSeconds  = prometheus.NewDesc("lanseedd_seeder_hash_seconds_total", "Time spent hashing.", nil, nil)
	descFetched      = prometheus.NewDesc("lanseedd_seeder_mirror_fetched_bytes_total", "Bytes of pieces a mirror node fetched from the swarm, not those it reused from an older copy.", nil, nil)
	descStateDirOK   = prometheus.NewDesc("lanseedd_seeder_state_dir_ok",
		"1 if .torrent files can be written to the state directory; 0 while they cannot (full, read-only), and no new torrents are made.", nil, nil)

	descSwarms        = prometheus.NewDesc("lanseedd_tracker_swarms", "Swarms held by the tracker.", nil, nil)
	descPeers         = prometheus.NewDesc("lanseedd_tracker_peers", "Peers held by the tracker, by kind (seeder, leecher).", []string{"kind"}, nil)
	descAnnounces     = prometheus.NewDesc("lanseedd_tracker_announces_total", "Announces answered with peers, by protocol.", []string{"protocol"}, nil)
	descScrapes       = prometheus.NewDesc("lanseedd_tracker_scrapes_total", "Scrapes answered, by protocol.", []string{"protocol"}, nil)
	descConnects      = prometheus.NewDesc("lanseedd_tracker_udp_connects_total", "UDP connect requests answered.", nil, nil)
	descTrackerErrors = prometheus.NewDesc("lanseedd_tracker_errors_total", "Requests answered with an error or dropped, by protocol.", []string{"protocol"}, nil)
	descRefused       = prometheus.NewDesc("lanseedd_tracker_refused_total", "Announces refused because a limit was hit.", nil, nil)
	descCompletions   = prometheus.NewDesc("lanseedd_tracker_completions_total", "Downloads completed: completed events from peers not yet seeding.", nil, nil)

	descConflicts = prometheus.NewDesc("lanseedd_catalog_copy_conflicts",
		"Nodes' copies of ready rows that are other bytes than the row's, or cannot be read; absent while the catalog is down.", nil, nil)
	descNodeUp = prometheus.NewDesc("lanseedd_node_up",
		"1 for each node sharing the catalog whose heartbeat is recent, 0 for one that is down.", []string{"node"}, nil)
	descNodeAge = prometheus.NewDesc("lanseedd_node_heartbeat_age_seconds",
		"How long ago each node sharing the catalog recorded a heartbeat (absent once it stopped cleanly).", []string{"node"}, nil)

	descWebSeedReqs = prometheus.NewDesc("lanseedd_web_seed_requests_total",
		"Web seed requests, by answer: served (content sent) or stood_down (refused while the seeder seeds).", []string{"answer"}, nil)
	descWebSeedBytes = prometheus.NewDesc("lanseedd_web_seed_sent_bytes_total", "Bytes of content sent by the web seed.", nil, nil)
)

// buildInfo is what lanseedd_build_info says of the running binary.
type buildInfo struct{ version, revision, goVersion string }

// readBuildInfo reads the VCS revision that go build stamps in the binary;
// "unknown" when it did not (go run, go test, a build outside git).
func readBuildInfo(version string) buildInfo {
	b := buildInfo{version: version, revision: "unknown", goVersion: runtime.Version()}
	if b.version == "" {
		b.version = "unknown"
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.revision != "unknown" {
		b.revision += "-dirty"
	}
	return b
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuildInfo, descReloadOK, descReloadAt, descCatalogUp, descRows,
		descLag, descTorrents, descMaxLoaded, descActivations, descUnloads, descActivationSeconds, descSweepRows, descSweepSeconds, descSeederPeers, descSeederConns, descUploaded, descHashedBytes, descHashSeconds, descFetched, descStateDirOK,
		descSwarms, descPeers, descAnnounces, descScrapes, descConnects, descTrackerErrors, descRefused, descCompletions,
		descConflicts, descNodeUp, descNodeAge, descWebSeedReqs, descWebSeedBytes} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descBuildInfo, 1, c.build.version, c.build.revision, c.build.goVersion)
	reloadOK := 0.0
	if c.a.reload.ok.Load() {
		reloadOK = 1
	}
	gauge(descReloadOK, reloadOK)
	gauge(descReloadAt, float64(c.a.reload.okAtNs.Load())/1e9)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.a.stats(ctx)
	if err != nil {
		gauge(descCatalogUp, 0)
	} else {
		gauge(descCatalogUp, 1)
		for state, n := range s.Rows {
			gauge(descRows, float64(n), string(state))
		}
		gauge(descLag, s.OldestPendingSeconds)
		gauge(descConflicts, float64(s.Conflicts))
	}
	sd, tr := s.Seeder, s.Tracker // filled even when the catalog is down
	gauge(descTorrents, float64(sd.Torrents))
	gauge(descMaxLoaded, float64(sd.MaxLoaded))
	counter(descActivations, float64(sd.Activations), "ok")
	counter(descActivations, float64(sd.ActivationFailures), "failed")
	counter(descUnloads, float64(sd.Unloads), "quiet")
	counter(descUnloads, float64(sd.Evictions), "cap")
	h := sd.ActivationSeconds
	buckets := make(map[float64]uint64, len(h.Buckets))
	for _, b := range h.Buckets {
		buckets[b.LE] = b.Count
	}
	ch <- prometheus.MustNewConstHistogram(descActivationSeconds, h.Count, h.Sum, buckets)
	gauge(descSweepRows, float64(sd.Sweep.Rows))
	gauge(descSweepSeconds, sd.Sweep.Seconds)
	gauge(descSeederPeers, float64(sd.Peers))
	counter(descSeederConns, float64(sd.ConnectionsTCP), "tcp")
	counter(descSeederConns, float64(sd.ConnectionsUTP), "utp")
	counter(descUploaded, float64(sd.UploadedBytes))
	counter(descHashedBytes, float64(sd.HashedBytes))
	counter(descHashSeconds, sd.HashSeconds)
	counter(descFetched, float64(sd.MirrorFetchedBytes))
	stateDirOK := 1.0
	if sd.StateDirError != "" {
		stateDirOK = 0
	}
	gauge(descStateDirOK, stateDirOK)

	gauge(descSwarms, float64(tr.Swarms))
	gauge(descPeers, float64(tr.Seeders), "seeder")
	gauge(descPeers, float64(tr.Leechers), "leecher")
	counter(descAnnounces, float64(tr.HTTPAnnounces), "http")
	counter(descAnnounces, float64(tr.UDPAnnounces), "udp")
	counter(descScrapes, float64(tr.HTTPScrapes), "http")
	counter(descScrapes, float64(tr.UDPScrapes), "udp")
	counter(descConnects, float64(tr.UDPConnects))
	counter(descTrackerErrors, float64(tr.HTTPErrors), "http")
	counter(descTrackerErrors, float64(tr.UDPErrors), "udp")
	counter(descRefused, float64(tr.Refused))
	counter(descCompletions, float64(tr.Completed))

	for _, n := range s.Nodes {
		up := 0.0
		if n.Up {
			up = 1
		}
		gauge(descNodeUp, up, n.Name)
		if !n.HeartbeatAt.IsZero() {
			gauge(descNodeAge, n.HeartbeatAgeSec, n.Name)
		}
	}

	ws := s.WebSeed
	counter(descWebSeedReqs, float64(ws.Served), "served")
	counter(descWebSeedReqs, float64(ws.StoodDown), "stood_down")
	counter(descWebSeedBytes, float64(ws.Bytes))
}

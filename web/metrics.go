package web

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports the daemon's figures at scrape time, from the same
// sources as the status page, so the two never disagree.
type collector struct{ a *Admin }

var (
	descRows          = prometheus.NewDesc("lanseedd_rows", "Catalog rows by state.", []string{"state"}, nil)
	descQueue         = prometheus.NewDesc("lanseedd_queue_length", "Rows waiting to be hashed (pending).", nil, nil)
	descLag           = prometheus.NewDesc("lanseedd_reconcile_lag_seconds", "How long the longest-waiting pending row has waited.", nil, nil)
	descCatalogUp     = prometheus.NewDesc("lanseedd_catalog_up", "1 if the catalog database answered the last scrape.", nil, nil)
	descHashedBytes   = prometheus.NewDesc("lanseedd_hashed_bytes_total", "Bytes hashed.", nil, nil)
	descHashSeconds   = prometheus.NewDesc("lanseedd_hash_seconds_total", "Time spent hashing.", nil, nil)
	descTorrents      = prometheus.NewDesc("lanseedd_seeded_torrents", "Torrents the client seeds.", nil, nil)
	descPeerConns     = prometheus.NewDesc("lanseedd_seeder_peers", "Peers connected to the seeder.", nil, nil)
	descUploaded      = prometheus.NewDesc("lanseedd_uploaded_bytes_total", "Bytes of content uploaded by the seeder.", nil, nil)
	descAnnounces     = prometheus.NewDesc("lanseedd_tracker_announces_total", "Announces answered, by protocol.", []string{"protocol"}, nil)
	descScrapes       = prometheus.NewDesc("lanseedd_tracker_scrapes_total", "Scrapes answered, by protocol.", []string{"protocol"}, nil)
	descTrackerErrors = prometheus.NewDesc("lanseedd_tracker_errors_total", "Requests answered with an error, by protocol.", []string{"protocol"}, nil)
	descRefused       = prometheus.NewDesc("lanseedd_tracker_refused_total", "Announces refused because a limit was hit.", nil, nil)
	descSwarms        = prometheus.NewDesc("lanseedd_tracker_swarms", "Swarms held by the tracker.", nil, nil)
	descPeers         = prometheus.NewDesc("lanseedd_tracker_peers", "Peers held by the tracker, by kind.", []string{"kind"}, nil)
	descWebSeedReqs   = prometheus.NewDesc("lanseedd_webseed_requests_total", "Web seed requests, by answer: served (content sent) or stood_down (refused while the seeder seeds).", []string{"answer"}, nil)
	descWebSeedBytes  = prometheus.NewDesc("lanseedd_webseed_bytes_total", "Bytes of content sent by the web seed.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRows, descQueue, descLag, descCatalogUp, descHashedBytes, descHashSeconds,
		descTorrents, descPeerConns, descUploaded, descAnnounces, descScrapes, descTrackerErrors, descRefused, descSwarms, descPeers,
		descWebSeedReqs, descWebSeedBytes} {
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
		gauge(descQueue, float64(s.Rows["pending"]))
		gauge(descLag, s.OldestPendingSeconds)
	}
	sd, tr := c.a.seeder.Stats(), c.a.tracker.Stats()
	counter(descHashedBytes, float64(sd.HashedBytes))
	counter(descHashSeconds, sd.HashSeconds)
	gauge(descTorrents, float64(sd.Torrents))
	gauge(descPeerConns, float64(sd.Peers))
	counter(descUploaded, float64(sd.UploadedBytes))
	counter(descAnnounces, float64(tr.HTTPAnnounces), "http")
	counter(descAnnounces, float64(tr.UDPAnnounces), "udp")
	counter(descScrapes, float64(tr.HTTPScrapes), "http")
	counter(descScrapes, float64(tr.UDPScrapes), "udp")
	counter(descTrackerErrors, float64(tr.HTTPErrors), "http")
	counter(descTrackerErrors, float64(tr.UDPErrors), "udp")
	counter(descRefused, float64(tr.Refused))
	gauge(descSwarms, float64(tr.Swarms))
	gauge(descPeers, float64(tr.Seeders), "seeder")
	gauge(descPeers, float64(tr.Leechers), "leecher")
	ws := c.a.webSeed.WebSeedStats()
	counter(descWebSeedReqs, float64(ws.Served), "served")
	counter(descWebSeedReqs, float64(ws.StoodDown), "stood_down")
	counter(descWebSeedBytes, float64(ws.Bytes))
}

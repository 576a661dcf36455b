package testenv

import (
	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent"
)

// LoopbackClient is the configuration of a test's own anacrolix client: its
// data in dir, listening on loopback over TCP only, and finding peers only
// through trackers (no DHT, PEX, uTP, IPv6, web torrent or port mapping).
func LoopbackClient(dir string) *torrent.ClientConfig {
	cfg := torrent.NewDefaultClientConfig()
	cfg.DataDir = dir
	cfg.ListenHost = func(string) string { return "127.0.0.1" }
	cfg.ListenPort = 0
	cfg.NoDHT = true
	cfg.DisablePEX = true
	cfg.DisableUTP = true
	cfg.DisableIPv6 = true
	cfg.DisableWebtorrent = true
	cfg.NoDefaultPortForwarding = true
	cfg.Logger = alog.Default.WithFilterLevel(alog.Critical)
	return cfg
}

//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// downloadTransmission runs transmission-cli: no NAT-PMP (-M), no DHT,
// local peer discovery or PEX, so that only our tracker and web seed
// introduce peers.
func downloadTransmission(ctx context.Context, j *job) error {
	conf := filepath.Join(j.work, "transmission")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return err
	}
	// uTP as installed (on): Transmission 3.00 dials uTP first and, to a
	// server without uTP, never falls back to TCP. On uTP it handles our
	// handshake but not the messages that came with it until more bytes
	// arrive, so the seeder answers its first message with a keep-alive
	// (TestTransmissionOverUTP).
	settings, _ := json.Marshal(map[string]any{
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
		"port-forwarding-enabled": false, "peer-port": j.port, "download-dir": j.dir,
		"message-level": 3,
	})
	if err := os.WriteFile(filepath.Join(conf, "settings.json"), settings, 0o644); err != nil {
		return err
	}
	return j.runUntilDone(ctx, j.command(ctx, "transmission-cli", "-M", "-g", conf, "-w", j.dir, "-p", strconv.Itoa(j.port), j.source()))
}

// downloadRTorrent runs rtorrent without a terminal (daemon mode), DHT and
// PEX off.
func downloadRTorrent(ctx context.Context, j *job) error {
	session := filepath.Join(j.work, "session")
	if err := os.MkdirAll(session, 0o755); err != nil {
		return err
	}
	port := strconv.Itoa(j.port)
	return j.runUntilDone(ctx, j.command(ctx, "rtorrent", "-n",
		"-o", "system.daemon.set=true",
		"-o", "directory.default.set="+j.dir,
		"-o", "session.path.set="+session,
		"-o", "network.port_range.set="+port+"-"+port,
		"-o", "network.port_random.set=no",
		"-o", "dht.mode.set=disable",
		"-o", "protocol.pex.set=no",
		"-o", "trackers.use_udp.set=yes",
		"-o", "load.start_verbose="+j.source()))
}

// downloadQBittorrent runs qbittorrent-nox on a fresh profile and hands it
// the download through its Web API.
func downloadQBittorrent(ctx context.Context, j *job) error {
	webPort := j.port + 1000
	confDir := filepath.Join(j.work, "qBittorrent", "config")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return err
	}
	conf := fmt.Sprintf(`[LegalNotice]
Accepted=true

[BitTorrent]
Session\DHTEnabled=false
Session\LSDEnabled=false
Session\PeXEnabled=false
Session\Port=%d
Session\DefaultSavePath=%s

[Preferences]
Connection\UPnP=false
WebUI\Address=127.0.0.1
WebUI\Port=%d
WebUI\LocalHostAuth=false
WebUI\HostHeaderValidation=false
WebUI\CSRFProtection=false
`, j.port, j.dir, webPort)
	if err := os.WriteFile(filepath.Join(confDir, "qBittorrent.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if j.host != nil {
		hc.Transport = &http.Transport{DialContext: j.host.DialContext}
	}
	api := "http://127.0.0.1:" + strconv.Itoa(webPort) + "/api/v2"
	cmd := j.command(ctx, "qbittorrent-nox", "--profile="+j.work, "--webui-port="+strconv.Itoa(webPort))
	return j.runUntilDoneThen(ctx, cmd, func(*syncBuffer) error {
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := hc.Get(api + "/app/version")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("qBittorrent Web API does not answer: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("savepath", j.dir)
		if j.torrent != "" {
			b, err := os.ReadFile(j.torrent)
			if err != nil {
				return err
			}
			fw, _ := mw.CreateFormFile("torrents", "x.torrent")
			fw.Write(b)
		} else {
			mw.WriteField("urls", j.source())
		}
		mw.Close()
		resp, err := hc.Post(api+"/torrents/add", mw.FormDataContentType(), &body)
		if err != nil {
			return fmt.Errorf("qBittorrent torrents/add: %w", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("Ok")) {
			return fmt.Errorf("qBittorrent torrents/add: %s %s", resp.Status, b)
		}
		return nil
	})
}

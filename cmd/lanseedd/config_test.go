package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lanseedd.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// parseRun loads the configuration of `lanseedd run ARGS`.
func parseRun(args ...string) (Config, error) {
	l := &loader{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configFlags(fs, l)
	daemonFlags(fs, l)
	if err := fs.Parse(longFlags(args)); err != nil {
		return Config{}, err
	}
	cfg, _, err := l.load()
	return cfg, err
}

func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, `
catalog:
  dsn: sqlite:/from/file.db
  poll_interval: 300ms
seeder:
  content_root: /srv/file
  peer_port: 1111
tracker:
  listen: ":7001"
  announce_interval: 5m
http:
  listen: ":8001"
  public_url: http://file.lan
  web_seeds: [http://a.lan/files, http://b.lan/files]
log:
  level: warn
`)
	t.Setenv("LANSEEDD_CONFIG", file)
	t.Setenv("LANSEEDD_PEER_PORT", "2222")
	t.Setenv("LANSEEDD_CONTENT", "/srv/env")
	t.Setenv("LANSEEDD_HTTP", ":8002")
	cfg, err := parseRun("-http", ":8003", "-webseed", "http://c.lan/x")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"file only: catalog.dsn", cfg.Catalog.DSN, "sqlite:/from/file.db"},
		{"file only: catalog.poll_interval", cfg.Catalog.PollInterval, 300 * time.Millisecond},
		{"file only: tracker.announce_interval", cfg.Tracker.AnnounceInterval, 5 * time.Minute},
		{"file only: tracker.listen", cfg.Tracker.Listen, ":7001"},
		{"file only: log.level", cfg.Log.Level, LogLevel(slog.LevelWarn)},
		{"env over file: peer port", cfg.Seeder.PeerPort, 2222},
		{"env over file: content", cfg.Seeder.ContentRoot, "/srv/env"},
		{"flag over env and file: http", cfg.HTTP.Listen, ":8003"},
		{"flag replaces the file's list", strings.Join(cfg.HTTP.WebSeeds, " "), "http://c.lan/x"},
		{"default: admin.listen", cfg.Admin.Listen, "127.0.0.1:8081"},
		{"file path", cfg.File, file},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestConfigDSNFile(t *testing.T) {
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	os.WriteFile(dsnFile, []byte("postgres://lanseedd:pw@db.lan/catalog\n"), 0o600)
	file := writeConfig(t, "catalog:\n  dsn_file: "+dsnFile+"\n")
	cfg, err := parseRun("-config", file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Catalog.DSN != "postgres://lanseedd:pw@db.lan/catalog" {
		t.Errorf("DSN = %q", cfg.Catalog.DSN)
	}
	if out := cfg.Redacted(); strings.Contains(out, ":pw@") || !strings.Contains(out, "lanseedd:xxxxx@db.lan") {
		t.Errorf("redacted config shows the password or no DSN:\n%s", out)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ yaml, key string }{
		{"catalog:\n  poll_interval: 1ms\n", "catalog.poll_interval"},
		{"catalog:\n  table: \"\"\n", "catalog.table"},
		{"catalog:\n  dsn: oracle://x\n", "catalog.dsn"},
		{"seeder:\n  peer_port: 70000\n", "seeder.peer_port"},
		{"seeder:\n  parallel: 0\n", "seeder.parallel"},
		{"tracker:\n  announce_interval: 0s\n", "tracker.announce_interval"},
		{"tracker:\n  max_numwant: 0\n", "tracker.max_numwant"},
		{"tracker:\n  listen: \"\"\n", "tracker.listen"},
		{"http:\n  listen: nowhere\n", "http.listen"},
		{"http:\n  public_url: fileserver.lan\n", "http.public_url"},
		{"http:\n  web_seeds: [ftp://x/y]\n", "http.web_seeds[0]"},
		{"http:\n  feed_items: 0\n", "http.feed_items"},
		{"http:\n  web_seed_mode: sometimes\n", "http.web_seed_mode"},
		{"admin:\n  listen: \"\"\n", "admin.listen"},
		{"admin:\n  allowed_hosts: [\"http://fs.lan/\"]\n", "admin.allowed_hosts[0]"},
		{"http:\n  read_timeout: 0s\n", "http.read_timeout"},
		{"http:\n  write_timeout: -1s\n", "http.write_timeout"},
		{"http:\n  idle_timeout: 2h\n", "http.idle_timeout"},
		{"http:\n  max_conns_per_ip: -1\n", "http.max_conns_per_ip"},
		{"tracker:\n  idle_timeout: 0s\n", "tracker.idle_timeout"},
		{"seeder:\n  peer_bind: lan0\n", "seeder.peer_bind"},
		{"log:\n  format: xml\n", "log.format"},
	} {
		file := writeConfig(t, c.yaml)
		cfg, err := parseRun("-config", file)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.key+":") {
			t.Errorf("%q: error %v does not start with %q", c.yaml, err, c.key+":")
		}
	}
	for _, bad := range []string{"catalog:\n  tabel: files\n", "seeder: [1, 2]\n", "log:\n  level: loud\n"} {
		if _, err := parseRun("-config", writeConfig(t, bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := parseRun("-config", "/nonexistent/lanseedd.yml"); err == nil {
		t.Error("a missing -config file is not an error")
	}
}

// TestPasswordNeverLogged starts the daemon on a catalog whose DSN carries a
// password and cannot be reached; neither the log nor the error shows it.
func TestPasswordNeverLogged(t *testing.T) {
	const secret = "Sup3rS3cretPW"
	for _, dsn := range []string{
		"postgres://lanseedd:" + secret + "@127.0.0.1:1/catalog?connect_timeout=2",
		"mysql://lanseedd:" + secret + "@127.0.0.1:1/catalog?timeout=2s",
		"lanseedd:" + secret + "@tcp(127.0.0.1:1)/catalog?timeout=2s",
	} {
		var logs bytes.Buffer
		cfg := DefaultConfig()
		cfg.Catalog.DSN = dsn
		cfg.Seeder.ContentRoot, cfg.Seeder.StateDir = t.TempDir(), t.TempDir()
		cfg.HTTP.Listen, cfg.Tracker.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		m := NewMain(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := m.Start(ctx)
		cancel()
		m.Close()
		if err == nil {
			t.Fatalf("%s: started on an unreachable catalog", dsn)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("password shown:\nerror: %v\nlogs:\n%s", err, logs.String())
		}
		if !strings.Contains(logs.String(), "xxxxx") {
			t.Errorf("the log does not show the redacted DSN:\n%s", logs.String())
		}
	}
}

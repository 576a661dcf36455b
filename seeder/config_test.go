package seeder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		key string
		set func(*Config)
	}{
		{"seeder.content_root", func(c *Config) { c.ContentRoot = "" }},
		{"seeder.peer_port", func(c *Config) { c.PeerPort = 70000 }},
		{"seeder.peer_bind", func(c *Config) { c.PeerBind = "lan0" }},
		{"seeder.piece_length", func(c *Config) { c.PieceLength = 300000 }},
		{"seeder.piece_length", func(c *Config) { c.PieceLength = 32 << 20 }},
		{"seeder.quiet_period", func(c *Config) { c.QuietPeriod = -time.Second }},
		{"seeder.rescan_interval", func(c *Config) { c.RescanInterval = time.Millisecond }},
		{"seeder.debounce", func(c *Config) { c.Debounce = time.Hour }},
		{"seeder.open_files", func(c *Config) { c.OpenFiles = 0 }},
		{"seeder.max_half_open_conns", func(c *Config) { c.MaxHalfOpenConns = 0 }},
		{"seeder.upload_rate", func(c *Config) { c.UploadRate = -1 }},
		{"seeder.download_rate", func(c *Config) { c.DownloadRate = -1 }},
		{"seeder.extra_announce", func(c *Config) { c.ExtraAnnounce = []string{"ftp://x/announce"} }},
	} {
		cfg := DefaultConfig()
		c.set(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.key+":") {
			t.Errorf("%s: Validate() = %v, want an error naming the key", c.key, err)
		}
	}
	cfg := DefaultConfig()
	cfg.PieceLength, cfg.RescanInterval, cfg.UploadRate = 1<<20, 0, 10<<20
	cfg.ExtraAnnounce = []string{"udp://tracker.lan:6969/announce"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid settings: %v", err)
	}
}

// TestConfigKeepsStateAndContentApart: lanseedd writes its state directory,
// so it may be neither inside the content root nor around it, also through
// a link and before it exists.
func TestConfigKeepsStateAndContentApart(t *testing.T) {
	base := t.TempDir()
	content := filepath.Join(base, "content")
	if err := os.Mkdir(content, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(content, filepath.Join(base, "alias")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		content, state, key string
	}{
		{content, filepath.Join(content, "lanseedd-data"), "seeder.state_dir"},
		{content, filepath.Join(base, "alias", "new", "state"), "seeder.state_dir"},
		{content, content, "seeder.state_dir"},
		{filepath.Join(base, "alias", "films"), base, "seeder.content_root"},
		{content, filepath.Join(base, "state"), ""},
		{content, filepath.Join(base, "content-state"), ""},
	} {
		cfg := DefaultConfig()
		cfg.ContentRoot, cfg.StateDir = c.content, c.state
		err := cfg.Validate()
		switch {
		case c.key == "" && err != nil:
			t.Errorf("content %s, state %s: %v", c.content, c.state, err)
		case c.key != "" && (err == nil || !strings.HasPrefix(err.Error(), c.key+":")):
			t.Errorf("content %s, state %s: %v, want an error naming %s", c.content, c.state, err, c.key)
		}
	}
}

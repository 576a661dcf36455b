package seeder

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"path/filepath"
	"time"

	"github.com/lanseedd/lanseedd/publish"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// Config holds the seeder's settings.
type Config struct {
	// ContentRoot is the directory catalog paths are relative to.
	ContentRoot string `yaml:"content_root"`
	// StateDir holds the .torrent files and the client's own state.
	StateDir string `yaml:"state_dir"`
	// PeerPort is the BitTorrent listen port (TCP); 0 picks a free one.
	PeerPort int `yaml:"peer_port"`
	// PeerBind is the address the peer port listens on: "" for every
	// address (IPv4 and IPv6), or one IP address, so that a multi-homed
	// server seeds on its LAN side only. An IPv4 address turns IPv6 off
	// for peers, and an IPv6 address IPv4.
	PeerBind string `yaml:"peer_bind"`
	// HashWorkers is how many goroutines hash; 0 means one per core.
	HashWorkers int `yaml:"hash_workers"`
	// Parallel is how many rows are hashed at once; 32 times as many may be
	// in flight, waiting on the disk or the catalog.
	Parallel int `yaml:"parallel"`
	// PieceLength is the piece length of new torrents: a power of two from
	// 16 KiB to 16 MiB, or 0 to choose one per torrent (see PieceLength).
	PieceLength int64 `yaml:"piece_length"`
	// QuietPeriod is how long a file's size and mtime must have stayed the
	// same before it is published, so that a file still being copied onto
	// the server is not hashed half-written. A file last modified longer
	// ago than that is published at once.
	QuietPeriod time.Duration `yaml:"quiet_period"`
	// RetryMissing is how often rows whose file was missing are looked at
	// again, besides the filesystem watch.
	RetryMissing time.Duration `yaml:"retry_missing"`
	// RescanInterval is how often every seeded file is stat'ed to catch what
	// the filesystem watch missed (NFS, event overflows, too few inotify
	// watches); 0 turns the rescan off.
	RescanInterval time.Duration `yaml:"rescan_interval"`
	// Debounce is how long filesystem events gather before the files they
	// name are looked at.
	Debounce time.Duration `yaml:"debounce"`
	// OpenFiles bounds the content files kept open for serving.
	OpenFiles int `yaml:"open_files"`
	// MaxConnsPerTorrent bounds established peer connections per torrent.
	MaxConnsPerTorrent int `yaml:"max_conns_per_torrent"`
	// MaxHalfOpenConns bounds outgoing connection attempts in progress.
	MaxHalfOpenConns int `yaml:"max_half_open_conns"`
	// UTP accepts and dials uTP (BEP 29) besides TCP on the peer port.
	// Transmission tries uTP first and, to a server without it, never
	// falls back to TCP.
	UTP bool `yaml:"utp"`
	// SuperSeed offers each peer a few pieces at a time, those the fewest
	// peers have (BEP 16 super-seeding), rather than every piece at once,
	// so that peers starting together are sent different pieces.
	SuperSeed bool `yaml:"super_seed"`
	// UploadRate and DownloadRate limit the client in bytes per second;
	// 0 means no limit. (lanseedd only seeds; downloads are protocol
	// chatter.)
	UploadRate   int64 `yaml:"upload_rate"`
	DownloadRate int64 `yaml:"download_rate"`
	// ExtraAnnounce are trackers announced to besides lanseedd's own. Only
	// loaded torrents announce there (see Load).
	ExtraAnnounce []string `yaml:"extra_announce"`
	// Load says when a ready row's torrent is loaded into the BitTorrent
	// client: "demand" (a peer asks for it: an announce to our tracker or
	// an incoming connection) or "eager" (all of them, all the time, as
	// other seeding clients do; memory grows with the catalog).
	Load LoadMode `yaml:"load"`
	// UnloadAfter is how long a loaded torrent stays loaded with no peer
	// connected and no announce for it (demand mode).
	UnloadAfter time.Duration `yaml:"unload_after"`
	// MaxLoaded caps the torrents loaded at once (demand mode); the least
	// recently used goes first.
	MaxLoaded int `yaml:"max_loaded"`
	// Publish are the publishing policies: validation, size limits,
	// expiry. They are the config file's publish: section, not seeder:'s.
	Publish publish.Config `yaml:"-"`
	// Node is this daemon's node name (node.name): the rows it records
	// are its, and it takes the rows other nodes found missing whose file
	// it has.
	Node string `yaml:"-"`
	// Mirror makes the content root a mirror root, filled from the swarm
	// with every ready row (node.mirror); fetches stop while its free
	// space would go below MirrorMinFree bytes (node.mirror_min_free).
	Mirror        bool  `yaml:"-"`
	MirrorMinFree int64 `yaml:"-"`
}

// LoadMode is when torrents are loaded into the client (Config.Load).
type LoadMode string

// Load modes.
const (
	LoadDemand LoadMode = "demand"
	LoadEager  LoadMode = "eager"
)

// DefaultConfig returns the seeder's defaults.
func DefaultConfig() Config {
	return Config{
		ContentRoot:        "content",
		StateDir:           "lanseedd-data",
		PeerPort:           6881,
		Parallel:           2,
		QuietPeriod:        2 * time.Second,
		RetryMissing:       30 * time.Second,
		RescanInterval:     10 * time.Minute,
		Debounce:           500 * time.Millisecond,
		OpenFiles:          512,
		MaxConnsPerTorrent: 100,
		MaxHalfOpenConns:   100,
		UTP:                true,
		SuperSeed:          true,
		Load:               LoadDemand,
		UnloadAfter:        10 * time.Minute,
		MaxLoaded:          2000,
		Publish:            publish.DefaultConfig(),
	}
}

// Validate reports the first invalid field, naming its key.
func (c Config) Validate() error {
	switch {
	case c.ContentRoot == "":
		return fmt.Errorf("seeder.content_root: must not be empty")
	case c.StateDir == "":
		return fmt.Errorf("seeder.state_dir: must not be empty")
	case c.PeerPort < 0 || c.PeerPort > 65535:
		return fmt.Errorf("seeder.peer_port: must be 0..65535, got %d", c.PeerPort)
	case c.PeerBind != "" && !validIP(c.PeerBind):
		return fmt.Errorf("seeder.peer_bind: want an IP address or empty (every address), got %q", c.PeerBind)
	case c.HashWorkers < 0:
		return fmt.Errorf("seeder.hash_workers: must be >= 0, got %d", c.HashWorkers)
	case c.Parallel < 1:
		return fmt.Errorf("seeder.parallel: must be >= 1, got %d", c.Parallel)
	case c.PieceLength != 0 && !torrentfile.ValidPieceLength(c.PieceLength):
		return fmt.Errorf("seeder.piece_length: must be 0 (automatic) or a power of two from 16 KiB to 16 MiB, got %d", c.PieceLength)
	case c.QuietPeriod < 0 || c.QuietPeriod > time.Hour:
		return fmt.Errorf("seeder.quiet_period: must be 0..1h, got %s", c.QuietPeriod)
	case c.RetryMissing < time.Second:
		return fmt.Errorf("seeder.retry_missing: must be >= 1s, got %s", c.RetryMissing)
	case c.RescanInterval != 0 && c.RescanInterval < time.Second:
		return fmt.Errorf("seeder.rescan_interval: must be 0 (off) or >= 1s, got %s", c.RescanInterval)
	case c.Debounce < 0 || c.Debounce > time.Minute:
		return fmt.Errorf("seeder.debounce: must be 0..1m, got %s", c.Debounce)
	case c.OpenFiles < 1:
		return fmt.Errorf("seeder.open_files: must be >= 1, got %d", c.OpenFiles)
	case c.MaxConnsPerTorrent < 1:
		return fmt.Errorf("seeder.max_conns_per_torrent: must be >= 1, got %d", c.MaxConnsPerTorrent)
	case c.MaxHalfOpenConns < 1:
		return fmt.Errorf("seeder.max_half_open_conns: must be >= 1, got %d", c.MaxHalfOpenConns)
	case c.UploadRate < 0:
		return fmt.Errorf("seeder.upload_rate: must be >= 0 bytes/s (0: no limit), got %d", c.UploadRate)
	case c.DownloadRate < 0:
		return fmt.Errorf("seeder.download_rate: must be >= 0 bytes/s (0: no limit), got %d", c.DownloadRate)
	case c.Load != LoadDemand && c.Load != LoadEager:
		return fmt.Errorf("seeder.load: want %s or %s, got %q", LoadDemand, LoadEager, c.Load)
	case c.UnloadAfter < time.Second:
		return fmt.Errorf("seeder.unload_after: must be >= 1s, got %s", c.UnloadAfter)
	case c.MaxLoaded < 1:
		return fmt.Errorf("seeder.max_loaded: must be >= 1, got %d", c.MaxLoaded)
	}
	if err := c.CheckApart(); err != nil {
		return err
	}
	for _, a := range c.ExtraAnnounce {
		if u, err := url.Parse(a); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "udp") {
			return fmt.Errorf("seeder.extra_announce: want http://, https:// or udp:// tracker URLs, got %q", a)
		}
	}
	return c.Publish.Validate()
}

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// CheckOutside refuses a file lanseedd writes, named by its config key,
// inside the content root: lanseedd must never write to content.
func (c Config) CheckOutside(key, path string) error {
	content, err := realPath(c.ContentRoot)
	if err != nil {
		return fmt.Errorf("seeder.content_root: %w", err)
	}
	p, err := realPath(path)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if torrentfile.Within(content, p) {
		return fmt.Errorf("%s: %s is inside seeder.content_root %s; lanseedd writes there and must never write to content: keep them apart", key, path, c.ContentRoot)
	}
	return nil
}

// CheckApart refuses a state directory inside the content root, and a
// content root inside the state directory: lanseedd writes its state and
// must never write to content, nor publish its own files.
func (c Config) CheckApart() error {
	content, err := realPath(c.ContentRoot)
	if err != nil {
		return fmt.Errorf("seeder.content_root: %w", err)
	}
	state, err := realPath(c.StateDir)
	if err != nil {
		return fmt.Errorf("seeder.state_dir: %w", err)
	}
	switch {
	case torrentfile.Within(content, state):
		return fmt.Errorf("seeder.state_dir: %s is inside seeder.content_root %s; lanseedd writes there and must never write to content: keep them apart", c.StateDir, c.ContentRoot)
	case torrentfile.Within(state, content):
		return fmt.Errorf("seeder.content_root: %s is inside seeder.state_dir %s: keep them apart", c.ContentRoot, c.StateDir)
	}
	return nil
}

// realPath is path made absolute with its links resolved, as far as it
// exists: the state directory may not have been made yet.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rest := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || dir == filepath.Dir(dir) {
			return abs, nil // judged by name: lanseedd says what fails when it opens it
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

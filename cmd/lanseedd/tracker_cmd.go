package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/lanseedd/lanseedd/tracker"
)

// runTracker runs the tracker alone, as a replacement for opentracker:
// `lanseedd tracker -listen :6969` serves HTTP and UDP on one port until ctx
// is done.
func runTracker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := tracker.DefaultConfig()
	listen := fs.String("listen", ":6969", "address for HTTP and UDP (same port)")
	udpSockets := fs.Int("udp-sockets", runtime.GOMAXPROCS(0), "UDP sockets (SO_REUSEPORT), one reader each")
	allowFile := fs.String("allow", "", "file of hex infohashes, one a line: accept only these (catalog-only mode)")
	trusted := fs.String("trusted-proxies", "", "comma-separated networks whose X-Forwarded-For is believed")
	verbose := fs.Bool("v", false, "log at debug level")
	gcPercent := fs.Int("gogc", 25, "garbage collector target percentage, unless the GOGC variable is set")
	fs.DurationVar(&cfg.AnnounceInterval, "announce-interval", cfg.AnnounceInterval, "announce interval sent to clients")
	fs.DurationVar(&cfg.MinInterval, "min-interval", cfg.MinInterval, "min interval sent to clients")
	fs.DurationVar(&cfg.PeerTimeout, "peer-timeout", cfg.PeerTimeout, "drop peers silent this long (0: twice the announce interval)")
	fs.IntVar(&cfg.DefaultNumWant, "default-numwant", cfg.DefaultNumWant, "peers returned when the client does not say")
	fs.IntVar(&cfg.MaxNumWant, "max-numwant", cfg.MaxNumWant, "most peers returned in one reply")
	fs.IntVar(&cfg.MaxSwarms, "max-swarms", cfg.MaxSwarms, "most swarms held; new ones are refused beyond it")
	fs.IntVar(&cfg.MaxPeersPerSwarm, "max-peers-per-swarm", cfg.MaxPeersPerSwarm, "most peers stored in one swarm")
	fs.IntVar(&cfg.MaxPeers, "max-peers", cfg.MaxPeers, "most peers stored in all swarms")
	fs.IntVar(&cfg.MaxScrapeHashes, "max-scrape-hashes", cfg.MaxScrapeHashes, "most infohashes in one HTTP scrape")
	fs.BoolVar(&cfg.AllowIPParam, "allow-ip-param", cfg.AllowIPParam, "honour the announce's ip= parameter")
	fs.DurationVar(&cfg.RetryIn, "retry-in", cfg.RetryIn, "BEP 31 retry in, sent when a limit is hit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("tracker: unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(*trusted, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("tracker: -trusted-proxies: %w", err)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	var allowed [][20]byte
	if *allowFile != "" {
		var err error
		if allowed, err = readHashes(*allowFile); err != nil {
			return err
		}
		cfg.CatalogOnly = true
	}
	if os.Getenv("GOGC") == "" {
		// Nearly all of the tracker's memory is long-lived swarm state and
		// its request paths make no garbage, so collecting early costs
		// little CPU and keeps the heap close to the peers it holds.
		debug.SetGCPercent(*gcPercent)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	tr, err := tracker.New(cfg, logger)
	if err != nil {
		return err
	}
	if cfg.CatalogOnly {
		tr.SetAllowed(allowed)
	}
	fmt.Fprintf(stdout, "tracker listening on %s (http and udp)\n", *listen)
	return tr.ListenAndServe(ctx, *listen, *udpSockets)
}

// readHashes reads hex infohashes, one a line; blank lines and lines
// starting with # are skipped.
func readHashes(path string) ([][20]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tracker: read allow-list: %w", err)
	}
	defer f.Close()
	var hashes [][20]byte
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		var h [20]byte
		if len(s) != 40 {
			return nil, fmt.Errorf("tracker: %s:%d: want 40 hex digits, got %q", path, line, s)
		}
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return nil, fmt.Errorf("tracker: %s:%d: %w", path, line, err)
		}
		hashes = append(hashes, h)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tracker: read allow-list: %w", err)
	}
	return hashes, nil
}

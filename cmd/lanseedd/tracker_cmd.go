package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/lanseedd/lanseedd/tracker"
	"github.com/spf13/cobra"
)

// trackerCommand runs the tracker alone, as a replacement for opentracker:
// `lanseedd tracker -listen :6969` serves HTTP and UDP on one port until
// stopped. It reads the tracker: and log: sections of the configuration.
func trackerCommand() *cobra.Command {
	l := &loader{}
	var (
		udpSockets int
		allowFile  string
		verbose    bool
		gcPercent  int
	)
	cmd := &cobra.Command{
		Use:   "tracker [flags]",
		Short: "run the tracker alone (an opentracker replacement)",
		Long: `Run the tracker alone, HTTP and UDP on one port, with the tracker: and log:
sections of the configuration (file, environment, flags).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, l)
			if err != nil {
				return err
			}
			if verbose {
				cfg.Log.Level = LogLevel(slog.LevelDebug)
			}
			var allowed [][20]byte
			if allowFile != "" {
				if allowed, err = readHashes(allowFile); err != nil {
					return err
				}
				cfg.Tracker.CatalogOnly = true
			}
			if err := cfg.Tracker.Validate(); err != nil {
				return configError{err}
			}
			if cfg.Tracker.Listen == "" {
				return configError{fmt.Errorf("tracker.listen: want HOST:PORT or :PORT, got %q", cfg.Tracker.Listen)}
			}
			if os.Getenv("GOGC") == "" {
				// Nearly all of the tracker's memory is long-lived swarm
				// state and its request paths make no garbage, so
				// collecting early costs little CPU and keeps the heap
				// close to the peers it holds.
				debug.SetGCPercent(gcPercent)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: cfg.Log.Level.Level()}))
			tr, err := tracker.New(cfg.Tracker.Config, logger)
			if err != nil {
				return err
			}
			if cfg.Tracker.CatalogOnly {
				tr.SetAllowed(allowed)
			}
			ln, err := tracker.Listen(cmd.Context(), cfg.Tracker.Listen, udpSockets)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tracker listening on %s (http and udp)\n", ln.Addr())
			return tr.Serve(cmd.Context(), ln.TCP, ln.UDP)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&l.file, "config", "", "config file (default $"+envConfig+", else "+DefaultConfigFile+" if it exists)")
	for _, f := range []struct{ flag, key, usage string }{
		{"listen", "tracker.listen", "address for HTTP and UDP (same port)"},
		{"announce-interval", "tracker.announce_interval", "announce interval sent to clients"},
		{"min-interval", "tracker.min_interval", "min interval sent to clients"},
		{"peer-timeout", "tracker.peer_timeout", "drop peers silent this long (0: twice the announce interval)"},
		{"default-numwant", "tracker.default_numwant", "peers returned when the client does not say"},
		{"max-numwant", "tracker.max_numwant", "most peers returned in one reply"},
		{"max-swarms", "tracker.max_swarms", "most swarms held; new ones are refused beyond it"},
		{"max-peers-per-swarm", "tracker.max_peers_per_swarm", "most peers stored in one swarm"},
		{"max-peers", "tracker.max_peers", "most peers stored in all swarms"},
		{"max-scrape-hashes", "tracker.max_scrape_hashes", "most infohashes in one HTTP scrape"},
		{"allow-ip-param", "tracker.allow_ip_param", "honour the announce's ip= parameter"},
		{"retry-in", "tracker.retry_in", "BEP 31 retry in, sent when a limit is hit"},
		{"trusted-proxies", "tracker.trusted_proxies", "comma-separated networks whose X-Forwarded-For is believed"},
		{"log-level", "log.level", "log level: debug, info, warn, error"},
	} {
		l.bind(fs, f.flag, f.key, f.usage)
	}
	fs.IntVar(&udpSockets, "udp-sockets", runtime.GOMAXPROCS(0), "UDP sockets (SO_REUSEPORT), one reader each")
	fs.StringVar(&allowFile, "allow", "", "file of hex infohashes, one a line: accept only these (catalog-only mode)")
	fs.BoolVarP(&verbose, "verbose", "v", false, "log at debug level")
	fs.IntVar(&gcPercent, "gogc", 25, "garbage collector target percentage, unless the GOGC variable is set")
	return cmd
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

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"text/tabwriter"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/web"
)

// runCheckConfig validates the effective configuration (file, environment,
// flags) and prints it with the DSN's password hidden.
func runCheckConfig(args []string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseConfig("check-config", args, stderr, daemonFlags)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("check-config: unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.File != "" {
		fmt.Fprintf(stdout, "# read from %s, the environment and flags\n", cfg.File)
	} else {
		fmt.Fprintln(stdout, "# no config file; defaults, the environment and flags")
	}
	fmt.Fprint(stdout, cfg.Redacted())
	return nil
}

// runStatus prints the catalog's counts by state, the last rows in error
// and, if the daemon answers on its admin address, its live figures.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseConfig("status", args, stderr, func(fs *flag.FlagSet, cfg *Config) {
		fs.StringVar(&cfg.Admin.Listen, "admin", cfg.Admin.Listen, "the daemon's admin address")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("status: unexpected argument %q", fs.Arg(0))
	}
	st, err := openMigrated(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	counts, err := st.Counts(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "catalog %s (table %s)\n", store.RedactDSN(cfg.Catalog.DSN), cfg.Catalog.Table)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range []lanseedd.State{lanseedd.StateReady, lanseedd.StatePending, lanseedd.StateMissing, lanseedd.StateError} {
		fmt.Fprintf(tw, "  %s\t%d\n", s, counts[s])
	}
	tw.Flush()
	bad, total, err := st.Page(ctx, store.Query{States: []lanseedd.State{lanseedd.StateError, lanseedd.StateMissing}, Newest: true, Limit: 10})
	if err != nil {
		return err
	}
	if total > 0 {
		fmt.Fprintf(stdout, "\nlast rows needing attention (%d in all):\n", total)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, r := range bad {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", r.FileID, r.State, r.Path, r.Error)
		}
		tw.Flush()
	}

	live, err := fetchStats(ctx, cfg.Admin.Listen)
	if err != nil {
		fmt.Fprintf(stdout, "\ndaemon: not answering on %s (%v)\n", cfg.Admin.Listen, err)
		return nil
	}
	fmt.Fprintf(stdout, "\ndaemon %s, up %s\n", live.Version, (time.Duration(live.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(stdout, "  seeding %d torrents to %d peers, %s uploaded\n",
		live.Seeder.Torrents, live.Seeder.Peers, web.FormatBytes(live.Seeder.UploadedBytes))
	fmt.Fprintf(stdout, "  tracker: %d swarms, %d seeders, %d leechers; announces http %d, udp %d; refused %d\n",
		live.Tracker.Swarms, live.Tracker.Seeders, live.Tracker.Leechers,
		live.Tracker.HTTPAnnounces, live.Tracker.UDPAnnounces, live.Tracker.Refused)
	return nil
}

// fetchStats reads /api/stats from a running daemon's admin listener.
func fetchStats(ctx context.Context, addr string) (web.Stats, error) {
	var s web.Stats
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return s, err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/api/stats", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/api/stats: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// versionString is the version, and the commit it was built from when known.
func versionString() string {
	v := Version
	if info, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if rev != "" {
			v += " (commit " + rev[:min(len(rev), 12)] + dirty + ")"
		}
		v += " " + info.GoVersion
	}
	return v
}

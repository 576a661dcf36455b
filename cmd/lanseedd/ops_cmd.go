package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/web"
	"github.com/spf13/cobra"
)

// checkConfigCommand validates the effective configuration (file,
// environment, flags) and prints it with the DSN's password hidden.
func checkConfigCommand() *cobra.Command {
	l := &loader{}
	cmd := &cobra.Command{
		Use:   "check-config",
		Short: "validate and print the effective configuration",
		Long: `Read the configuration as 'lanseedd run' would (the config file, then the
environment, then flags), validate it, and print it as a config file with the
catalog password hidden. Exits 78 if it is invalid.

Every key and the environment variable that sets it:

` + keyTable(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := validConfig(cmd, l)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cfg.File != "" {
				fmt.Fprintf(out, "# read from %s, the environment and flags\n", cfg.File)
			} else {
				fmt.Fprintln(out, "# no config file; defaults, the environment and flags")
			}
			fmt.Fprint(out, cfg.Redacted())
			return nil
		},
	}
	configFlags(cmd.Flags(), l)
	daemonFlags(cmd.Flags(), l)
	return cmd
}

// keyTable lists every config key beside its environment variable.
func keyTable() string {
	def := DefaultConfig()
	var b strings.Builder
	for _, s := range settingsOf(&def) {
		fmt.Fprintf(&b, "    %-30s %s\n", s.key, envForKey(s.key))
	}
	return b.String()
}

// statusCommand prints the catalog's counts by state, the last rows in
// error and, if the daemon answers on its admin address, its live figures.
func statusCommand() *cobra.Command {
	l := &loader{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "counts by state, rows in error, the running daemon's figures",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, l)
			if err != nil {
				return err
			}
			if err := cfg.validateCatalog(); err != nil {
				return configError{err}
			}
			st, err := openStore(cmd.Context(), cfg, slog.New(slog.DiscardHandler), false)
			if err != nil {
				return err
			}
			defer st.Close()
			s, err := readStatus(cmd.Context(), cfg, st)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONTo(cmd.OutOrStdout(), s)
			}
			s.print(cmd.OutOrStdout())
			return nil
		},
	}
	configFlags(cmd.Flags(), l)
	l.bind(cmd.Flags(), "admin", "admin.listen", "the daemon's admin address")
	runFlagsToo(cmd.Flags(), l)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// status is what `lanseedd status` prints, and its JSON.
type status struct {
	Catalog string                   `json:"catalog"`
	Table   string                   `json:"table"`
	Rows    map[lanseedd.State]int64 `json:"rows"`
	// Attention are the newest rows in error or missing, of
	// AttentionTotal.
	Attention      []attentionRow `json:"attention"`
	AttentionTotal int64          `json:"attention_total"`
	// Nodes are the daemons sharing the catalog, as lanseedd_nodes says;
	// Conflicts the newest of their copies that are not their row's, of
	// ConflictsTotal.
	Nodes          []lanseedd.Node `json:"nodes"`
	Conflicts      []lanseedd.Copy `json:"conflicts"`
	ConflictsTotal int64           `json:"conflicts_total"`
	// Daemon is the running daemon's /api/stats, null if it does not
	// answer (DaemonError says why).
	Daemon      *web.Stats `json:"daemon"`
	DaemonError string     `json:"daemon_error,omitempty"`
}

type attentionRow struct {
	ID    int64  `json:"id"`
	State string `json:"state"`
	Path  string `json:"path"`
	Error string `json:"error,omitempty"`
}

func readStatus(ctx context.Context, cfg Config, st *store.Store) (status, error) {
	s := status{Catalog: store.RedactDSN(cfg.Catalog.DSN), Table: cfg.Catalog.Table, Attention: []attentionRow{}}
	var err error
	if s.Rows, err = st.Counts(ctx); err != nil {
		return s, err
	}
	for _, state := range []lanseedd.State{lanseedd.StateReady, lanseedd.StatePending, lanseedd.StateMissing, lanseedd.StateError, lanseedd.StateExpired} {
		s.Rows[state] += 0 // every state is listed, zero or not
	}
	bad, err := st.Page(ctx, store.Query{States: []lanseedd.State{lanseedd.StateError, lanseedd.StateMissing}, Newest: true, Limit: 10})
	if err != nil {
		return s, err
	}
	s.AttentionTotal = s.Rows[lanseedd.StateError] + s.Rows[lanseedd.StateMissing]
	for _, r := range bad {
		s.Attention = append(s.Attention, attentionRow{ID: r.FileID, State: string(r.State), Path: r.Path, Error: r.Error})
	}
	if s.Nodes, err = st.Nodes(ctx, cfg.Node.Timeout); err != nil {
		return s, err
	}
	if s.Nodes == nil {
		s.Nodes = []lanseedd.Node{}
	}
	if s.Conflicts, s.ConflictsTotal, err = st.Conflicts(ctx, 10); err != nil {
		return s, err
	}
	if s.Conflicts == nil {
		s.Conflicts = []lanseedd.Copy{}
	}
	live, err := fetchStats(ctx, cfg.Admin.Listen)
	if err != nil {
		s.DaemonError = fmt.Sprintf("not answering on %s (%v)", cfg.Admin.Listen, err)
	} else {
		s.Daemon = &live
	}
	return s, nil
}

func (s status) print(w io.Writer) {
	fmt.Fprintf(w, "catalog %s (table %s)\n", s.Catalog, s.Table)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, state := range []lanseedd.State{lanseedd.StateReady, lanseedd.StatePending, lanseedd.StateMissing, lanseedd.StateError, lanseedd.StateExpired} {
		fmt.Fprintf(tw, "  %s\t%d\n", state, s.Rows[state])
	}
	tw.Flush()
	if s.AttentionTotal > 0 {
		fmt.Fprintf(w, "\nlast rows needing attention (%d in all):\n", s.AttentionTotal)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, r := range s.Attention {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", r.ID, r.State, r.Path, r.Error)
		}
		tw.Flush()
	}
	if len(s.Nodes) > 0 {
		fmt.Fprintf(w, "\nnodes:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, n := range s.Nodes {
			state, beat := "down", "stopped"
			if n.Up {
				state = "up"
			}
			if !n.HeartbeatAt.IsZero() {
				beat = "heartbeat " + (time.Duration(n.HeartbeatAgeSec) * time.Second).String() + " ago"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", n.Name, state, strings.Join(n.Trackers, " "), n.Version, beat)
		}
		tw.Flush()
	}
	if s.ConflictsTotal > 0 {
		fmt.Fprintf(w, "\ncopies that differ from their row (%d in all; those nodes do not seed them):\n", s.ConflictsTotal)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range s.Conflicts {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", c.FileID, c.Path, c.Node, c.State, c.Error)
		}
		tw.Flush()
	}
	live := s.Daemon
	if live == nil {
		fmt.Fprintf(w, "\ndaemon: %s\n", s.DaemonError)
		return
	}
	fmt.Fprintf(w, "\ndaemon %s, up %s\n", live.Version, (time.Duration(live.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(w, "  seeding %d torrents to %d peers, %s uploaded\n",
		live.Seeder.Torrents, live.Seeder.Peers, web.FormatBytes(live.Seeder.UploadedBytes))
	fmt.Fprintf(w, "  tracker: %d swarms, %d seeders, %d leechers; announces http %d, udp %d; refused %d\n",
		live.Tracker.Swarms, live.Tracker.Seeders, live.Tracker.Leechers,
		live.Tracker.HTTPAnnounces, live.Tracker.UDPAnnounces, live.Tracker.Refused)
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

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"

	"github.com/lanseedd/lanseedd/store"
)

// runFiles edits and lists the catalog: `lanseedd files add|rm|ls`.
func runFiles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("files", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lanseedd files add|rm|ls [flags] [PATH…|ID…]")
		fs.PrintDefaults()
	}
	fillDSN := catalogFlags(fs, &cfg)
	verb, args := verbFirst(args)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fillDSN()
	rest := fs.Args()
	if verb == "" && len(rest) > 0 {
		verb, rest = rest[0], rest[1:]
	}
	if verb == "" {
		fs.Usage()
		return flag.ErrHelp
	}
	st, err := openMigrated(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer st.Close()

	switch verb {
	case "add":
		if len(rest) == 0 {
			return fmt.Errorf("files add: give one or more paths")
		}
		ids, err := st.AddFiles(ctx, rest)
		if err != nil {
			return err
		}
		for i, id := range ids {
			fmt.Fprintf(stdout, "%d\t%s\n", id, rest[i])
		}
	case "rm":
		if len(rest) == 0 {
			return fmt.Errorf("files rm: give one or more ids")
		}
		ids := make([]int64, len(rest))
		for i, a := range rest {
			if ids[i], err = strconv.ParseInt(a, 10, 64); err != nil {
				return fmt.Errorf("files rm: %q is not an id", a)
			}
		}
		n, err := st.RemoveFiles(ctx, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %d of %d\n", n, len(ids))
	case "ls":
		files, err := st.ListFiles(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tINFOHASH\tPATH\tERROR")
		for _, f := range files {
			state := string(f.State)
			if state == "" {
				state = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", f.ID, state, f.InfoHash, f.Path, f.Error)
		}
		return tw.Flush()
	default:
		fs.Usage()
		return fmt.Errorf("files: unknown verb %q", verb)
	}
	return nil
}

// openMigrated opens the catalog; the embedded SQLite catalog is migrated
// on the way, others must have been migrated by 'lanseedd migrate'.
func openMigrated(ctx context.Context, cfg Config, logger *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.Catalog.Config, logger)
	if err != nil {
		return nil, err
	}
	if st.Dialect() == "sqlite" {
		err = st.Migrate(ctx)
	} else {
		err = st.CheckMigrated(ctx)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/seeder"
	"github.com/lanseedd/lanseedd/web"
)

// runVerify re-hashes ready rows on demand and sends those whose content
// no longer matches their .torrent back to pending: `lanseedd verify [ID…]`.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fillDSN := catalogFlags(fs, &cfg)
	workers := fs.Int("workers", 0, "hashing goroutines (default one per core)")
	dryRun := fs.Bool("n", false, "report only; leave the rows as they are")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lanseedd verify [flags] [ID…]   (no ID: every ready row)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	fillDSN()
	root, err := seeder.CleanRoot(cfg.Seeder.ContentRoot)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	st, err := openMigrated(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer st.Close()

	var rows []lanseedd.Row
	if fs.NArg() == 0 {
		if rows, err = st.Rows(ctx, lanseedd.StateReady); err != nil {
			return err
		}
	}
	for _, a := range fs.Args() {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return fmt.Errorf("verify: %q is not an id", a)
		}
		row, err := st.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		rows = append(rows, row)
	}

	start := time.Now()
	var hashed int64
	changed := 0
	for _, row := range rows {
		if row.State != lanseedd.StateReady {
			fmt.Fprintf(stdout, "%d\tskipped (%s)\t%s\n", row.FileID, row.State, row.Path)
			continue
		}
		n, err := seeder.Verify(ctx, root, seeder.TorrentPath(cfg.Seeder.StateDir, row.FileID), row, *workers)
		hashed += n
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			fmt.Fprintf(stdout, "%d\tok\t%s\n", row.FileID, row.Path)
			continue
		case !errors.Is(err, seeder.ErrMismatch) && !errors.Is(err, seeder.ErrMissing) && !errors.Is(err, seeder.ErrBadPath):
			return fmt.Errorf("verify row %d: %w", row.FileID, err)
		}
		changed++
		fmt.Fprintf(stdout, "%d\tCHANGED\t%s\t%v\n", row.FileID, row.Path, err)
		if !*dryRun {
			if err := st.Requeue(ctx, row.FileID, "lanseedd verify: "+err.Error()); err != nil {
				return err
			}
		}
	}
	d := time.Since(start)
	fmt.Fprintf(stderr, "verified %d rows, %s in %s\n", len(rows), web.FormatBytes(hashed), d.Round(time.Millisecond))
	if changed > 0 {
		if *dryRun {
			return fmt.Errorf("verify: %d rows changed", changed)
		}
		return fmt.Errorf("verify: %d rows changed; they are pending again", changed)
	}
	return nil
}

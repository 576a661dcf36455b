package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"

	"github.com/lanseedd/lanseedd/store"
	"github.com/spf13/cobra"
)

// filesCommand edits and lists the catalog: `lanseedd files add|rm|ls`.
func filesCommand() *cobra.Command {
	l := &loader{}
	files := &cobra.Command{
		Use:   "files add|rm|ls",
		Short: "add, remove and list catalog rows",
		Long: `Edit and list the catalog table, as the catalog site does. Rows added here
are picked up by the daemon like rows the site adds.`,
		Args: cobra.ArbitraryArgs,
		RunE: verbs,
	}
	configFlags(files.PersistentFlags(), l)
	runFlagsToo(files.PersistentFlags(), l)

	add := &cobra.Command{
		Use:   "add [flags] PATH…",
		Short: "add catalog rows (paths relative to the content root); prints their ids",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, paths []string) error {
			st, err := openCatalog(cmd, l, true)
			if err != nil {
				return err
			}
			defer st.Close()
			ids, err := st.AddFiles(cmd.Context(), paths)
			if err != nil {
				return err
			}
			for i, id := range ids {
				fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\n", id, paths[i])
			}
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm [flags] ID…",
		Short: "delete catalog rows",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := make([]int64, len(args))
			for i, a := range args {
				var err error
				if ids[i], err = strconv.ParseInt(a, 10, 64); err != nil {
					return usageError{fmt.Errorf("files rm: %q is not an id", a)}
				}
			}
			st, err := openCatalog(cmd, l, false)
			if err != nil {
				return err
			}
			defer st.Close()
			n, err := st.RemoveFiles(cmd.Context(), ids)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d of %d\n", n, len(ids))
			return nil
		},
	}
	var asJSON bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "list catalog rows with their torrent state",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openCatalog(cmd, l, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if asJSON {
				return writeFilesJSON(cmd.Context(), cmd.OutOrStdout(), st)
			}
			return writeFilesTable(cmd.Context(), cmd.OutOrStdout(), st)
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print a JSON array, one object per row")
	files.AddCommand(add, rm, ls)
	return files
}

// catalogFile is a row of `files ls -json`.
type catalogFile struct {
	ID   int64  `json:"id"`
	Path string `json:"path"`
	// State is null for a row the daemon has not seen yet.
	State    *string `json:"state"`
	InfoHash string  `json:"infohash,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// tableBlock is how many rows of `files ls` are aligned together: the
// table is written as the catalog is read, a block at a time, so a catalog
// of a million rows lists in the memory of a block.
const tableBlock = 1000

// writeFilesTable writes the catalog as an aligned table, as it is read.
func writeFilesTable(ctx context.Context, w io.Writer, st *store.Store) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tINFOHASH\tPATH\tERROR")
	n := 0
	err := st.EachFile(ctx, func(f store.CatalogFile) error {
		state := string(f.State)
		if state == "" {
			state = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", f.ID, state, f.InfoHash, f.Path, f.Error)
		if n++; n%tableBlock == 0 {
			return tw.Flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

// writeFilesJSON writes the catalog as an indented JSON array, one object
// per row, as it is read.
func writeFilesJSON(ctx context.Context, w io.Writer, st *store.Store) error {
	bw := bufio.NewWriter(w)
	var obj bytes.Buffer
	enc := json.NewEncoder(&obj)
	enc.SetIndent("  ", "  ")
	enc.SetEscapeHTML(false)
	sep := "[\n  "
	err := st.EachFile(ctx, func(f store.CatalogFile) error {
		c := catalogFile{ID: f.ID, Path: f.Path, InfoHash: f.InfoHash, Error: f.Error}
		if f.State != "" {
			s := string(f.State)
			c.State = &s
		}
		obj.Reset()
		if err := enc.Encode(c); err != nil {
			return err
		}
		bw.WriteString(sep)
		sep = ",\n  "
		_, err := bw.Write(bytes.TrimSuffix(obj.Bytes(), []byte("\n")))
		return err
	})
	if err != nil {
		return err
	}
	if sep == "[\n  " {
		bw.WriteString("[]\n") // no rows
	} else {
		bw.WriteString("\n]\n")
	}
	return bw.Flush()
}

// writeJSONTo writes v as indented JSON, with & < > as they are (magnets).
func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// openCatalog loads the command's configuration and opens its catalog.
// Only commands that write may create the embedded SQLite catalog (and
// migrate it); the others say that it does not exist and create nothing.
// A server catalog must have been migrated with 'lanseedd migrate'.
func openCatalog(cmd *cobra.Command, l *loader, create bool) (*store.Store, error) {
	cfg, err := loadConfig(cmd, l)
	if err != nil {
		return nil, err
	}
	if err := cfg.validateCatalog(); err != nil {
		return nil, configError{err}
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return openStore(cmd.Context(), cfg, logger, create)
}

func openStore(ctx context.Context, cfg Config, logger *slog.Logger, create bool) (*store.Store, error) {
	open := store.OpenExisting
	if create {
		open = store.Open
	}
	st, err := open(ctx, cfg.storeConfig(), logger)
	if errors.Is(err, store.ErrNoCatalog) {
		return nil, fmt.Errorf("%w (no daemon has run with this catalog yet; check -catalog, -state or the config file%s)", err, configFileNote(cfg))
	}
	if err != nil {
		return nil, err
	}
	if st.Dialect() == "sqlite" && create {
		// The embedded catalog keeps itself migrated.
		err = st.Migrate(ctx)
	} else {
		err = st.CheckMigrated(ctx)
		if errors.Is(err, store.ErrNotMigrated) {
			err = fmt.Errorf("%w; run 'lanseedd migrate' with the same configuration", err)
		}
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// configFileNote names the config file that was read, for messages.
func configFileNote(cfg Config) string {
	if cfg.File == "" {
		return ", none was read"
	}
	return " " + cfg.File
}

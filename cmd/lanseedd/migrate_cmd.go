package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/lanseedd/lanseedd/store"
)

// runMigrate installs lanseedd's tables and triggers (`lanseedd migrate`),
// shows them (`migrate status`) or removes them (`migrate uninstall`).
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fillDSN := catalogFlags(fs, &cfg)
	verb, args := verbFirst(args)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if verb == "" {
		verb, args = fs.Arg(0), fs.Args()
		if len(args) > 0 {
			args = args[1:]
		}
	} else {
		args = fs.Args()
	}
	if len(args) > 0 {
		return fmt.Errorf("migrate %s: unexpected argument %q", verb, args[0])
	}
	fillDSN()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	st, err := store.Open(ctx, cfg.Catalog.Config, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(stdout, "catalog:", store.RedactDSN(cfg.Catalog.DSN))
	switch verb {
	case "", "up":
		if err := st.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "catalog migrated")
	case "status":
		list, err := st.MigrateStatus(ctx)
		if err != nil {
			return err
		}
		for _, m := range list {
			state := "pending"
			if m.Applied {
				state = "applied"
			}
			fmt.Fprintf(stdout, "%-8s %s\n", state, m.Name)
		}
	case "uninstall":
		if err := st.Uninstall(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "lanseedd's triggers and tables removed; the catalog's rows are untouched")
	default:
		return fmt.Errorf("migrate: unknown verb %q (want status or uninstall)", verb)
	}
	return nil
}

// verbFirst takes the verb off args when it comes before the flags
// (`lanseedd migrate status -catalog …`), which flag parsing alone would
// read as positional arguments, ignoring the flags.
func verbFirst(args []string) (verb string, rest []string) {
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

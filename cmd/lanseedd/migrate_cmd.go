package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/lanseedd/lanseedd/store"
	"github.com/spf13/cobra"
)

// migrateCommand installs lanseedd's tables and triggers (`lanseedd
// migrate`), shows them (`migrate status`) or removes them (`migrate
// uninstall`).
func migrateCommand() *cobra.Command {
	l := &loader{}
	open := func(cmd *cobra.Command, create bool) (*store.Store, error) {
		cfg, err := loadConfig(cmd, l)
		if err != nil {
			return nil, err
		}
		if err := cfg.validateCatalog(); err != nil {
			return nil, configError{err}
		}
		logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
		opener := store.OpenExisting
		if create {
			opener = store.Open
		}
		st, err := opener(cmd.Context(), cfg.storeConfig(), logger)
		if errors.Is(err, store.ErrNoCatalog) {
			return nil, fmt.Errorf("%w (check -catalog, -state or the config file%s)", err, configFileNote(cfg))
		}
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(cmd.OutOrStdout(), "catalog:", store.RedactDSN(cfg.Catalog.DSN))
		return st, nil
	}
	up := func(cmd *cobra.Command, _ []string) error {
		st, err := open(cmd, true)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.Migrate(cmd.Context()); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), "catalog migrated")
		return nil
	}
	migrate := &cobra.Command{
		Use:   "migrate [status|uninstall]",
		Short: "install, inspect or remove lanseedd's tables and triggers",
		Long: `With no verb, install or upgrade lanseedd's tables and the triggers on the
catalog table (an embedded SQLite catalog does this itself at start; a
PostgreSQL or MySQL catalog must be migrated before 'lanseedd run').`,
		RunE: up,
	}
	configFlags(migrate.PersistentFlags(), l)
	runFlagsToo(migrate.PersistentFlags(), l)
	migrate.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "install or upgrade (the same as no verb)",
		RunE:  up,
	}, &cobra.Command{
		Use:   "status",
		Short: "list lanseedd's migrations, applied or pending",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd, false)
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.MigrateStatus(cmd.Context())
			if err != nil {
				return err
			}
			for _, m := range list {
				state := "pending"
				if m.Applied {
					state = "applied"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-8s %s\n", state, m.Name)
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "uninstall",
		Short: "remove lanseedd's triggers and tables; the catalog's rows are untouched",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Uninstall(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "lanseedd's triggers and tables removed; the catalog's rows are untouched")
			return nil
		},
	})
	return migrate
}

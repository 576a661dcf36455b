package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// nodesCommand lists the nodes sharing the catalog and forgets those
// taken out of service.
func nodesCommand() *cobra.Command {
	l := &loader{}
	var asJSON bool
	nodes := &cobra.Command{
		Use:   "nodes [forget NAME…]",
		Short: "list the nodes sharing the catalog, or forget nodes taken out of service",
		Long: `List the daemons (nodes) sharing the catalog, from lanseedd_nodes: their
state (up, down, or stopped cleanly), trackers and last heartbeat. A node
taken out of service stays listed, down, until it is forgotten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, l)
			if err != nil {
				return err
			}
			st, err := openCatalog(cmd, l, false)
			if err != nil {
				return err
			}
			defer st.Close()
			all, err := st.Nodes(cmd.Context(), cfg.Node.Timeout)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONTo(cmd.OutOrStdout(), all)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tSTATE\tHEARTBEAT\tVERSION\tTRACKERS")
			for _, n := range all {
				state, beat := "down", "-"
				switch {
				case n.Up:
					state = "up"
				case n.HeartbeatAt.IsZero():
					state = "stopped"
				}
				if !n.HeartbeatAt.IsZero() {
					beat = (time.Duration(n.HeartbeatAgeSec) * time.Second).String() + " ago"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, state, beat, n.Version, strings.Join(n.Trackers, " "))
			}
			return tw.Flush()
		},
	}
	configFlags(nodes.PersistentFlags(), l)
	runFlagsToo(nodes.PersistentFlags(), l)
	nodes.Flags().BoolVar(&asJSON, "json", false, "print a JSON array, one object per node")
	forget := &cobra.Command{
		Use:   "forget NAME…",
		Short: "forget nodes taken out of service (a node that runs records itself again)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			st, err := openCatalog(cmd, l, false)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, name := range names {
				ok, err := st.ForgetNode(cmd.Context(), name)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("no node named %q", name)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "forgot %s\n", name)
			}
			return nil
		},
	}
	nodes.AddCommand(forget)
	return nodes
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

const rootLong = `lanseedd turns a LAN file server's catalog into BitTorrent: it watches the
catalog database's files table, makes a torrent for every row as admins add,
change and delete rows, seeds the content read-only, serves the .torrent
links and runs the tracker.

Configuration comes from, each overriding the one before: the defaults, the
config file (-config, else $LANSEEDD_CONFIG, else /etc/lanseedd/lanseedd.yml
if it exists), the environment, and flags. Every config key has an
environment variable: LANSEEDD_ and the key in capitals with dots as
underscores, so seeder.content_root is LANSEEDD_SEEDER_CONTENT_ROOT; lists
are comma-separated. The variables named after a flag (LANSEEDD_CATALOG for
-catalog) are read too. A LANSEEDD_ variable that sets nothing is warned
about. Flags take one dash or two (-catalog or --catalog).

Exit status: 0 on success, 1 on a runtime error, 2 on a bad command line,
78 (EX_CONFIG) on an invalid configuration.`

// usageBody follows the usage line in both the usage and the help text.
const usageBody = `{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Flags of {{.Parent.CommandPath}}:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Run '{{.CommandPath}} COMMAND -h' for a command's flags.{{end}}
`

// run runs the command line args (without the program name) and reports
// its error on stderr, with the command's usage after a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRoot(stdout, stderr)
	root.SetArgs(longFlags(args))
	cmd, err := root.ExecuteContextC(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // stopped by a signal: not an error
	}
	if err != nil {
		fmt.Fprintln(stderr, "lanseedd:", err)
	}
	var ue usageError
	if errors.As(err, &ue) && cmd != nil {
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, cmd.UsageString())
	}
	return err
}

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "lanseedd COMMAND",
		Short: "BitTorrent for a LAN file server's catalog",
		Long:  rootLong,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("no command given")}
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return usageError{errors.New(msg)}
		},
		SilenceErrors:              true,
		SuggestionsMinimumDistance: 2,
		SilenceUsage:               true,
		DisableAutoGenTag:          true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetUsageTemplate("usage: {{.UseLine}}" + usageBody)
	root.SetHelpTemplate("usage: {{.UseLine}}{{with (or .Long .Short)}}\n\n{{. | trimTrailingWhitespaces}}{{end}}" +
		strings.Replace(usageBody, "{{.UseLine}}", "", 1))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// --version and -V answer as the version command does: what an
	// operator types first (transmission-daemon -V, opentracker -v).
	root.Version = versionString()
	root.SetVersionTemplate("lanseedd {{.Version}}\n")
	root.Flags().BoolP("version", "V", false, "print the version and commit")
	root.CompletionOptions.HiddenDefaultCmd = false

	root.AddCommand(
		runCommand(),
		filesCommand(),
		migrateCommand(),
		verifyCommand(),
		statusCommand(),
		nodesCommand(),
		checkConfigCommand(),
		trackerCommand(),
		createCommand(),
		versionCommand(),
		genManCommand(root),
	)
	for _, c := range root.Commands() {
		setArgsAsUsage(c)
	}
	return root
}

// setArgsAsUsage makes every command's argument check a usage error, and
// gives commands with verbs (files, migrate) a check of their own, so that
// an unknown verb is a usage error too.
func setArgsAsUsage(c *cobra.Command) {
	if c.Args == nil {
		c.Args = cobra.NoArgs
	}
	check := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
	for _, sub := range c.Commands() {
		setArgsAsUsage(sub)
	}
}

// verbs is RunE for a command that only groups others (files): no verb or
// an unknown one is a usage error.
func verbs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("%s: give one of: %s", cmd.Name(), strings.Join(subNames(cmd), ", "))}
	}
	return usageError{fmt.Errorf("%s: unknown verb %q (want %s)", cmd.Name(), args[0], strings.Join(subNames(cmd), ", "))}
}

func subNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}

// longFlags lets long flags take one dash, as Go programs' flags do
// (-public-url as well as --public-url): pflag would read -public-url as the
// short flags p, u, b…. Only single letters are short flags here (-h, -n,
// -o), never combined.
func longFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		if len(a) > 2 && a[0] == '-' && unicode.IsLetter(rune(a[1])) && a[2] != '=' {
			out[i] = "-" + a
		}
	}
	return out
}

// configFlags adds the flags every command that reads the configuration
// has: the config file, the catalog, the directories, the log.
func configFlags(fs *pflag.FlagSet, l *loader) {
	fs.StringVar(&l.file, "config", "", "config file (default $"+envConfig+", else "+DefaultConfigFile+" if it exists)")
	l.bind(fs, "catalog", "catalog.dsn",
		"catalog database: sqlite:PATH, postgres://…, mysql://… or USER:PASS@tcp(HOST:PORT)/DB (default sqlite:<state>/catalog.db)")
	l.bind(fs, "catalog-dsn-file", "catalog.dsn_file", "file holding the catalog DSN (keeps the password out of the config)")
	l.bind(fs, "catalog-table", "catalog.table", "catalog table")
	l.bind(fs, "catalog-id", "catalog.id_column", "catalog id column")
	l.bind(fs, "catalog-path", "catalog.path_column", "catalog path column")
	l.bind(fs, "state", "seeder.state_dir", "directory for lanseedd's own files")
	l.bind(fs, "content", "seeder.content_root", "content root; catalog paths are relative to it")
	l.bind(fs, "log-level", "log.level", "log level: debug, info, warn, error")
	l.bind(fs, "log-format", "log.format", "log format: text or json")
}

// daemonFlags are the flags of `lanseedd run` (and check-config) beyond
// configFlags.
func daemonFlags(fs *pflag.FlagSet, l *loader) {
	l.bind(fs, "node", "node.name", "this daemon's name among the daemons sharing the catalog (default: the host name)")
	l.bind(fs, "mirror", "node.mirror", "a mirror node: fill the content root (the mirror root) from the swarm with every ready row")
	l.bind(fs, "http", "http.listen", "public listener: .torrent links, feed, web seeds")
	l.bind(fs, "tracker", "tracker.listen", "tracker listener (HTTP and UDP)")
	l.bind(fs, "admin", "admin.listen", "admin listener: status page, JSON API, metrics (keep it on loopback or a trusted network)")
	l.bind(fs, "web-seed", "http.web_seeds", "extra web seed base URL serving the content root (repeatable)")
	l.bind(fs, "web-seed-mode", "http.web_seed_mode",
		"lanseedd's own web seed: standin (listed and served only while the seeder does not seed the torrent), always, or off")
	l.bind(fs, "public-url", "http.public_url", "how LAN clients reach this host, e.g. http://fileserver.lan (default: from the host name)")
	l.bind(fs, "peer-port", "seeder.peer_port", "BitTorrent listen port")
	l.bind(fs, "upload-rate", "seeder.upload_rate", "seeder upload limit in bytes per second (0: none)")
	l.bind(fs, "utp", "seeder.utp", "accept and dial uTP besides TCP on the peer port (--utp=false: TCP only)")
	l.bind(fs, "super-seed", "seeder.super_seed", "offer each peer a few pieces at a time, the rarest (BEP 16 super-seeding; --super-seed=false: every piece)")
	// The older spelling, kept hidden so that existing units and scripts
	// still start.
	l.bind(fs, "webseed", "http.web_seeds", "")
	l.bind(fs, "webseed-mode", "http.web_seed_mode", "")
	fs.MarkHidden("webseed")
	fs.MarkHidden("webseed-mode")
}

// runFlagsToo gives a command that reads the configuration `lanseedd run`'s
// flags as well, hidden from its help, so that an operator can turn a run
// line into a migrate, files, nodes, status or verify line by changing the
// verb. They set keys of the configuration that every command reads, as the
// config file and the environment do, and a command uses what it needs
// (only run and check-config check the daemon's settings).
func runFlagsToo(fs *pflag.FlagSet, l *loader) {
	run := pflag.NewFlagSet("run", pflag.ContinueOnError)
	daemonFlags(run, l)
	run.VisitAll(func(f *pflag.Flag) {
		if fs.Lookup(f.Name) != nil {
			return // the command's own (status's -admin), for the same key
		}
		f.Hidden = true
		fs.AddFlag(f)
	})
}

// loadConfig loads a command's configuration and prints the warnings about
// the environment on stderr.
func loadConfig(cmd *cobra.Command, l *loader) (Config, error) {
	cfg, warnings, err := l.load()
	for _, w := range warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "lanseedd: warning:", w)
	}
	return cfg, err
}

// validConfig is loadConfig followed by Validate, an invalid value being a
// configuration error.
func validConfig(cmd *cobra.Command, l *loader) (Config, error) {
	cfg, err := loadConfig(cmd, l)
	if err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, configError{err}
	}
	return cfg, nil
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version and commit",
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "lanseedd", versionString())
			return nil
		},
	}
}

// genManCommand writes the man pages, lanseedd(8) and one page per
// command, for the package. SOURCE_DATE_EPOCH sets their date.
func genManCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "write the man pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			// The pages are made from Markdown, where LANSEEDD_CONFIG's
			// underscores would start italics (but not in indented
			// blocks, which are shown as they are).
			var escape func(c *cobra.Command)
			escape = func(c *cobra.Command) {
				lines := strings.Split(c.Long, "\n")
				for i, l := range lines {
					if !strings.HasPrefix(l, "    ") {
						lines[i] = strings.ReplaceAll(l, "_", `\_`)
					}
				}
				c.Long = strings.Join(lines, "\n")
				for _, sub := range c.Commands() {
					escape(sub)
				}
			}
			escape(root)
			return doc.GenManTree(root, &doc.GenManHeader{
				Title:   "LANSEEDD",
				Section: "8",
				Source:  "lanseedd " + Version,
				Manual:  "System Administration",
			}, args[0])
		},
	}
}

// Command lanseedd turns a LAN file server's catalog into BitTorrent: it
// watches the catalog table, makes and seeds a torrent for every row, serves
// the .torrent links and runs the tracker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

const usage = `lanseedd turns a file server's catalog into BitTorrent.

Usage:
  lanseedd run [flags]             run the daemon
  lanseedd files add PATH…         add catalog rows (paths relative to the content root)
  lanseedd files rm ID…            delete catalog rows
  lanseedd files ls                list catalog rows with their torrent state
  lanseedd migrate [status|uninstall]
                                   install, inspect or remove lanseedd's tables and triggers
  lanseedd tracker [flags]         run the tracker alone (an opentracker replacement)
  lanseedd create [flags] PATH     make a .torrent of a file or directory (as mktorrent)
  lanseedd verify [flags] [ID…]    re-hash ready rows; rows that changed go back to pending
  lanseedd status [flags]          counts by state, rows in error, the running daemon's figures
  lanseedd check-config [flags]    validate and print the effective configuration
  lanseedd version                 print the version and commit

Run 'lanseedd COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signalContext()
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "lanseedd:", err)
		}
		os.Exit(2)
	}
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// exits at once.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ch
		cancel()
		<-ch
		fmt.Fprintln(os.Stderr, "lanseedd: second signal, exiting now")
		os.Exit(1)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return runDaemon(ctx, rest, stderr)
	case "files":
		return runFiles(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "tracker":
		return runTracker(ctx, rest, stdout, stderr)
	case "create":
		return runCreate(ctx, rest, stdout, stderr)
	case "verify":
		return runVerify(ctx, rest, stdout, stderr)
	case "status":
		return runStatus(ctx, rest, stdout, stderr)
	case "check-config":
		return runCheckConfig(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "lanseedd", versionString())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

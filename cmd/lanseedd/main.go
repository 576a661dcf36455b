// Command lanseedd turns a LAN file server's catalog into BitTorrent: it
// watches the catalog table, makes and seeds a torrent for every row, serves
// the .torrent links and runs the tracker.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

// Exit statuses, as sysexits.h and most daemons have them.
const (
	exitOK     = 0
	exitFailed = 1  // a runtime error
	exitUsage  = 2  // a bad command line
	exitConfig = 78 // EX_CONFIG: an invalid configuration
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	code := exitCode(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
	stop()
	os.Exit(code)
}

// exitCode says how the process exits after err.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ce configError
	var ue usageError
	switch {
	case errors.As(err, &ce):
		return exitConfig
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFailed
}

// usageError marks a bad command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// exits at once.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-ch; !ok {
			return
		}
		cancel()
		if _, ok := <-ch; !ok {
			return
		}
		fmt.Fprintln(os.Stderr, "lanseedd: second signal, exiting now")
		os.Exit(1)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

//go:build !linux

package tracker

import (
	"context"
	"net"
	"sync"
	"syscall"
)

// rawAccept says that ServeTCP takes every listener's connections with
// Accept: the raw accept loop is Linux's.
const rawAccept = false

func (t *Tracker) acceptRaw(ctx context.Context, ln *net.TCPListener, wg *sync.WaitGroup) error {
	panic("unreachable")
}

// deferAccept does nothing where TCP_DEFER_ACCEPT is missing.
func deferAccept(network, address string, c syscall.RawConn) error { return nil }

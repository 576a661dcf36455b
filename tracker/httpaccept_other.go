//go:build !linux

package tracker

import (
	"context"
	"net"
	"sync"
)

// rawAccept says that ServeTCP takes every listener's connections with
// Accept: the raw accept loop is Linux's.
const rawAccept = false

func (t *Tracker) acceptRaw(ctx context.Context, ln *net.TCPListener, wg *sync.WaitGroup) error {
	panic("unreachable")
}

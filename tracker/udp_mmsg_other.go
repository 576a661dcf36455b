//go:build !linux

package tracker

import (
	"context"
	"net"
)

// udpBatchLoop is Linux only; elsewhere packets are read one by one.
func (t *Tracker) udpBatchLoop(ctx context.Context, conn *net.UDPConn, b *udpBuf) (handled bool, err error) {
	return false, nil
}

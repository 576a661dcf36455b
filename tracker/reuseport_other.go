//go:build !unix

package tracker

import "syscall"

// reusePort does nothing where SO_REUSEPORT is missing: ListenUDP then
// fails for more than one socket.
func reusePort(network, address string, c syscall.RawConn) error { return nil }

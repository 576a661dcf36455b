package main

import (
	"fmt"
	"net"
	"net/netip"
)

// checkLoopback refuses targets off this machine: a load generator must
// never be pointed at someone else's tracker by mistake.
func checkLoopback(target string) error {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("-target: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.IsLoopback() {
		return fmt.Errorf("-target %s: only loopback addresses are allowed", target)
	}
	return nil
}

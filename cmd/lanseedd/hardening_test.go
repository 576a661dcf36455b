package main

import (
	"net"
	"strconv"
	"testing"
)

// TestPeerBind: seeder.peer_bind keeps the peer port on one address, so that
// the same port on another address of the host stays free.
func TestPeerBind(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *Config) { c.Seeder.PeerBind = "127.0.0.1" })
	port := strconv.Itoa(d.Seeder.Port())
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("peer port on the bound address: %v", err)
	}
	c.Close()
	// Bound to every address, the port would be taken on 127.0.0.2 too.
	ln, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		t.Fatalf("peer port %s taken on 127.0.0.2 though seeder.peer_bind is 127.0.0.1: %v", port, err)
	}
	ln.Close()
}

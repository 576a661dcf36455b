//go:build integration

package integration

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
)

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// randUint returns a random number below n.
func randUint(n uint64) uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) % n
}

package tracker

import (
	"encoding/binary"
	"net/netip"
)

// Local is this server's own seeder, listed in the swarm of every torrent
// it has without announcing: a catalog of a million rows costs the tracker
// nothing until peers come, and the seeder loads a torrent only when one
// asks for it.
type Local struct {
	// Addrs are the seeder's addresses and peer port, as peers reach it.
	Addrs []netip.AddrPort
	// PeerID is the seeder's peer id, listed in non-compact replies.
	PeerID [20]byte
	// Has reports whether the seeder has infohash. With activate, the
	// seeder also makes ready to serve it (loads it) before it returns: an
	// announce is answered only after that, so the peer's first connection
	// finds the torrent. Has may take a few milliseconds; it must be safe
	// for concurrent use.
	Has func(infohash [20]byte, activate bool) bool
	// Others returns the seeders of the other nodes sharing the catalog
	// that have infohash (nil: none), listed as the local seeder is. It
	// may be nil; it must be safe for concurrent use.
	Others func(infohash [20]byte) []Seeder
}

// Seeder is another node's seeder: its addresses and peer id.
type Seeder struct {
	Addrs  []netip.AddrPort
	PeerID [20]byte
}

// SetLocal sets the server's own seeder (nil: none). Set it before Serve.
func (t *Tracker) SetLocal(l *Local) { t.local = l }

// localHas reports whether the local seeder has ih.
func (t *Tracker) localHas(ih *[20]byte, activate bool) bool {
	return t.local != nil && t.local.Has(*ih, activate)
}

// others returns the other nodes' seeders of ih.
func (t *Tracker) others(ih *[20]byte) []Seeder {
	if t.local == nil || t.local.Others == nil {
		return nil
	}
	return t.local.Others(*ih)
}

// appendSeeder adds a seeder's addresses to the peers of a reply, leaving
// out the requester itself.
func (t *Tracker) appendSeeder(sd Seeder, op *announceOp, wantV4, wantV6 bool, res *announceResult, out4, out6 []byte) ([]byte, []byte) {
	for _, a := range sd.Addrs {
		if a == op.addr {
			continue
		}
		switch {
		case a.Addr().Is4() && wantV4:
			ip := a.Addr().As4()
			out4 = binary.BigEndian.AppendUint16(append(out4, ip[:]...), a.Port())
			if op.withIDs {
				out4 = append(out4, sd.PeerID[:]...)
			}
			res.n4++
		case a.Addr().Is6() && wantV6:
			ip := a.Addr().As16()
			out6 = binary.BigEndian.AppendUint16(append(out6, ip[:]...), a.Port())
			if op.withIDs {
				out6 = append(out6, sd.PeerID[:]...)
			}
			res.n6++
		}
	}
	return out4, out6
}

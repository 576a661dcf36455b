package tracker

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
)

// The swarm store keeps peers the way opentracker does: identity is the
// peer's address and port, and each swarm holds a sorted, packed slice of
// fixed-size records, so that finding a peer and building a compact reply
// touch eight bytes per peer.
//
// An IPv4 peer is one uint64: address (32 bits), port (16 bits), then a
// seeder flag and a 15-bit stamp of the second it last announced. Sorting
// the uint64s sorts by address and port. IPv6 peers live in a per-shard
// map of record slices, so a swarm without them pays nothing.
//
// Peer ids are kept only for non-compact replies (BEP 3), which list them;
// opentracker answers compact only and keeps none. An IPv4 peer's id sits
// at the same index of a parallel slice, so the hot compact path never
// reads it; a peer costs 28 bytes instead of 8.

const numShards = 1024

const (
	seederFlag = 0x8000
	stampMask  = 0x7fff
)

// peer6 is an IPv6 address, port (big endian, as on the wire), flags and
// peer id.
type peer6 struct {
	addrPort [18]byte
	flags    uint16
	id       [20]byte
}

// swarm is 56 bytes (the allocator's 64-byte class).
type swarm struct {
	v4        []uint64
	ids       [][20]byte // ids[i] is the id of the peer v4[i]
	seeders   uint32
	completed uint32
}

type shard struct {
	mu     sync.Mutex
	swarms map[[20]byte]*swarm
	v6     map[[20]byte][]peer6 // IPv6 peers of the swarms that have any
	_      [32]byte             // keep shards' locks on separate cache lines
}

// peers6 returns the IPv6 peers of the swarm ih.
func (sh *shard) peers6(ih *[20]byte) []peer6 {
	if len(sh.v6) == 0 {
		return nil
	}
	return sh.v6[*ih]
}

func (sh *shard) setPeers6(ih *[20]byte, v []peer6) {
	switch {
	case len(v) > 0 && sh.v6 == nil:
		sh.v6 = map[[20]byte][]peer6{*ih: v}
	case len(v) > 0:
		sh.v6[*ih] = v
	case len(sh.v6) > 0:
		delete(sh.v6, *ih)
	}
}

func (sh *shard) numPeers(ih *[20]byte, sw *swarm) int {
	return len(sw.v4) + len(sh.peers6(ih))
}

// swarmStore is the in-memory state of all swarms.
type swarmStore struct {
	shards [numShards]shard

	maxSwarms, maxPeersPerSwarm, maxPeers int64

	nSwarms  atomic.Int64
	nPeers   atomic.Int64
	nSeeders atomic.Int64
	// nCompleted counts the downloads completed in every swarm, also
	// those of swarms since dropped, so it never goes down.
	nCompleted atomic.Int64
}

func newSwarmStore(cfg Config) *swarmStore {
	s := &swarmStore{
		maxSwarms:        int64(cfg.MaxSwarms),
		maxPeersPerSwarm: int64(cfg.MaxPeersPerSwarm),
		maxPeers:         int64(cfg.MaxPeers),
	}
	for i := range s.shards {
		s.shards[i].swarms = make(map[[20]byte]*swarm)
	}
	return s
}

func shardOf(ih *[20]byte) int {
	// Infohashes are SHA-1 output; a hostile client can aim at one shard but
	// only slows that shard's own swarms.
	return int(binary.LittleEndian.Uint16(ih[:2])) % numShards
}

// Announce events.
const (
	eventNone uint8 = iota
	eventCompleted
	eventStarted
	eventStopped
	eventPaused
)

// announceOp is what the swarm store needs from an announce.
type announceOp struct {
	infohash [20]byte
	addr     netip.AddrPort // unmapped
	peerID   [20]byte
	// withIDs asks for each peer's id after its compact address in the
	// reply buffers: 6+20 bytes per IPv4 peer, 18+20 per IPv6 peer.
	withIDs bool
	event   uint8
	seeder  bool
	numWant int
	stamp   uint16 // current second, masked by stampMask
}

// announceResult carries the swarm's counts after the announce.
type announceResult struct {
	seeders, leechers, completed int
	n4, n6                       int // peers appended to each buffer
}

// errSwarmLimit is returned when an announce would create a swarm beyond
// MaxSwarms.
var errSwarmLimit = &failure{msg: "tracker is full: too many swarms", retry: true}

// announce records op and appends up to op.numWant other peers in compact
// form: IPv4 to out4 (6 bytes each), IPv6 to out6 (18 bytes each), each
// followed by its peer id if op.withIDs. wantV4 and wantV6 say which
// families the reply can carry.
func (s *swarmStore) announce(op *announceOp, wantV4, wantV6 bool, out4, out6 []byte) (announceResult, []byte, []byte, error) {
	var res announceResult
	sh := &s.shards[shardOf(&op.infohash)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarms[op.infohash]
	if sw == nil {
		if op.event == eventStopped {
			return res, out4, out6, nil
		}
		if s.nSwarms.Add(1) > s.maxSwarms {
			s.nSwarms.Add(-1)
			return res, out4, out6, errSwarmLimit
		}
		sw = &swarm{}
		sh.swarms[op.infohash] = sw
	}

	var flags uint16 = op.stamp & stampMask
	if op.seeder {
		flags |= seederFlag
	}
	v6 := sh.peers6(&op.infohash)
	var wasSeeder bool
	if op.addr.Addr().Is4() {
		wasSeeder = s.upsert4(sw, len(v6), op, flags)
	} else {
		v6, wasSeeder = s.upsert6(sw, v6, op, flags)
		sh.setPeers6(&op.infohash, v6)
	}
	if op.event == eventCompleted && !wasSeeder {
		sw.completed++
		s.nCompleted.Add(1)
	}

	n := len(sw.v4) + len(v6)
	res.seeders = int(sw.seeders)
	res.leechers = n - int(sw.seeders)
	res.completed = int(sw.completed)
	if op.event != eventStopped && op.numWant > 0 {
		out4, out6, res.n4, res.n6 = selectPeers(sw.v4, sw.ids, v6, op, wantV4, wantV6, out4, out6)
	}
	if n == 0 && sw.completed == 0 {
		delete(sh.swarms, op.infohash)
		s.nSwarms.Add(-1)
	}
	return res, out4, out6, nil
}

// canAdd reports whether a new peer may be stored in a swarm of n peers.
func (s *swarmStore) canAdd(n int) bool {
	if int64(n) >= s.maxPeersPerSwarm {
		return false
	}
	if s.nPeers.Add(1) > s.maxPeers {
		s.nPeers.Add(-1)
		return false
	}
	return true
}

func key4(addr netip.AddrPort) uint64 {
	a := addr.Addr().As4()
	return uint64(binary.BigEndian.Uint32(a[:]))<<32 | uint64(addr.Port())<<16
}

// search4 returns the index of the first record whose key is >= k.
func search4(v []uint64, k uint64) int {
	lo, hi := 0, len(v)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if v[m]&^0xffff < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// upsert4 adds, updates or (on stopped) removes an IPv4 peer of sw, which
// also has n6 IPv6 peers. It reports whether the peer was a seeder.
func (s *swarmStore) upsert4(sw *swarm, n6 int, op *announceOp, flags uint16) (wasSeeder bool) {
	k := key4(op.addr)
	i := search4(sw.v4, k)
	if i < len(sw.v4) && sw.v4[i]&^0xffff == k {
		old := uint16(sw.v4[i])
		wasSeeder = old&seederFlag != 0
		if op.event == eventStopped {
			sw.v4 = append(sw.v4[:i], sw.v4[i+1:]...)
			sw.ids = append(sw.ids[:i], sw.ids[i+1:]...)
			s.removed(sw, wasSeeder)
			return wasSeeder
		}
		sw.v4[i] = k | uint64(flags)
		sw.ids[i] = op.peerID
		s.flagChange(sw, wasSeeder, op.seeder)
		return wasSeeder
	}
	if op.event == eventStopped || !s.canAdd(len(sw.v4)+n6) {
		return false
	}
	sw.v4 = insertAt(sw.v4, i, k|uint64(flags))
	sw.ids = insertAt(sw.ids, i, op.peerID)
	s.added(sw, op.seeder)
	return false
}

func cmp18(a, b *[18]byte) int {
	hiA, hiB := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if hiA != hiB {
		if hiA < hiB {
			return -1
		}
		return 1
	}
	loA, loB := binary.BigEndian.Uint64(a[8:16]), binary.BigEndian.Uint64(b[8:16])
	if loA != loB {
		if loA < loB {
			return -1
		}
		return 1
	}
	pa, pb := binary.BigEndian.Uint16(a[16:]), binary.BigEndian.Uint16(b[16:])
	switch {
	case pa < pb:
		return -1
	case pa > pb:
		return 1
	}
	return 0
}

func key6(addr netip.AddrPort) [18]byte {
	var k [18]byte
	a := addr.Addr().As16()
	copy(k[:16], a[:])
	binary.BigEndian.PutUint16(k[16:], addr.Port())
	return k
}

// upsert6 is upsert4 for an IPv6 peer; it returns the swarm's new IPv6
// peers.
func (s *swarmStore) upsert6(sw *swarm, v []peer6, op *announceOp, flags uint16) ([]peer6, bool) {
	k := key6(op.addr)
	lo, hi := 0, len(v)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp18(&v[m].addrPort, &k) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo
	if i < len(v) && v[i].addrPort == k {
		wasSeeder := v[i].flags&seederFlag != 0
		if op.event == eventStopped {
			v = append(v[:i], v[i+1:]...)
			s.removed(sw, wasSeeder)
			return v, wasSeeder
		}
		v[i].flags = flags
		v[i].id = op.peerID
		s.flagChange(sw, wasSeeder, op.seeder)
		return v, wasSeeder
	}
	if op.event == eventStopped || !s.canAdd(len(sw.v4)+len(v)) {
		return v, false
	}
	v = append(v, peer6{})
	copy(v[i+1:], v[i:])
	v[i] = peer6{addrPort: k, flags: flags, id: op.peerID}
	s.added(sw, op.seeder)
	return v, false
}

func (s *swarmStore) added(sw *swarm, seeder bool) {
	if seeder {
		sw.seeders++
		s.nSeeders.Add(1)
	}
}

func (s *swarmStore) removed(sw *swarm, wasSeeder bool) {
	s.nPeers.Add(-1)
	if wasSeeder {
		sw.seeders--
		s.nSeeders.Add(-1)
	}
}

func (s *swarmStore) flagChange(sw *swarm, was, now bool) {
	switch {
	case was && !now:
		sw.seeders--
		s.nSeeders.Add(-1)
	case !was && now:
		sw.seeders++
		s.nSeeders.Add(1)
	}
}

// selectPeers appends up to op.numWant peers other than the requester,
// starting at a random place in each family so that every peer gets handed
// out. A seeder is given only leechers, except on its "started" announce:
// a client with a magnet link announces left=0 before it has the metadata,
// which it can only fetch from a peer, often a seeder (aria2, Transmission).
// ids are the peer ids of v4.
func selectPeers(v4 []uint64, ids [][20]byte, v6 []peer6, op *announceOp, wantV4, wantV6 bool, out4, out6 []byte) ([]byte, []byte, int, int) {
	onlyLeechers := op.seeder && op.event != eventStarted
	withIDs := op.withIDs
	if !wantV6 {
		v6 = nil
	}
	if !wantV4 {
		v4 = nil
	}
	total := len(v4) + len(v6)
	if total == 0 {
		return out4, out6, 0, 0
	}
	n := op.numWant
	want4, want6 := len(v4), len(v6)
	if total > n {
		want4 = n * len(v4) / total
		want6 = n - want4
		if want6 > len(v6) {
			want4 += want6 - len(v6)
			want6 = len(v6)
		}
	}
	is4 := op.addr.Addr().Is4()
	var n4, n6 int
	if want4 > 0 {
		var self uint64 = 1 // never a valid key: its low bits are not zero
		if is4 {
			self = key4(op.addr)
		}
		start := 0
		if len(v4) > want4 {
			start = rand.IntN(len(v4))
		}
		for j, i := 0, start; j < len(v4) && n4 < want4; j++ {
			p, at := v4[i], i
			if i++; i == len(v4) {
				i = 0
			}
			if p&^0xffff == self || (onlyLeechers && p&seederFlag != 0) {
				continue
			}
			out4 = binary.BigEndian.AppendUint32(out4, uint32(p>>32))
			out4 = binary.BigEndian.AppendUint16(out4, uint16(p>>16))
			if withIDs {
				out4 = append(out4, ids[at][:]...)
			}
			n4++
		}
	}
	if want6 > 0 {
		var self [18]byte
		if !is4 {
			self = key6(op.addr)
		}
		start := 0
		if len(v6) > want6 {
			start = rand.IntN(len(v6))
		}
		for j, i := 0, start; j < len(v6) && n6 < want6; j++ {
			p := &v6[i]
			if i++; i == len(v6) {
				i = 0
			}
			if (!is4 && p.addrPort == self) || (onlyLeechers && p.flags&seederFlag != 0) {
				continue
			}
			out6 = append(out6, p.addrPort[:]...)
			if withIDs {
				out6 = append(out6, p.id[:]...)
			}
			n6++
		}
	}
	return out4, out6, n4, n6
}

// scrape returns the counts of one swarm.
func (s *swarmStore) scrape(ih *[20]byte) (seeders, leechers, completed int, ok bool) {
	sh := &s.shards[shardOf(ih)]
	sh.mu.Lock()
	sw := sh.swarms[*ih]
	if sw != nil {
		seeders, leechers, completed, ok = int(sw.seeders), sh.numPeers(ih, sw)-int(sw.seeders), int(sw.completed), true
	}
	sh.mu.Unlock()
	return
}

// expire removes peers whose stamp is older than timeout seconds, and
// swarms left empty or (if allowed is not nil) no longer allowed. It
// returns the peers and swarms removed.
func (s *swarmStore) expire(now uint16, timeout uint16, allowed func(*[20]byte) bool) (peers, swarms int) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for ih, sw := range sh.swarms {
			if allowed != nil && !allowed(&ih) {
				n := sh.numPeers(&ih, sw)
				s.nPeers.Add(-int64(n))
				s.nSeeders.Add(-int64(sw.seeders))
				peers += n
				delete(sh.swarms, ih)
				sh.setPeers6(&ih, nil)
				s.nSwarms.Add(-1)
				swarms++
				continue
			}
			peers += s.expireSwarm(sh, &ih, sw, now, timeout)
			if sh.numPeers(&ih, sw) == 0 {
				delete(sh.swarms, ih)
				s.nSwarms.Add(-1)
				swarms++
			}
		}
		sh.mu.Unlock()
	}
	return peers, swarms
}

func stale(flags, now, timeout uint16) bool {
	return (now-flags)&stampMask > timeout
}

func (s *swarmStore) expireSwarm(sh *shard, ih *[20]byte, sw *swarm, now, timeout uint16) int {
	removed := 0
	v4, ids := sw.v4[:0], sw.ids[:0]
	for i, p := range sw.v4 {
		if stale(uint16(p), now, timeout) {
			removed++
			s.removed(sw, p&seederFlag != 0)
			continue
		}
		v4 = append(v4, p)
		ids = append(ids, sw.ids[i])
	}
	sw.v4, sw.ids = shrink(v4), shrink(ids)
	if old := sh.peers6(ih); len(old) > 0 {
		v6 := old[:0]
		for _, p := range old {
			if stale(p.flags, now, timeout) {
				removed++
				s.removed(sw, p.flags&seederFlag != 0)
				continue
			}
			v6 = append(v6, p)
		}
		sh.setPeers6(ih, v6)
	}
	return removed
}

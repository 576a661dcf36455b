package tracker

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExpiry(t *testing.T) {
	tr := newTestTracker(t, nil) // peers time out after 4 minutes
	ih := hashN(1)
	get(t, tr, "10.0.0.1:1", announceQ(ih, 1, "&left=0"))
	tr.start = tr.start.Add(-3 * time.Minute)
	get(t, tr, "10.0.0.2:1", announceQ(ih, 1, ""))
	tr.expire()
	if s, _ := tr.Swarm(ih); s.Seeders != 1 || s.Leechers != 1 {
		t.Fatalf("after 3 minutes: %+v", s)
	}
	tr.start = tr.start.Add(-2 * time.Minute)
	tr.expire()
	if s, _ := tr.Swarm(ih); s.Seeders != 0 || s.Leechers != 1 {
		t.Fatalf("after 5 minutes: %+v", s)
	}
	tr.start = tr.start.Add(-5 * time.Minute)
	tr.expire()
	if _, ok := tr.Swarm(ih); ok {
		t.Fatal("empty swarm kept")
	}
	if s := tr.Stats(); s.Swarms != 0 || s.Peers != 0 || s.Seeders != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStampWraps(t *testing.T) {
	for _, tc := range []struct {
		stamp, now uint16
		stale      bool
	}{
		{100, 200, false},
		{100, 400, true},
		{stampMask - 10, 50, false}, // 61 seconds across the wrap
		{stampMask - 10, 300, true},
		{seederFlag | 100, 200, false},
	} {
		if got := stale(tc.stamp, tc.now, 240); got != tc.stale {
			t.Errorf("stale(%d, %d) = %v", tc.stamp, tc.now, got)
		}
	}
}

func TestPeerLimits(t *testing.T) {
	tr := newTestTracker(t, func(c *Config) { c.MaxPeersPerSwarm = 3; c.MaxPeers = 5 })
	for i := range 5 {
		get(t, tr, "10.0.0."+strconv.Itoa(i+1)+":1", announceQ(hashN(1), 1, ""))
	}
	if s, _ := tr.Swarm(hashN(1)); s.Leechers != 3 {
		t.Fatalf("swarm holds %d peers, want 3", s.Leechers)
	}
	// A peer that is not stored is still given peers.
	m := get(t, tr, "10.0.0.9:1", announceQ(hashN(1), 1, ""))
	if p := compactPeers(t, m, "peers", 6); len(p) != 3 {
		t.Fatalf("peers %v", p)
	}
	get(t, tr, "10.0.0.1:1", announceQ(hashN(2), 1, ""))
	get(t, tr, "10.0.0.2:1", announceQ(hashN(2), 1, ""))
	get(t, tr, "10.0.0.3:1", announceQ(hashN(2), 1, ""))
	if s := tr.Stats(); s.Peers != 5 {
		t.Fatalf("stats %+v, want 5 peers", s)
	}
}

func TestSwarmStoreSorted(t *testing.T) {
	tr := newTestTracker(t, nil)
	ih := hashN(1)
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[netip.AddrPort]bool{}
	for range 2000 {
		var a netip.Addr
		if rng.IntN(4) == 0 {
			var b [16]byte
			binary.BigEndian.PutUint64(b[:], 0x20010db8<<32)
			binary.BigEndian.PutUint32(b[12:], rng.Uint32()%500)
			a = netip.AddrFrom16(b)
		} else {
			a = netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(3)), byte(rng.IntN(200))})
		}
		ap := netip.AddrPortFrom(a, uint16(1+rng.IntN(3)))
		op := announceOp{infohash: ih, addr: ap, numWant: 0}
		if rng.IntN(3) == 0 {
			op.event = eventStopped
			delete(want, ap)
		} else {
			want[ap] = true
		}
		if _, _, _, err := tr.announce(&op, true, true, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := tr.Swarm(ih)
	if s.Leechers != len(want) {
		t.Fatalf("swarm holds %d peers, want %d", s.Leechers, len(want))
	}
	op := announceOp{infohash: ih, addr: netip.MustParseAddrPort("192.0.2.1:1"), numWant: 5000, event: eventNone}
	tr.cfg.MaxNumWant = 5000
	_, p4, p6, _ := tr.announce(&op, true, true, nil, nil)
	got := 0
	for i := 0; i < len(p4); i += 6 {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte(p4[i:i+4])), binary.BigEndian.Uint16(p4[i+4:]))
		if !want[a] {
			t.Fatalf("unexpected peer %v", a)
		}
		got++
	}
	for i := 0; i < len(p6); i += 18 {
		a := netip.AddrPortFrom(netip.AddrFrom16([16]byte(p6[i:i+16])), binary.BigEndian.Uint16(p6[i+16:]))
		if !want[a] {
			t.Fatalf("unexpected peer %v", a)
		}
		got++
	}
	if got != len(want) {
		t.Fatalf("got %d peers back, want %d", got, len(want))
	}
}

// TestFlood sends announces for random infohashes through the UDP
// frontend, as an attacker would, and checks that memory stays bounded by
// the limits and that a legitimate swarm is still served.
func TestFlood(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	for _, tc := range []struct {
		name   string
		config func(*Config)
	}{
		{"default limits", nil},
		{"small limits", func(c *Config) { c.MaxSwarms = 10_000; c.MaxPeers = 20_000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracker(t, tc.config)
			legit := hashN(1)
			seeder := netip.MustParseAddrPort("192.0.2.1:1")
			b := newUDPBuf()
			announce := func(ih [20]byte, src netip.AddrPort) []byte {
				p := udpAnnouncePacket(tr.connID(src, tr.connWindow()), 1, udpAnn{ih: ih, port: src.Port(), seed: true})
				return tr.handleUDP(p, src, b, b.out[:0])
			}
			announce(legit, seeder)

			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			rng := rand.New(rand.NewPCG(3, 4))
			pkt := udpAnnouncePacket(0, 1, udpAnn{port: 1})
			refused := 0
			start := time.Now()
			for i := range n {
				src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1)
				binary.BigEndian.PutUint64(pkt, tr.connID(src, tr.connWindow()))
				binary.BigEndian.PutUint64(pkt[16:], rng.Uint64())
				binary.BigEndian.PutUint64(pkt[24:], rng.Uint64())
				out := tr.handleUDP(pkt, src, b, b.out[:0])
				if binary.BigEndian.Uint32(out) == actionError {
					refused++
				}
			}
			took := time.Since(start)
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			grown := int64(after.HeapInuse) - int64(before.HeapInuse)
			s := tr.Stats()
			t.Logf("%d flood announces in %v (%.0f/s): %d refused, %d swarms held, heap grew %.1f MB (%.0f bytes/swarm)",
				n, took.Round(time.Millisecond), float64(n)/took.Seconds(), refused, s.Swarms, float64(grown)/1e6, float64(grown)/float64(s.Swarms))
			if int(s.Swarms) > tr.cfg.MaxSwarms || int(s.Peers) > tr.cfg.MaxPeers {
				t.Fatalf("limits exceeded: %+v", s)
			}
			// Each swarm is bounded in size; 250 bytes for one peer is generous.
			if limit := 250 * int64(min(tr.cfg.MaxSwarms, n+1)); grown > limit {
				t.Fatalf("heap grew %d bytes, more than %d", grown, limit)
			}
			if tc.config != nil && refused != n-(tr.cfg.MaxSwarms-1) {
				t.Fatalf("refused %d of %d, want %d", refused, n, n-(tr.cfg.MaxSwarms-1))
			}
			// The legitimate swarm still works: a leecher finds the seeder.
			leecher := netip.MustParseAddrPort("192.0.2.2:1")
			p := udpAnnouncePacket(tr.connID(leecher, tr.connWindow()), 9, udpAnn{ih: legit, port: 1, numWant: -1})
			r := parseUDPAnnounceReply(t, tr.handleUDP(p, leecher, b, b.out[:0]), 9, 6)
			if len(r.peers) != 1 || r.peers[0] != seeder {
				t.Fatalf("legitimate swarm not served: %+v", r)
			}
			// Once the flood's peers time out, their swarms go.
			tr.start = tr.start.Add(-10 * time.Minute)
			tr.expire()
			if s := tr.Stats(); s.Swarms != 0 || s.Peers != 0 {
				t.Fatalf("after expiry: %+v", s)
			}
		})
	}
}

// TestMemoryPerPeer holds about a million peers in 100,000 swarms and
// reports the resident memory they cost, to compare with opentracker's ~24
// bytes per peer. Ours is about 44: opentracker keeps no peer ids (it
// answers compact only); we keep them for non-compact replies (BEP 3), 20
// bytes a peer.
func TestMemoryPerPeer(t *testing.T) {
	swarms, perSwarm := 100_000, 10
	if testing.Short() {
		swarms = 10_000
	}
	tr := newTestTracker(t, nil)
	rssBefore, heapBefore := settledMemory(t)
	rng := rand.New(rand.NewPCG(5, 6))
	op := announceOp{numWant: 0}
	for i := range swarms {
		binary.BigEndian.PutUint64(op.infohash[:], rng.Uint64())
		binary.BigEndian.PutUint64(op.infohash[8:], rng.Uint64())
		for j := range perSwarm {
			op.addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(j), byte(i >> 8), byte(i)}), uint16(6881+j))
			op.seeder = j == 0
			op.stamp = tr.stamp()
			if _, _, _, err := tr.store.announce(&op, true, false, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	rssAfter, heapAfter := settledMemory(t)
	peers := tr.Stats().Peers
	if peers != int64(swarms*perSwarm) {
		t.Fatalf("held %d peers, want %d", peers, swarms*perSwarm)
	}
	perPeerRSS := float64(rssAfter-rssBefore) / float64(peers)
	perPeerHeap := float64(heapAfter-heapBefore) / float64(peers)
	t.Logf("%d peers in %d swarms: RSS grew %.1f MB (%.1f bytes/peer), heap in use grew %.1f MB (%.1f bytes/peer)",
		peers, swarms, float64(rssAfter-rssBefore)/1e6, perPeerRSS, float64(heapAfter-heapBefore)/1e6, perPeerHeap)
	if perPeerHeap > 48 {
		t.Errorf("%.1f bytes of heap per peer, want <= 48", perPeerHeap)
	}
	runtime.KeepAlive(tr)
}

// settledMemory collects garbage, returns freed pages to the system and
// reports the process's resident and heap-in-use bytes.
func settledMemory(t *testing.T) (rss, heap int64) {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, int64(ms.HeapInuse)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			rss = kb * 1024
		}
	}
	return rss, int64(ms.HeapInuse)
}

// checkCounts walks every swarm and compares what it holds with the
// tracker-wide counters and each swarm's seeder count.
func checkCounts(t *testing.T, tr *Tracker) {
	t.Helper()
	var swarms, peers, seeders int64
	for i := range tr.store.shards {
		sh := &tr.store.shards[i]
		sh.mu.Lock()
		for ih, sw := range sh.swarms {
			swarms++
			var s uint32
			for _, p := range sw.v4 {
				if uint16(p)&seederFlag != 0 {
					s++
				}
			}
			for _, p := range sh.peers6(&ih) {
				if p.flags&seederFlag != 0 {
					s++
				}
			}
			if s != sw.seeders {
				t.Errorf("swarm %x counts %d seeders, holds %d", ih, sw.seeders, s)
			}
			peers += int64(sh.numPeers(&ih, sw))
			seeders += int64(s)
		}
		for ih := range sh.v6 {
			if sh.swarms[ih] == nil {
				t.Errorf("IPv6 peers of missing swarm %x", ih)
			}
		}
		sh.mu.Unlock()
	}
	if s := tr.Stats(); s.Swarms != swarms || s.Peers != peers || s.Seeders != seeders {
		t.Errorf("stats %+v, swarms hold %d swarms, %d peers, %d seeders", s, swarms, peers, seeders)
	}
}

func TestConcurrentAnnounces(t *testing.T) {
	tr := newTestTracker(t, func(c *Config) { c.MaxPeersPerSwarm = 40; c.MaxSwarms = 150 })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			tr.expire()
			tr.Stats()
		}
	}()
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			b := newUDPBuf()
			var err error
			for range 20_000 {
				var a netip.Addr
				if rng.IntN(5) == 0 {
					a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(30))})
				} else {
					a = netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(30))})
				}
				op := announceOp{
					infohash: hashN(rng.IntN(200)),
					addr:     netip.AddrPortFrom(a, uint16(1+rng.IntN(3))),
					event:    uint8(rng.IntN(4)),
					seeder:   rng.IntN(2) == 0,
					numWant:  rng.IntN(60) - 1,
				}
				_, b.p4, b.p6, err = tr.announce(&op, true, true, b.p4[:0], b.p6[:0])
				if err != nil && err != errSwarmLimit {
					break
				}
				err = nil
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-done
	checkCounts(t, tr)
	tr.start = tr.start.Add(-time.Hour)
	tr.expire()
	checkCounts(t, tr)
	if s := tr.Stats(); s.Peers != 0 || s.Swarms != 0 {
		t.Fatalf("after expiry %+v", s)
	}
}

// TestMagnetClientGetsSeeders: a client with only a magnet link announces
// left=0, as a seeder, before it has the metadata; on that "started"
// announce it is given the seeders, later seeders get only leechers.
func TestMagnetClientGetsSeeders(t *testing.T) {
	tr := newTestTracker(t, nil)
	ih := hashN(7)
	seed := announceOp{infohash: ih, addr: netip.MustParseAddrPort("10.0.0.1:6881"), seeder: true, event: eventStarted}
	if _, _, _, err := tr.announce(&seed, true, true, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		event uint8
		want  int
	}{{eventStarted, 1}, {eventNone, 0}} {
		op := announceOp{infohash: ih, addr: netip.MustParseAddrPort("10.0.0.2:6881"), seeder: true, event: c.event, numWant: 50}
		_, p4, _, err := tr.announce(&op, true, true, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(p4) / 6; got != c.want {
			t.Errorf("event %v: %d peers back, want %d", c.event, got, c.want)
		}
	}
}

package tracker

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

func udpConnectPacket(tid uint32) []byte {
	p := binary.BigEndian.AppendUint64(nil, udpProtocolID)
	p = binary.BigEndian.AppendUint32(p, actionConnect)
	return binary.BigEndian.AppendUint32(p, tid)
}

type udpAnn struct {
	ih      [20]byte
	seed    bool // left=0
	event   uint32
	ip      [4]byte
	numWant int32
	port    uint16
	id      string // peer id; peerID when empty
}

func udpAnnouncePacket(connID uint64, tid uint32, a udpAnn) []byte {
	p := binary.BigEndian.AppendUint64(nil, connID)
	p = binary.BigEndian.AppendUint32(p, actionAnnounce)
	p = binary.BigEndian.AppendUint32(p, tid)
	p = append(p, a.ih[:]...)
	if a.id == "" {
		a.id = peerID
	}
	p = append(p, a.id...)
	p = binary.BigEndian.AppendUint64(p, 0) // downloaded
	left := uint64(1000)
	if a.seed {
		left = 0
	}
	p = binary.BigEndian.AppendUint64(p, left)
	p = binary.BigEndian.AppendUint64(p, 0) // uploaded
	p = binary.BigEndian.AppendUint32(p, a.event)
	p = append(p, a.ip[:]...)
	p = binary.BigEndian.AppendUint32(p, 0xdead) // key
	p = binary.BigEndian.AppendUint32(p, uint32(a.numWant))
	return binary.BigEndian.AppendUint16(p, a.port)
}

func udpScrapePacket(connID uint64, tid uint32, hashes ...[20]byte) []byte {
	p := binary.BigEndian.AppendUint64(nil, connID)
	p = binary.BigEndian.AppendUint32(p, actionScrape)
	p = binary.BigEndian.AppendUint32(p, tid)
	for _, h := range hashes {
		p = append(p, h[:]...)
	}
	return p
}

// udpDo answers pkt from src and returns the reply (nil for none).
func udpDo(tr *Tracker, pkt []byte, src string) []byte {
	b := newUDPBuf()
	out := tr.handleUDP(pkt, netip.MustParseAddrPort(src), b, nil)
	if len(out) == 0 {
		return nil
	}
	return out
}

func udpConnID(tb testing.TB, tr *Tracker, src string) uint64 {
	tb.Helper()
	r := udpDo(tr, udpConnectPacket(42), src)
	if len(r) != 16 || binary.BigEndian.Uint32(r) != actionConnect || binary.BigEndian.Uint32(r[4:]) != 42 {
		tb.Fatalf("connect reply %x", r)
	}
	return binary.BigEndian.Uint64(r[8:])
}

func wantUDPError(tb testing.TB, r []byte, tid uint32, msg string) {
	tb.Helper()
	if len(r) < 8 || binary.BigEndian.Uint32(r) != actionError || binary.BigEndian.Uint32(r[4:]) != tid ||
		!bytes.Contains(r[8:], []byte(msg)) {
		tb.Fatalf("reply %q, want error %q for tid %d", r, msg, tid)
	}
}

type udpAnnReply struct {
	interval, leechers, seeders uint32
	peers                       []netip.AddrPort
}

func parseUDPAnnounceReply(tb testing.TB, r []byte, tid uint32, size int) udpAnnReply {
	tb.Helper()
	if len(r) < 20 || binary.BigEndian.Uint32(r) != actionAnnounce || binary.BigEndian.Uint32(r[4:]) != tid ||
		(len(r)-20)%size != 0 {
		tb.Fatalf("announce reply %q", r)
	}
	rep := udpAnnReply{
		interval: binary.BigEndian.Uint32(r[8:]),
		leechers: binary.BigEndian.Uint32(r[12:]),
		seeders:  binary.BigEndian.Uint32(r[16:]),
	}
	for i := 20; i < len(r); i += size {
		a, _ := netip.AddrFromSlice(r[i : i+size-2])
		rep.peers = append(rep.peers, netip.AddrPortFrom(a, binary.BigEndian.Uint16(r[i+size-2:])))
	}
	return rep
}

func TestUDPProtocol(t *testing.T) {
	ih := hashN(1)
	const src = "10.0.0.1:4000"
	tests := []struct {
		name   string
		config func(*Config)
		run    func(t *testing.T, tr *Tracker, id uint64)
	}{
		{"short packet is dropped", nil, func(t *testing.T, tr *Tracker, id uint64) {
			if r := udpDo(tr, []byte{1, 2, 3}, src); r != nil {
				t.Fatalf("reply %x", r)
			}
		}},
		{"connect without protocol id is dropped", nil, func(t *testing.T, tr *Tracker, id uint64) {
			p := udpConnectPacket(1)
			p[0] = 9
			if r := udpDo(tr, p, src); r != nil {
				t.Fatalf("reply %x", r)
			}
		}},
		{"unknown action", nil, func(t *testing.T, tr *Tracker, id uint64) {
			p := udpScrapePacket(id, 77, ih)
			binary.BigEndian.PutUint32(p[8:], 9)
			wantUDPError(t, udpDo(tr, p, src), 77, "unknown action")
		}},
		{"wrong connection id", nil, func(t *testing.T, tr *Tracker, id uint64) {
			wantUDPError(t, udpDo(tr, udpAnnouncePacket(id+1, 5, udpAnn{ih: ih, port: 1}), src), 5, "connection id")
		}},
		{"connection id is bound to the address", nil, func(t *testing.T, tr *Tracker, id uint64) {
			wantUDPError(t, udpDo(tr, udpAnnouncePacket(id, 5, udpAnn{ih: ih, port: 1}), "10.0.0.1:4001"), 5, "connection id")
		}},
		{"connection id from the last minute is accepted", nil, func(t *testing.T, tr *Tracker, id uint64) {
			tr.start = tr.start.Add(-udpConnIDWindow)
			parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id, 5, udpAnn{ih: ih, port: 1}), src), 5, 6)
		}},
		{"connection id expires after two minutes", nil, func(t *testing.T, tr *Tracker, id uint64) {
			tr.start = tr.start.Add(-2 * udpConnIDWindow)
			wantUDPError(t, udpDo(tr, udpAnnouncePacket(id, 5, udpAnn{ih: ih, port: 1}), src), 5, "connection id")
		}},
		{"short announce", nil, func(t *testing.T, tr *Tracker, id uint64) {
			p := udpAnnouncePacket(id, 6, udpAnn{ih: ih, port: 1})
			wantUDPError(t, udpDo(tr, p[:90], src), 6, "too short")
		}},
		{"port zero", nil, func(t *testing.T, tr *Tracker, id uint64) {
			wantUDPError(t, udpDo(tr, udpAnnouncePacket(id, 6, udpAnn{ih: ih}), src), 6, "port")
		}},
		{"bad event", nil, func(t *testing.T, tr *Tracker, id uint64) {
			wantUDPError(t, udpDo(tr, udpAnnouncePacket(id, 6, udpAnn{ih: ih, port: 1, event: 9}), src), 6, "event")
		}},
		{"announce returns other peers and counts", nil, func(t *testing.T, tr *Tracker, id uint64) {
			id2 := udpConnID(t, tr, "10.0.0.2:4000")
			udpDo(tr, udpAnnouncePacket(id2, 1, udpAnn{ih: ih, port: 6882, seed: true, event: 2, numWant: -1}), "10.0.0.2:4000")
			r := parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id, 2, udpAnn{ih: ih, port: 6881, event: 2, numWant: -1}), src), 2, 6)
			if r.interval != 120 || r.seeders != 1 || r.leechers != 1 {
				t.Fatalf("reply %+v", r)
			}
			if len(r.peers) != 1 || r.peers[0] != netip.MustParseAddrPort("10.0.0.2:6882") {
				t.Fatalf("peers %v", r.peers)
			}
		}},
		{"completed and stopped", nil, func(t *testing.T, tr *Tracker, id uint64) {
			udpDo(tr, udpAnnouncePacket(id, 1, udpAnn{ih: ih, port: 1, event: 2}), src)
			udpDo(tr, udpAnnouncePacket(id, 1, udpAnn{ih: ih, port: 1, seed: true, event: 1}), src)
			if s, _ := tr.Swarm(ih); s != (SwarmStats{Seeders: 1, Completed: 1}) {
				t.Fatalf("after completed: %+v", s)
			}
			udpDo(tr, udpAnnouncePacket(id, 1, udpAnn{ih: ih, port: 1, seed: true, event: 3}), src)
			if s, _ := tr.Swarm(ih); s != (SwarmStats{Completed: 1}) {
				t.Fatalf("after stopped: %+v", s)
			}
		}},
		{"ip field ignored by default", nil, func(t *testing.T, tr *Tracker, id uint64) {
			udpDo(tr, udpAnnouncePacket(id, 1, udpAnn{ih: ih, port: 1, ip: [4]byte{192, 0, 2, 1}}), src)
			id2 := udpConnID(t, tr, "10.0.0.2:1")
			r := parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id2, 2, udpAnn{ih: ih, port: 2, numWant: -1}), "10.0.0.2:1"), 2, 6)
			if len(r.peers) != 1 || r.peers[0].Addr() != netip.MustParseAddr("10.0.0.1") {
				t.Fatalf("peers %v", r.peers)
			}
		}},
		{"ip field honoured when allowed", func(c *Config) { c.AllowIPParam = true }, func(t *testing.T, tr *Tracker, id uint64) {
			udpDo(tr, udpAnnouncePacket(id, 1, udpAnn{ih: ih, port: 1, ip: [4]byte{192, 0, 2, 1}}), src)
			id2 := udpConnID(t, tr, "10.0.0.2:1")
			r := parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id2, 2, udpAnn{ih: ih, port: 2, numWant: -1}), "10.0.0.2:1"), 2, 6)
			if len(r.peers) != 1 || r.peers[0].Addr() != netip.MustParseAddr("192.0.2.1") {
				t.Fatalf("peers %v", r.peers)
			}
		}},
		{"IPv6 announce gets 18-byte peers of its family", nil, func(t *testing.T, tr *Tracker, id uint64) {
			udpDo(tr, udpAnnouncePacket(id, 1, udpAnn{ih: ih, port: 1}), src)
			id6a := udpConnID(t, tr, "[2001:db8::1]:1")
			udpDo(tr, udpAnnouncePacket(id6a, 1, udpAnn{ih: ih, port: 7}), "[2001:db8::1]:1")
			id6 := udpConnID(t, tr, "[2001:db8::2]:1")
			r := parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id6, 3, udpAnn{ih: ih, port: 8, numWant: -1}), "[2001:db8::2]:1"), 3, 18)
			if len(r.peers) != 1 || r.peers[0] != netip.MustParseAddrPort("[2001:db8::1]:7") || r.leechers != 3 {
				t.Fatalf("reply %+v", r)
			}
		}},
		{"numwant caps peers", nil, func(t *testing.T, tr *Tracker, id uint64) {
			for i := range 10 {
				src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), 1).String()
				udpDo(tr, udpAnnouncePacket(udpConnID(t, tr, src), 1, udpAnn{ih: ih, port: 1}), src)
			}
			r := parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id, 3, udpAnn{ih: ih, port: 8, numWant: 4}), src), 3, 6)
			if len(r.peers) != 4 {
				t.Fatalf("%d peers", len(r.peers))
			}
		}},
		{"catalog-only", func(c *Config) { c.CatalogOnly = true }, func(t *testing.T, tr *Tracker, id uint64) {
			wantUDPError(t, udpDo(tr, udpAnnouncePacket(id, 8, udpAnn{ih: ih, port: 1}), src), 8, "unregistered")
			tr.SetAllowed([][20]byte{ih})
			parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id, 8, udpAnn{ih: ih, port: 1}), src), 8, 6)
		}},
		{"swarm limit", func(c *Config) { c.MaxSwarms = 1 }, func(t *testing.T, tr *Tracker, id uint64) {
			parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id, 8, udpAnn{ih: ih, port: 1}), src), 8, 6)
			wantUDPError(t, udpDo(tr, udpAnnouncePacket(id, 9, udpAnn{ih: hashN(2), port: 1}), src), 9, "too many swarms")
			parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id, 8, udpAnn{ih: ih, port: 2}), src), 8, 6)
		}},
		{"scrape several hashes", nil, func(t *testing.T, tr *Tracker, id uint64) {
			udpDo(tr, udpAnnouncePacket(id, 1, udpAnn{ih: ih, port: 1, seed: true}), src)
			udpDo(tr, udpAnnouncePacket(id, 1, udpAnn{ih: ih, port: 2}), src)
			r := udpDo(tr, udpScrapePacket(id, 11, hashN(5), ih), src)
			want := []uint32{actionScrape, 11, 0, 0, 0, 1, 0, 1}
			if len(r) != 4*len(want) {
				t.Fatalf("scrape reply %x", r)
			}
			for i, w := range want {
				if got := binary.BigEndian.Uint32(r[4*i:]); got != w {
					t.Fatalf("word %d = %d, want %d (%x)", i, got, w, r)
				}
			}
		}},
		{"scrape without hashes", nil, func(t *testing.T, tr *Tracker, id uint64) {
			wantUDPError(t, udpDo(tr, udpScrapePacket(id, 12), src), 12, "scrape")
		}},
		{"scrape with too many hashes", nil, func(t *testing.T, tr *Tracker, id uint64) {
			hs := make([][20]byte, 75)
			wantUDPError(t, udpDo(tr, udpScrapePacket(id, 13, hs...), src), 13, "scrape")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestTracker(t, tt.config)
			tt.run(t, tr, udpConnID(t, tr, src))
		})
	}
}

func TestUDPAnnounceAllocs(t *testing.T) {
	tr := newTestTracker(t, nil)
	src := netip.MustParseAddrPort("10.0.0.1:1")
	b := newUDPBuf()
	id := tr.connID(src, tr.connWindow())
	for i := range 60 {
		p := udpAnnouncePacket(id, 1, udpAnn{ih: hashN(1), port: uint16(i + 1)})
		tr.handleUDP(p, src, b, b.out[:0])
	}
	p := udpAnnouncePacket(id, 1, udpAnn{ih: hashN(1), port: 7, numWant: -1})
	if n := testing.AllocsPerRun(1000, func() { tr.handleUDP(p, src, b, b.out[:0]) }); n != 0 {
		t.Fatalf("UDP announce allocates %v times", n)
	}
}

// TestServeUDP runs the UDP frontend on real loopback sockets of both
// families.
func TestServeUDP(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		noBatch bool
	}{{"127.0.0.1:0", false}, {"[::1]:0", false}, {"127.0.0.1:0", true}, {"[::1]:0", true}} {
		addr := tc.addr
		name := addr
		if tc.noBatch {
			name += " one by one"
		}
		t.Run(name, func(t *testing.T) {
			tr := newTestTracker(t, nil)
			tr.noBatch = tc.noBatch
			conns, err := ListenUDP(context.Background(), addr, 2)
			if err != nil {
				t.Skipf("no loopback socket for %s: %v", addr, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, len(conns))
			for _, c := range conns {
				go func() { done <- tr.ServeUDP(ctx, c) }()
			}
			defer func() {
				cancel()
				for range conns {
					if err := <-done; err != nil {
						t.Error(err)
					}
				}
				for _, c := range conns {
					c.Close()
				}
			}()
			c, err := net.Dial("udp", conns[0].LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 2048)
			c.Write(udpConnectPacket(3))
			n, err := c.Read(buf)
			if err != nil || n != 16 {
				t.Fatalf("connect: %d %v", n, err)
			}
			id := binary.BigEndian.Uint64(buf[8:])
			c.Write(udpAnnouncePacket(id, 4, udpAnn{ih: hashN(1), port: 9, numWant: -1}))
			if n, err = c.Read(buf); err != nil {
				t.Fatal(err)
			}
			size := 6
			if addr[0] == '[' {
				size = 18
			}
			r := parseUDPAnnounceReply(t, buf[:n], 4, size)
			if r.leechers != 1 {
				t.Fatalf("reply %+v", r)
			}
			if s := tr.Stats(); s.UDPConnects != 1 || s.UDPAnnounces != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// FuzzUDPPacket checks that no packet panics the UDP frontend and that
// every reply is a well-formed BEP 15 packet for the packet's transaction.
func FuzzUDPPacket(f *testing.F) {
	tr := newTestTracker(f, nil)
	src := netip.MustParseAddrPort("10.0.0.1:4000")
	id := tr.connID(src, tr.connWindow())
	f.Add(udpConnectPacket(1))
	f.Add(udpAnnouncePacket(id, 2, udpAnn{ih: hashN(1), port: 1, numWant: -1}))
	f.Add(udpAnnouncePacket(id, 2, udpAnn{ih: hashN(1), port: 1, event: 3}))
	f.Add(udpScrapePacket(id, 3, hashN(1), hashN(2)))
	f.Add([]byte{0, 0, 4, 23, 39, 16, 25, 128})
	b := newUDPBuf()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		// Let valid connection ids through often, so that announces and
		// scrapes get past the first check.
		if len(pkt) >= 16 && pkt[0]&1 == 0 {
			binary.BigEndian.PutUint64(pkt, id)
		}
		out := tr.handleUDP(pkt, src, b, b.out[:0])
		if len(out) == 0 {
			return
		}
		if len(out) < 8 || !bytes.Equal(out[4:8], pkt[12:16]) {
			t.Fatalf("reply %x to %x", out, pkt)
		}
		switch binary.BigEndian.Uint32(out) {
		case actionConnect:
			if len(out) != 16 {
				t.Fatalf("connect reply %x", out)
			}
		case actionAnnounce:
			if len(out) < 20 || (len(out)-20)%6 != 0 {
				t.Fatalf("announce reply %x", out)
			}
		case actionScrape:
			if (len(out)-8)%12 != 0 {
				t.Fatalf("scrape reply %x", out)
			}
		case actionError:
		default:
			t.Fatalf("reply with action %x", out[:4])
		}
	})
}

// TestServeUDPAllocs checks that answering announces on a real socket
// makes no garbage per packet.
func TestServeUDPAllocs(t *testing.T) {
	tr := newTestTracker(t, nil)
	tr.cfg.UDPReaders = 1
	conns, err := ListenUDP(context.Background(), "127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.ServeUDP(ctx, conns[0]) }()
	defer func() {
		cancel()
		<-done
		conns[0].Close()
	}()
	c, err := net.Dial("udp", conns[0].LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2048)
	c.Write(udpConnectPacket(3))
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	p := udpAnnouncePacket(binary.BigEndian.Uint64(buf[8:]), 4, udpAnn{ih: hashN(1), port: 9, numWant: -1})
	roundTrips := func(n int) {
		for range n {
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	roundTrips(100)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 5000
	roundTrips(n)
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.1 {
		t.Fatalf("%.2f allocations per announce round trip", per)
	}
}

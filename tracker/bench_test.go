package tracker

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
)

// BenchmarkUDPAnnounce measures one UDP announce into a swarm of 50 peers,
// without the socket.
func BenchmarkUDPAnnounce(b *testing.B) {
	tr := newTestTracker(b, nil)
	buf := newUDPBuf()
	for i := range 50 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1)
		p := udpAnnouncePacket(tr.connID(src, tr.connWindow()), 1, udpAnn{ih: hashN(1), port: 1})
		tr.handleUDP(p, src, buf, buf.out[:0])
	}
	src := netip.MustParseAddrPort("10.0.1.1:1")
	p := udpAnnouncePacket(tr.connID(src, tr.connWindow()), 1, udpAnn{ih: hashN(1), port: 1, numWant: -1})
	b.ReportAllocs()
	for b.Loop() {
		tr.handleUDP(p, src, buf, buf.out[:0])
	}
}

// BenchmarkUDPAnnounceManySwarms spreads announces over 100,000 swarms.
func BenchmarkUDPAnnounceManySwarms(b *testing.B) {
	tr := newTestTracker(b, nil)
	buf := newUDPBuf()
	src := netip.MustParseAddrPort("10.0.1.1:1")
	p := udpAnnouncePacket(tr.connID(src, tr.connWindow()), 1, udpAnn{port: 1, numWant: -1})
	b.ReportAllocs()
	i := uint32(0)
	for b.Loop() {
		binary.BigEndian.PutUint32(p[16:], i%100_000)
		binary.BigEndian.PutUint16(p[96:], uint16(1+i%10))
		tr.handleUDP(p, src, buf, buf.out[:0])
		i++
	}
}

// BenchmarkHTTPAnnounceBody measures the answer to an HTTP announce into a
// swarm of 50 peers, without the connection: compact, and as dictionaries
// with their peer ids.
func BenchmarkHTTPAnnounceBody(b *testing.B) {
	for _, bc := range []struct{ name, params string }{
		{"compact", "&left=0&compact=1"},
		{"non-compact", "&left=0&compact=0&event=started"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := newTestTracker(b, nil)
			remote := netip.MustParseAddr("10.0.1.1")
			var hb httpBuf
			q := announceQ(hashN(1), 1, bc.params)[len("/announce?"):]
			for i := range 50 {
				tr.announceBody(&hb, announceQ(hashN(1), i+2, "")[len("/announce?"):], remote, nil)
			}
			b.ReportAllocs()
			for b.Loop() {
				tr.announceBody(&hb, q, remote, nil)
			}
		})
	}
}

// BenchmarkServeTCPNoKeepAlive measures an HTTP announce on a connection
// of its own over loopback, ListenTCP and ServeTCP as the daemon runs
// them; the client's work is counted too.
func BenchmarkServeTCPNoKeepAlive(b *testing.B) {
	tr := newTestTracker(b, nil)
	ln, err := ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := serveTCP(b, tr, ln)
	req := []byte("GET " + announceQ(hashN(1), 1, "&compact=1") + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n, err := io.ReadFull(c, buf)
		if err != io.ErrUnexpectedEOF || !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200")) {
			b.Fatalf("%q %v", buf[:n], err)
		}
		c.Close()
	}
}

package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"
)

// UDP tracker protocol (BEP 15).
const (
	udpProtocolID = 0x41727101980

	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3

	udpAnnounceLen   = 98
	udpMaxScrape     = 74 // hashes in one scrape, as BEP 15 allows
	udpConnIDWindow  = time.Minute
	udpMaxPacketSize = 2048
)

// udpBuf holds one reader's buffers; a reader reuses them for every packet.
type udpBuf struct {
	in, out, p4, p6 []byte
}

func newUDPBuf() *udpBuf {
	return &udpBuf{
		in:  make([]byte, udpMaxPacketSize),
		out: make([]byte, 0, 20+maxNumWantLimit*18),
		p4:  make([]byte, 0, maxNumWantLimit*6),
		p6:  make([]byte, 0, maxNumWantLimit*18),
	}
}

// connID returns the connection id of src in the given minute. Ids are not
// stored: a keyed hash of the client's address and port and the time
// window is checked on each announce, and an id is accepted for one to two
// minutes.
func (t *Tracker) connID(src netip.AddrPort, window int64) uint64 {
	var b [26]byte
	a := src.Addr().As16()
	copy(b[:16], a[:])
	binary.BigEndian.PutUint16(b[16:], src.Port())
	binary.BigEndian.PutUint64(b[18:], uint64(window))
	return maphash.Bytes(t.connKey, b[:])
}

func (t *Tracker) connWindow() int64 {
	return int64(time.Since(t.start) / udpConnIDWindow)
}

func (t *Tracker) validConnID(id uint64, src netip.AddrPort) bool {
	w := t.connWindow()
	return id == t.connID(src, w) || id == t.connID(src, w-1)
}

var (
	errUDPConnID  = fail("invalid connection id")
	errUDPAction  = fail("unknown action")
	errUDPShort   = fail("packet too short")
	errUDPScrapeN = fail("scrape needs 1 to 74 info hashes")
)

// handleUDP answers one packet from src, appending the reply to out. It
// returns out unchanged when the packet deserves no reply.
func (t *Tracker) handleUDP(pkt []byte, src netip.AddrPort, b *udpBuf, out []byte) []byte {
	if len(pkt) < 16 {
		t.counters.udpErrs.Add(1)
		return out
	}
	connID := binary.BigEndian.Uint64(pkt)
	action := binary.BigEndian.Uint32(pkt[8:])
	tid := binary.BigEndian.Uint32(pkt[12:])
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())

	if action == actionConnect {
		if connID != udpProtocolID {
			t.counters.udpErrs.Add(1)
			return out
		}
		t.counters.udpConnects.Add(1)
		out = binary.BigEndian.AppendUint32(out, actionConnect)
		out = binary.BigEndian.AppendUint32(out, tid)
		return binary.BigEndian.AppendUint64(out, t.connID(src, t.connWindow()))
	}
	if action != actionAnnounce && action != actionScrape {
		return t.udpError(out, tid, errUDPAction)
	}
	if !t.validConnID(connID, src) {
		return t.udpError(out, tid, errUDPConnID)
	}
	if action == actionScrape {
		return t.udpScrape(pkt[16:], tid, out)
	}
	if len(pkt) < udpAnnounceLen {
		return t.udpError(out, tid, errUDPShort)
	}

	op := announceOp{
		infohash: [20]byte(pkt[16:36]),
		peerID:   [20]byte(pkt[36:56]),
		seeder:   binary.BigEndian.Uint64(pkt[64:]) == 0,
		numWant:  int(int32(binary.BigEndian.Uint32(pkt[92:]))),
	}
	switch binary.BigEndian.Uint32(pkt[80:]) {
	case 0:
		op.event = eventNone
	case 1:
		op.event = eventCompleted
	case 2:
		op.event = eventStarted
	case 3:
		op.event = eventStopped
	default:
		return t.udpError(out, tid, errInvalidEvent)
	}
	port := binary.BigEndian.Uint16(pkt[96:])
	if port == 0 {
		return t.udpError(out, tid, errInvalidPort)
	}
	ip := src.Addr()
	if ipField := binary.BigEndian.Uint32(pkt[84:]); ipField != 0 && t.cfg.AllowIPParam && ip.Is4() {
		ip = netip.AddrFrom4([4]byte(pkt[84:88]))
	}
	op.addr = netip.AddrPortFrom(ip, port)
	is4 := ip.Is4()
	res, p4, p6, err := t.announce(&op, is4, !is4, b.p4[:0], b.p6[:0])
	b.p4, b.p6 = p4, p6
	if err != nil {
		if err == errSwarmLimit {
			t.counters.refused.Add(1)
		}
		return t.udpError(out, tid, err)
	}
	t.counters.udpAnnounces.Add(1)
	out = binary.BigEndian.AppendUint32(out, actionAnnounce)
	out = binary.BigEndian.AppendUint32(out, tid)
	out = binary.BigEndian.AppendUint32(out, uint32(t.interval))
	out = binary.BigEndian.AppendUint32(out, uint32(res.leechers))
	out = binary.BigEndian.AppendUint32(out, uint32(res.seeders))
	out = append(out, p4...)
	return append(out, p6...)
}

func (t *Tracker) udpScrape(hashes []byte, tid uint32, out []byte) []byte {
	n := len(hashes) / 20
	if n == 0 || n > udpMaxScrape {
		return t.udpError(out, tid, errUDPScrapeN)
	}
	t.counters.udpScrapes.Add(1)
	out = binary.BigEndian.AppendUint32(out, actionScrape)
	out = binary.BigEndian.AppendUint32(out, tid)
	for i := range n {
		ih := [20]byte(hashes[i*20 : i*20+20])
		s, l, c, _ := t.scrape(&ih)
		out = binary.BigEndian.AppendUint32(out, uint32(s))
		out = binary.BigEndian.AppendUint32(out, uint32(c))
		out = binary.BigEndian.AppendUint32(out, uint32(l))
	}
	return out
}

func (t *Tracker) udpError(out []byte, tid uint32, err error) []byte {
	t.counters.udpErrs.Add(1)
	out = binary.BigEndian.AppendUint32(out, actionError)
	out = binary.BigEndian.AppendUint32(out, tid)
	return append(out, err.Error()...)
}

// ServeUDP answers UDP tracker packets read from conn until ctx is done,
// and returns nil then. It reads with Config.UDPReaders goroutines; to spread
// the work over cores with separate sockets, see ListenUDP. ServeUDP does
// not close conn.
func (t *Tracker) ServeUDP(ctx context.Context, conn net.PacketConn) error {
	readers := t.cfg.UDPReaders
	if readers == 0 {
		readers = runtime.GOMAXPROCS(0)
	}
	return t.serveUDP(ctx, conn, readers)
}

func (t *Tracker) serveUDP(ctx context.Context, conn net.PacketConn, readers int) error {
	stop := context.AfterFunc(ctx, func() {
		// Unblock the readers; conn belongs to the caller.
		conn.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	errs := make([]error, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() { errs[i] = t.udpReader(ctx, conn) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// udpReader reads and answers packets one by one. A panic while answering
// a packet is logged and the packet dropped.
func (t *Tracker) udpReader(ctx context.Context, conn net.PacketConn) error {
	b := newUDPBuf()
	for {
		err, retry := t.udpLoop(ctx, conn, b)
		if !retry {
			return err
		}
	}
}

func (t *Tracker) udpLoop(ctx context.Context, conn net.PacketConn, b *udpBuf) (err error, retry bool) {
	defer func() {
		if p := recover(); p != nil {
			t.counters.udpErrs.Add(1)
			t.log.Error("udp packet handler panicked", slog.Any(logKeyErr, p))
			retry = true
		}
	}()
	uc, _ := conn.(*net.UDPConn)
	if uc != nil && !t.noBatch {
		if handled, err := t.udpBatchLoop(ctx, uc, b); handled {
			return err, false
		}
	}
	for {
		var n int
		var src netip.AddrPort
		if uc != nil {
			n, src, err = uc.ReadFromUDPAddrPort(b.in)
		} else {
			var a net.Addr
			n, a, err = conn.ReadFrom(b.in)
			if ua, ok := a.(*net.UDPAddr); ok {
				src = ua.AddrPort()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, false
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("tracker: read udp: %w", err), false
		}
		if !src.IsValid() {
			continue
		}
		out := t.handleUDP(b.in[:n], src, b, b.out[:0])
		if len(out) == 0 {
			continue
		}
		b.out = out
		if uc != nil {
			_, err = uc.WriteToUDPAddrPort(out, src)
		} else {
			_, err = conn.WriteTo(out, net.UDPAddrFromAddrPort(src))
		}
		if err != nil && ctx.Err() == nil {
			// The client may be gone; a send error affects only this reply.
			t.log.Debug("udp reply failed", slog.String(logKeyAddr, src.String()), slog.Any(logKeyErr, err))
		}
	}
}

package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux a UDP reader takes up to udpBatch packets per recvmmsg call and
// sends the replies with one sendmmsg call, so that a busy tracker makes two
// system calls per batch instead of two per announce.
const udpBatch = 32

type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

type mmsgState struct {
	in    []byte // udpBatch input buffers of udpMaxPacketSize
	names [udpBatch]unix.RawSockaddrInet6
	iovs  [udpBatch]unix.Iovec
	hdrs  [udpBatch]mmsghdr

	outs  [udpBatch][]byte
	siovs [udpBatch]unix.Iovec
	shdrs [udpBatch]mmsghdr
}

func newMmsgState(maxReply int) *mmsgState {
	m := &mmsgState{in: make([]byte, udpBatch*udpMaxPacketSize)}
	for i := range m.outs {
		m.outs[i] = make([]byte, 0, maxReply)
	}
	return m
}

// udpBatchLoop serves conn with recvmmsg and sendmmsg. It returns
// handled=false when conn does not allow raw access.
func (t *Tracker) udpBatchLoop(ctx context.Context, conn *net.UDPConn, b *udpBuf) (handled bool, err error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false, nil
	}
	m := newMmsgState(20 + t.cfg.MaxNumWant*18)
	// The system-call closures are made once: made in the loop, each call
	// would allocate.
	var n, k, sent int
	var errno unix.Errno
	recv := func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), udpBatch, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		n, errno = int(r), e
		return true
	}
	send := func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.shdrs[sent])), uintptr(k-sent), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		n, errno = int(r), e
		return true
	}
	for {
		for i := range m.hdrs {
			m.iovs[i].Base = &m.in[i*udpMaxPacketSize]
			m.iovs[i].SetLen(udpMaxPacketSize)
			h := &m.hdrs[i]
			h.hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&m.names[i])), Namelen: unix.SizeofSockaddrInet6, Iov: &m.iovs[i]}
			h.hdr.SetIovlen(1)
			h.len = 0
		}
		rerr := rc.Read(recv)
		if rerr != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			var ne net.Error
			if errors.As(rerr, &ne) && ne.Timeout() {
				continue
			}
			return true, fmt.Errorf("tracker: read udp: %w", rerr)
		}
		if errno != 0 {
			if errno == unix.EINTR || errno == unix.ENOMEM || errno == unix.ECONNREFUSED {
				continue
			}
			return true, fmt.Errorf("tracker: recvmmsg: %w", errno)
		}

		k = 0
		for i := range n {
			src, ok := sockaddrAddrPort(&m.names[i], m.hdrs[i].hdr.Namelen)
			if !ok {
				continue
			}
			pkt := m.in[i*udpMaxPacketSize : i*udpMaxPacketSize+int(m.hdrs[i].len)]
			out := t.handleUDP(pkt, src, b, m.outs[k][:0])
			if len(out) == 0 {
				continue
			}
			m.outs[k] = out
			m.siovs[k].Base = &out[0]
			m.siovs[k].SetLen(len(out))
			sh := &m.shdrs[k]
			sh.hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&m.names[i])), Namelen: m.hdrs[i].hdr.Namelen, Iov: &m.siovs[k]}
			sh.hdr.SetIovlen(1)
			k++
		}
		for sent = 0; sent < k; {
			werr := rc.Write(send)
			if werr != nil {
				if ctx.Err() != nil {
					return true, nil
				}
				break
			}
			if errno != 0 {
				// The first unsent reply failed (e.g. its client is gone):
				// skip it and send the rest.
				t.log.Debug("udp reply failed", slog.Any(logKeyErr, errno))
				sent++
				continue
			}
			sent += n
		}
	}
}

func sockaddrAddrPort(sa *unix.RawSockaddrInet6, n uint32) (netip.AddrPort, bool) {
	port := func(p *uint16) uint16 {
		b := (*[2]byte)(unsafe.Pointer(p))
		return uint16(b[0])<<8 | uint16(b[1])
	}
	switch sa.Family {
	case unix.AF_INET:
		if n < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(&sa4.Port)), true
	case unix.AF_INET6:
		if n < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port(&sa.Port)), true
	}
	return netip.AddrPort{}, false
}

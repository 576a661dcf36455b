package tracker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawAccept says that ServeTCP takes a *net.TCPListener's connections
// with acceptRaw.
const rawAccept = true

// acceptRaw is ServeTCP's accept loop on Linux. It accepts with accept4
// itself and answers a request that has arrived whole, as with
// TCP_DEFER_ACCEPT (ListenTCP) nearly every one has, on the bare socket:
// one read, one write, one close, without a net.Conn, a poller
// registration, timers or a goroutine. Those cost a short connection more
// than the announce. Anything else (no request yet, one that comes in
// pieces, keep-alive, an answer the socket does not take at once)
// continues in a goroutine of its own, as serveConn would serve it.
func (t *Tracker) acceptRaw(ctx context.Context, ln *net.TCPListener, wg *sync.WaitGroup) error {
	// A listener's RawConn cannot wait for a connection; a duplicate of
	// its descriptor as an *os.File can. ServeTCP closes ln when ctx is
	// done, this f.
	f, err := ln.File()
	if err != nil {
		return fmt.Errorf("tracker: accept: %w", err)
	}
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("tracker: accept: %w", err)
	}
	if err := t.deferAccept(rc); err != nil {
		t.log.Warn("accepting connections before their request comes", slog.Any(logKeyErr, err))
	}
	var (
		fd   int
		sa   unix.RawSockaddrAny
		aerr unix.Errno
	)
	accept := func(lfd uintptr) bool {
		fd, aerr = accept4(int(lfd), &sa)
		return aerr != unix.EAGAIN
	}
	var delay time.Duration
	for {
		if err := rc.Read(accept); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tracker: accept: %w", err)
		}
		switch aerr {
		case 0:
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of descriptors or the like: back off as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t.log.Warn("accept failed", slog.Any(logKeyErr, os.NewSyscallError("accept4", aerr)))
			time.Sleep(delay)
			continue
		default:
			return fmt.Errorf("tracker: accept: %w", os.NewSyscallError("accept4", aerr))
		}
		delay = 0
		remote := sockaddrAddr(&sa)
		if t.local != nil {
			// An announce may wait for the seeder to load its torrent:
			// that must not hold up the accepts behind it.
			c := fd
			wg.Go(func() { t.serveFD(ctx, c, remote, wg) })
			continue
		}
		t.serveFD(ctx, fd, remote, wg)
	}
}

// serveFD answers the request on the new socket fd if it is all there,
// and closes fd; otherwise it hands fd to a goroutine of its own.
func (t *Tracker) serveFD(ctx context.Context, fd int, remote netip.Addr, wg *sync.WaitGroup) {
	st := connStates.Get().(*connState)
	defer func() {
		if p := recover(); p != nil {
			closeFD(fd)
			t.counters.httpErrors.Add(1)
			t.log.Error("http connection handler panicked", slog.Any(logKeyErr, p))
		}
	}()
	n, rerr := read(fd, st.in)
	switch {
	case rerr == unix.EAGAIN:
		n = 0
	case rerr != 0 || n == 0:
		// Reset, or closed before it asked anything.
		closeFD(fd)
		connStates.Put(st)
		return
	}
	st.pre = prefixReader{buf: st.in[:n]}
	st.br.Reset(&st.pre)
	keep, err := t.serveRequest(st, remote, nil)
	if err == errNeedMore {
		// Read the request again from its start, with the rest from the
		// connection.
		st.pre.buf = st.in[:n]
		st.br.Reset(&st.pre)
		st.w = st.w[:0]
		t.handOff(ctx, fd, st, remote, true, wg)
		return
	}
	if len(st.w) > 0 {
		n, werr := write(fd, st.w)
		if werr == unix.EAGAIN {
			n = 0
		} else if werr != 0 {
			n = len(st.w)
			keep = false
		}
		if st.w = st.w[:copy(st.w, st.w[n:])]; len(st.w) > 0 || keep && err == nil {
			t.handOff(ctx, fd, st, remote, keep && err == nil, wg)
			return
		}
	}
	closeFD(fd)
	connStates.Put(st)
}

// handOff serves fd on in a goroutine of its own, as an *os.File: that
// takes neither the dup nor the keep-alive options of net.FileConn. st is
// the connection's state so far, as continueConn takes it.
func (t *Tracker) handOff(ctx context.Context, fd int, st *connState, remote netip.Addr, keep bool, wg *sync.WaitGroup) {
	// As net does: answers to pipelined requests must not wait for the
	// client's ACK of the one before.
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	f := os.NewFile(uintptr(fd), "tcp")
	st.pre.next = f
	wg.Go(func() { t.continueConn(ctx, f, st, remote, keep) })
}

func sockaddrAddr(sa *unix.RawSockaddrAny) netip.Addr {
	switch sa.Addr.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16((*unix.RawSockaddrInet6)(unsafe.Pointer(sa)).Addr)
	}
	return netip.Addr{}
}

// accept4, read, write and closeFD are the system calls of acceptRaw and
// serveFD. All are on non-blocking sockets and return at once, so they are
// made raw: without the scheduler's bookkeeping, in which sysmon hands the
// P to another thread while a write delivers its reply over loopback. On
// one core that made two thread switches for each connection.

func accept4(lfd int, sa *unix.RawSockaddrAny) (int, unix.Errno) {
	l := uint32(unix.SizeofSockaddrAny)
	fd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(sa)), uintptr(unsafe.Pointer(&l)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	return int(fd), e
}

func read(fd int, p []byte) (int, unix.Errno) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(n), e
}

func write(fd int, p []byte) (int, unix.Errno) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(n), e
}

func closeFD(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// deferAccept makes the kernel hand a connection to accept only once its
// first bytes have come (TCP_DEFER_ACCEPT), so that acceptRaw finds the
// request there to read; or, without them, after the idle timeout (whole
// seconds, at most deferAcceptSeconds), when serveConn would have closed a
// silent connection: it then has the idle timeout again.
func (t *Tracker) deferAccept(c syscall.RawConn) error {
	secs := min(max(int((t.cfg.IdleTimeout+time.Second-1)/time.Second), 1), deferAcceptSeconds)
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, secs)
	}); err != nil {
		return err
	}
	return serr
}

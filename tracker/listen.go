package tracker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
)

// ListenUDP opens n UDP sockets on addr with SO_REUSEPORT, so that the
// kernel spreads clients over them and each can be served by its own
// ServeUDP on its own core.
func ListenUDP(ctx context.Context, addr string, n int) ([]net.PacketConn, error) {
	if n < 1 {
		n = 1
	}
	lc := net.ListenConfig{Control: reusePort}
	conns := make([]net.PacketConn, 0, n)
	for range n {
		c, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("tracker: listen udp %s: %w", addr, err)
		}
		if len(conns) == 0 {
			// Later sockets must share the port the first one got (addr
			// may say port 0).
			addr = c.LocalAddr().String()
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// ListenTCP opens the HTTP tracker's TCP listener. Accepted connections
// get no TCP keep-alive probes: announces are short, idle connections are
// closed by ServeTCP, and the setsockopt calls would cost a tenth of a
// connection's time.
func ListenTCP(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tracker: listen tcp %s: %w", addr, err)
	}
	return ln, nil
}

// listenTCP is ListenTCP, for Listen; a test makes it pick a taken port.
var listenTCP = ListenTCP

// Listeners are the tracker's sockets: HTTP over TCP and UDP on one port.
type Listeners struct {
	TCP net.Listener
	UDP []net.PacketConn
}

// Listen opens the TCP listener and udpSockets UDP sockets on the same
// port of addr (port 0 picks one for both). Serve takes them; Close is
// for a caller that gives up before serving.
func Listen(ctx context.Context, addr string, udpSockets int) (*Listeners, error) {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		ln, err := listenTCP(ctx, addr)
		if err != nil {
			return nil, err
		}
		conns, err := ListenUDP(ctx, ln.Addr().String(), udpSockets)
		if err == nil {
			return &Listeners{TCP: ln, UDP: conns}, nil
		}
		ln.Close()
		// A port the kernel picked for TCP may be taken for UDP: pick
		// another. A port that was asked for is the caller's to fix.
		if port != "0" || attempt == 20 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
}

// Addr is the address served, its port the same for TCP and UDP.
func (l *Listeners) Addr() net.Addr { return l.TCP.Addr() }

// Close closes every socket.
func (l *Listeners) Close() error {
	errs := []error{l.TCP.Close()}
	for _, c := range l.UDP {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ListenAndServe serves HTTP and UDP on addr (the same port for both) until
// ctx is done, with udpSockets UDP sockets, and runs the expiry loop. It
// returns nil after a clean shutdown.
func (t *Tracker) ListenAndServe(ctx context.Context, addr string, udpSockets int) error {
	l, err := Listen(ctx, addr, udpSockets)
	if err != nil {
		return err
	}
	return t.Serve(ctx, l.TCP, l.UDP)
}

// Serve serves HTTP on ln (with ServeTCP) and UDP on conns until ctx is
// done, and runs the expiry loop. It closes ln and conns before it returns.
func (t *Tracker) Serve(ctx context.Context, ln net.Listener, conns []net.PacketConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(conns)+2)
	// With a socket per core, one reader each; with one socket, as many
	// readers as ServeUDP would use.
	readers := 1
	if len(conns) == 1 {
		readers = t.cfg.UDPReaders
		if readers == 0 {
			readers = runtime.GOMAXPROCS(0)
		}
	}
	for i, c := range conns {
		wg.Go(func() {
			if errs[i] = t.serveUDP(ctx, c, readers); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Go(func() { errs[len(conns)] = t.Run(ctx) })
	wg.Go(func() {
		if errs[len(conns)+1] = t.ServeTCP(ctx, ln); errs[len(conns)+1] != nil {
			cancel()
		}
	})
	<-ctx.Done()
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	return errors.Join(errs...)
}

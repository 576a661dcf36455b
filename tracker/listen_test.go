package tracker

import (
	"context"
	"net"
	"testing"
)

// TestListenPortZeroAvoidsTakenUDPPorts: with port 0, a TCP port whose
// number is taken for UDP is given up for another, so that HTTP and UDP
// still share one port; a port asked for is not.
func TestListenPortZeroAvoidsTakenUDPPorts(t *testing.T) {
	// The first TCP port the kernel "picks" has its UDP side taken.
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.LocalAddr().String()
	calls := 0
	listenTCP = func(ctx context.Context, addr string) (net.Listener, error) {
		calls++
		if calls == 1 {
			addr = busy
		}
		return ListenTCP(ctx, addr)
	}
	defer func() { listenTCP = ListenTCP }()

	l, err := Listen(context.Background(), "127.0.0.1:0", 2)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close()
	tcp, udp := l.TCP.Addr().(*net.TCPAddr).Port, l.UDP[0].LocalAddr().(*net.UDPAddr).Port
	if calls != 2 || tcp != udp || l.Addr().String() == busy {
		t.Errorf("after %d tries: TCP port %d, UDP port %d (taken: %s)", calls, tcp, udp, busy)
	}
	// A port given by the caller is not swapped for another.
	calls = 1
	if l, err := Listen(context.Background(), busy, 1); err == nil {
		l.Close()
		t.Errorf("Listen on %s, whose UDP side is taken, succeeded", busy)
	}
}

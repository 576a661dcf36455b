package netlab

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needLab skips the test where labs cannot be built, and fails it under CI.
func needLab(t *testing.T) {
	t.Helper()
	if err := Available(context.Background()); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs network namespaces: %v", err)
		}
		t.Skipf("skipping: %v (run the tests as root)", err)
	}
}

func newLab(t *testing.T, cfg Config) *Lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

func TestLabReachAndShape(t *testing.T) {
	needLab(t)
	const rate = 40e6 // bits per second
	l := newLab(t, Config{Hosts: 2, Rate: "40mbit"})
	ctx := context.Background()
	a, b := l.Host(0), l.Host(1)
	if a.Addr != netip.MustParseAddr("10.77.0.1") || b.Addr != netip.MustParseAddr("10.77.0.2") {
		t.Fatalf("addresses %s %s, want 10.77.0.1 10.77.0.2", a.Addr, b.Addr)
	}

	// Command runs inside the namespace: it sees the host's address.
	out, err := b.Command(ctx, "ip", "-j", "addr", "show", "dev", Iface).Output()
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		AddrInfo []struct{ Local string } `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip addr in %s: %v %s", b.NS, err, out)
	}
	if !strings.Contains(string(out), `"local":"10.77.0.2"`) {
		t.Fatalf("host 1 does not see its address: %s", out)
	}
	// and the machine's own interfaces are not there.
	if all, _ := b.Command(ctx, "ip", "-o", "link").Output(); bytes.Count(all, []byte("\n")) != 2 {
		t.Fatalf("host 1 sees other links than lo and %s:\n%s", Iface, all)
	}

	// Each host reaches the other.
	echo(t, a, b)
	echo(t, b, a)

	// 5 MB from b to a go through at about the link's rate.
	before, err := b.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	allBefore, err := l.AllCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const size = 5 << 20
	ln, err := a.Listen("tcp", a.Addr.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	c, err := b.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := io.Copy(c, io.LimitReader(zeros{}, size)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := <-got; n != size {
		t.Fatalf("received %d bytes, want %d", n, size)
	}
	elapsed := time.Since(start)
	bps := size * 8 / elapsed.Seconds()
	t.Logf("5 MiB in %s: %.1f Mbit/s on a 40mbit link", elapsed.Round(time.Millisecond), bps/1e6)
	if bps > rate*1.1 || bps < rate*0.6 {
		t.Errorf("throughput %.1f Mbit/s, want about 40", bps/1e6)
	}
	after, err := b.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := after.Sub(before); d.TxBytes < size || d.TxBytes > size*11/10 {
		t.Errorf("host 1 sent %d bytes by its counters, want a little over %d", d.TxBytes, size)
	}
	// Read from the bridge's side: host 1 sent it, host 0 received it.
	allAfter, err := l.AllCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(allAfter) != 2 {
		t.Fatalf("AllCounters: %d hosts, want 2", len(allAfter))
	}
	if d := allAfter[1].Sub(allBefore[1]); d.TxBytes < size || d.TxBytes > size*11/10 || d.RxBytes > size/10 {
		t.Errorf("AllCounters: host 1 sent %d bytes and received %d, want a little over %d sent and little received", d.TxBytes, d.RxBytes, size)
	}
	if d := allAfter[0].Sub(allBefore[0]); d.RxBytes < size || d.RxBytes > size*11/10 {
		t.Errorf("AllCounters: host 0 received %d bytes, want a little over %d", d.RxBytes, size)
	}
}

// echo checks that from reaches to over TCP.
func echo(t *testing.T, from, to *Host) {
	t.Helper()
	ln, err := to.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := from.DialContext(ctx, "tcp", netip.AddrPortFrom(to.Addr, uint16(port)).String())
	if err != nil {
		t.Fatalf("%s to %s: %v", from.Addr, to.Addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("%s to %s: echo %q, %v", from.Addr, to.Addr, buf, err)
	}
	if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); got != from.Addr {
		t.Fatalf("connection from %s, want %s", got, from.Addr)
	}
}

// TestLabQueue: a lab's links queue Config.Queue packets at each end, in
// a FIFO under the rate limit.
func TestLabQueue(t *testing.T) {
	needLab(t)
	l := newLab(t, Config{Hosts: 1, Rate: "20mbit", Queue: 37})
	ctx := context.Background()
	for _, end := range []struct{ ns, dev string }{{l.Host(0).NS, Iface}, {l.BridgeNS(), l.port(0)}} {
		out, err := exec.CommandContext(ctx, "tc", "-n", end.ns, "qdisc", "show", "dev", end.dev).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`qdisc pfifo 10: parent 1:1 limit 37p`).Match(out) {
			t.Errorf("%s in %s: no FIFO of 37 packets under the rate limit:\n%s", end.dev, end.ns, out)
		}
	}
}

// TestLabRates: a host given its own rate has it at both ends of its
// link, and the others have the lab's.
func TestLabRates(t *testing.T) {
	needLab(t)
	l := newLab(t, Config{Hosts: 2, Rate: "20mbit", Rates: []string{"200mbit"}})
	ctx := context.Background()
	for i, want := range []string{"200Mbit", "20Mbit"} {
		for _, end := range []struct{ ns, dev string }{{l.Host(i).NS, Iface}, {l.BridgeNS(), l.port(i)}} {
			out, err := exec.CommandContext(ctx, "tc", "-n", end.ns, "class", "show", "dev", end.dev).Output()
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`class htb 1:1 .*rate ` + want + ` ceil ` + want).Match(out) {
				t.Errorf("host %d, %s in %s: want rate %s:\n%s", i, end.dev, end.ns, want, out)
			}
		}
	}
}

func TestLabDelay(t *testing.T) {
	needLab(t)
	if !DelaySupported(context.Background()) {
		t.Skip("skipping: the kernel has no netem qdisc, so labs cannot add delay")
	}
	l := newLab(t, Config{Hosts: 2, Delay: "10ms"})
	ln, err := l.Host(0).Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := netip.AddrPortFrom(l.Host(0).Addr, uint16(ln.Addr().(*net.TCPAddr).Port)).String()
	start := time.Now()
	c, err := l.Host(1).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// A handshake is one round trip: four links of 10ms.
	if rtt := time.Since(start); rtt < 40*time.Millisecond {
		t.Errorf("connect took %s, want >= 40ms", rtt)
	}
}

func TestLabCloseRemovesAll(t *testing.T) {
	needLab(t)
	ctx := context.Background()
	l, err := New(ctx, Config{Hosts: 3, Rate: "10mbit", Prefix: "lsd-closetest-"})
	if err != nil {
		t.Fatal(err)
	}
	// A process left running in a host does not keep its namespace.
	sleep := l.Host(2).Command(ctx, "sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	sleep.Wait()
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "lsd-closetest-") {
		t.Fatalf("namespaces left after Close:\n%s", out)
	}
}

// TestLabsAtOnce builds labs in parallel in one process: the default names
// must not collide.
func TestLabsAtOnce(t *testing.T) {
	needLab(t)
	for i := range 3 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			l := newLab(t, Config{Hosts: 2})
			echo(t, l.Host(0), l.Host(1))
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Hosts: 0},
		{Hosts: 300},
		{Hosts: 2, Subnet: netip.MustParsePrefix("fd00::/64")},
	} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

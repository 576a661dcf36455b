// Package netlab builds a shaped LAN of Linux network namespaces on one machine, for tests and benchmarks run as root.
package netlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Iface is the name of every host's interface to the LAN.
const Iface = "eth0"

// bridgeName is the bridge inside the lab's bridge namespace.
const bridgeName = "br0"

// ErrNoNetem is returned by New when Config.Delay is set and the kernel has
// no netem qdisc (CONFIG_NET_SCH_NETEM).
var ErrNoNetem = errors.New("netlab: delay needs the netem qdisc, which this kernel lacks")

// Config describes a lab.
type Config struct {
	// Hosts is the number of host namespaces; at least 1.
	Hosts int
	// Rate limits every link in each direction, in tc's syntax ("50mbit",
	// "1gbit"); empty leaves the links unshaped.
	Rate string
	// Rates, where Rates[i] is not empty, limits host i's link instead of
	// Rate, in each direction: a server on a faster link than its
	// clients'.
	Rates []string
	// Delay is added in each direction of every link, in tc's syntax
	// ("2ms"), so a round trip between two hosts takes four times it;
	// empty adds none. It needs the kernel's netem qdisc (see
	// DelaySupported).
	Delay string
	// Queue is how many packets may wait at each end of a shaped link,
	// in a FIFO under the rate limit (a netem delay's own queue when there
	// is a delay); 0 leaves the kernel's default, the veth's txqueuelen
	// (1,000 packets, 0.6 s at 20 Mbit/s). This kernel has no AQM qdisc
	// (fq_codel, the default of a Debian host with systemd), so the depth
	// of a FIFO is what stands in for it.
	Queue int
	// Subnet holds the hosts' addresses: host i gets the subnet's
	// address + i + 1. Zero means 10.77.0.0/24.
	Subnet netip.Prefix
	// Prefix starts the name of every namespace the lab creates. Empty
	// means "lsd-<pid>-<n>-", unique to the lab, which lets New remove what
	// a dead process left behind (see RemoveStale). Labs alive at once
	// need different prefixes.
	Prefix string
}

// Lab is a bridge namespace and the host namespaces linked to it.
type Lab struct {
	cfg      Config
	bridgeNS string
	hosts    []*Host
}

// Host is one namespace of a lab: loopback up, and Iface linked to the
// lab's bridge with Addr on it.
type Host struct {
	// Index is the host's place in the lab, from 0.
	Index int
	// NS is the network namespace's name, as `ip netns` knows it.
	NS string
	// Addr is the host's address on the LAN.
	Addr netip.Addr
	// Prefix is Addr with the LAN's prefix length.
	Prefix netip.Prefix
}

// DefaultSubnet is the LAN's subnet when Config.Subnet is zero.
var DefaultSubnet = netip.MustParsePrefix("10.77.0.0/24")

// New builds the lab: a namespace holding a bridge, and cfg.Hosts
// namespaces each linked to it by a veth pair shaped in both directions.
// On error it removes whatever it had built. ctx bounds the building
// only; the lab lives until Close.
func New(ctx context.Context, cfg Config) (*Lab, error) {
	if cfg.Hosts < 1 {
		return nil, fmt.Errorf("netlab: Hosts must be >= 1, got %d", cfg.Hosts)
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = DefaultSubnet
	}
	cfg.Subnet = cfg.Subnet.Masked()
	if !cfg.Subnet.Addr().Is4() {
		return nil, fmt.Errorf("netlab: Subnet must be IPv4, got %s", cfg.Subnet)
	}
	if cfg.Hosts+2 > 1<<(32-cfg.Subnet.Bits()) {
		return nil, fmt.Errorf("netlab: Subnet %s is too small for %d hosts", cfg.Subnet, cfg.Hosts)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = uniqueName("")
		RemoveStale(ctx)
	}
	if err := Available(ctx); err != nil {
		return nil, err
	}
	if cfg.Delay != "" && !DelaySupported(ctx) {
		return nil, ErrNoNetem
	}
	l := &Lab{cfg: cfg, bridgeNS: cfg.Prefix + "br"}
	if err := l.build(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Lab) build(ctx context.Context) error {
	b := l.bridgeNS
	if err := run(ctx, "ip", "netns", "add", b); err != nil {
		return err
	}
	if err := runAll(ctx,
		[]string{"ip", "-n", b, "link", "set", "lo", "up"},
		[]string{"ip", "-n", b, "link", "add", bridgeName, "type", "bridge"},
		[]string{"ip", "-n", b, "link", "set", bridgeName, "up"},
	); err != nil {
		return err
	}
	addr := l.cfg.Subnet.Addr()
	for i := range l.cfg.Hosts {
		addr = addr.Next()
		h := &Host{Index: i, NS: fmt.Sprintf("%sh%d", l.cfg.Prefix, i), Addr: addr,
			Prefix: netip.PrefixFrom(addr, l.cfg.Subnet.Bits())}
		if err := run(ctx, "ip", "netns", "add", h.NS); err != nil {
			return err
		}
		l.hosts = append(l.hosts, h)
		port := l.port(i)
		if err := runAll(ctx,
			[]string{"ip", "-n", h.NS, "link", "set", "lo", "up"},
			[]string{"ip", "-n", b, "link", "add", port, "type", "veth", "peer", "name", Iface, "netns", h.NS},
			[]string{"ip", "-n", b, "link", "set", port, "master", bridgeName},
			[]string{"ip", "-n", b, "link", "set", port, "up"},
			[]string{"ip", "-n", h.NS, "addr", "add", h.Prefix.String(), "dev", Iface},
			[]string{"ip", "-n", h.NS, "link", "set", Iface, "up"},
		); err != nil {
			return err
		}
		// The host's own egress is its upload; the bridge port's egress
		// is its download.
		rate := l.cfg.Rate
		if i < len(l.cfg.Rates) && l.cfg.Rates[i] != "" {
			rate = l.cfg.Rates[i]
		}
		if err := l.shape(ctx, h.NS, Iface, rate); err != nil {
			return err
		}
		if err := l.shape(ctx, b, port, rate); err != nil {
			return err
		}
	}
	return nil
}

// port is the bridge-side name of host i's veth.
func (l *Lab) port(i int) string { return "h" + strconv.Itoa(i) }

// shape puts the rate limit and the delay on dev's egress in namespace ns.
func (l *Lab) shape(ctx context.Context, ns, dev, rate string) error {
	if rate == "" && l.cfg.Delay == "" {
		return nil
	}
	netem := []string{"-n", ns, "qdisc", "add", "dev", dev}
	netemLimit := "10000"
	if l.cfg.Queue > 0 {
		netemLimit = strconv.Itoa(l.cfg.Queue)
	}
	if rate == "" {
		return run(ctx, "tc", append(netem, "root", "netem", "delay", l.cfg.Delay, "limit", netemLimit)...)
	}
	// HTB rather than TBF, so a netem delay can hang below the rate limit
	// as its leaf. The bursts cover one GSO segment of a veth.
	if err := runAll(ctx,
		[]string{"tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1"},
		[]string{"tc", "-n", ns, "class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb",
			"rate", rate, "ceil", rate, "burst", "64k", "cburst", "64k", "quantum", "65536"},
	); err != nil {
		return err
	}
	switch {
	case l.cfg.Delay != "":
		return run(ctx, "tc", append(netem, "parent", "1:1", "handle", "10:", "netem", "delay", l.cfg.Delay, "limit", netemLimit)...)
	case l.cfg.Queue > 0:
		return run(ctx, "tc", append(netem, "parent", "1:1", "handle", "10:", "pfifo", "limit", strconv.Itoa(l.cfg.Queue))...)
	}
	return nil
}

// Host returns host i (from 0); it panics when i is out of range.
func (l *Lab) Host(i int) *Host { return l.hosts[i] }

// Hosts returns every host, in order.
func (l *Lab) Hosts() []*Host { return l.hosts }

// Config returns the lab's configuration, defaults filled in.
func (l *Lab) Config() Config { return l.cfg }

// BridgeNS is the name of the namespace that holds the bridge.
func (l *Lab) BridgeNS() string { return l.bridgeNS }

// Close kills every process still running in the lab's namespaces and
// removes the namespaces, and with them the bridge and the veths. It is
// safe to call more than once.
func (l *Lab) Close() error {
	var errs []error
	for _, h := range l.hosts {
		errs = append(errs, removeNS(h.NS))
	}
	errs = append(errs, removeNS(l.bridgeNS))
	l.hosts = nil
	return errors.Join(errs...)
}

// Command returns a command that runs name in the host's namespace (with
// `ip netns exec`, which also mounts the namespace's own /sys).
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Counters are an interface's byte and packet counts since it was made.
type Counters struct {
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
}

// Counters returns the counters of the host's Iface. TxBytes is what the
// host sent into the LAN (its upload), RxBytes what it received.
func (h *Host) Counters(ctx context.Context) (Counters, error) {
	return linkCounters(ctx, h.NS, Iface)
}

func linkCounters(ctx context.Context, ns, dev string) (Counters, error) {
	links, err := readLinks(ctx, ns, "dev", dev)
	if err != nil {
		return Counters{}, fmt.Errorf("netlab: counters of %s in %s: %w", dev, ns, err)
	}
	if len(links) != 1 {
		return Counters{}, fmt.Errorf("netlab: counters of %s in %s: %d links listed, want 1", dev, ns, len(links))
	}
	return links[0].counters(), nil
}

// AllCounters returns the counters of every host's Iface, in the hosts'
// order, read at once from the bridge's side of the veths (one `ip` run
// however many hosts, so it can be called several times a second).
func (l *Lab) AllCounters(ctx context.Context) ([]Counters, error) {
	links, err := readLinks(ctx, l.bridgeNS)
	if err != nil {
		return nil, fmt.Errorf("netlab: counters in %s: %w", l.bridgeNS, err)
	}
	byName := make(map[string]Counters, len(links))
	for _, k := range links {
		byName[k.Name] = k.counters()
	}
	cs := make([]Counters, len(l.hosts))
	for i := range l.hosts {
		c, ok := byName[l.port(i)]
		if !ok {
			return nil, fmt.Errorf("netlab: no port %s in %s", l.port(i), l.bridgeNS)
		}
		// What the bridge's port receives, the host sent.
		cs[i] = Counters{RxBytes: c.TxBytes, TxBytes: c.RxBytes, RxPackets: c.TxPackets, TxPackets: c.RxPackets}
	}
	return cs, nil
}

type link struct {
	Name  string `json:"ifname"`
	Stats struct {
		Rx struct{ Bytes, Packets uint64 } `json:"rx"`
		Tx struct{ Bytes, Packets uint64 } `json:"tx"`
	} `json:"stats64"`
}

func (k link) counters() Counters {
	s := k.Stats
	return Counters{RxBytes: s.Rx.Bytes, TxBytes: s.Tx.Bytes, RxPackets: s.Rx.Packets, TxPackets: s.Tx.Packets}
}

// readLinks lists the links of namespace ns with their counters; which
// narrows the list as `ip link show` does ("dev", "eth0").
func readLinks(ctx context.Context, ns string, which ...string) ([]link, error) {
	out, err := output(ctx, "ip", append([]string{"-n", ns, "-s", "-j", "link", "show"}, which...)...)
	if err != nil {
		return nil, err
	}
	var links []link
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("unexpected output %q", out)
	}
	return links, nil
}

// Sub returns c minus an earlier reading.
func (c Counters) Sub(earlier Counters) Counters {
	return Counters{
		RxBytes: c.RxBytes - earlier.RxBytes, TxBytes: c.TxBytes - earlier.TxBytes,
		RxPackets: c.RxPackets - earlier.RxPackets, TxPackets: c.TxPackets - earlier.TxPackets,
	}
}

// Available reports why labs cannot be built here (not root, no `ip`, or
// network namespaces refused), or nil.
func Available(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("netlab: needs root (network namespaces, veths and tc)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("netlab: needs ip and tc from iproute2")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		return errors.New("netlab: needs ip and tc from iproute2")
	}
	ns := uniqueName("probe")
	defer removeNS(ns)
	if err := run(ctx, "ip", "netns", "add", ns); err != nil {
		return fmt.Errorf("netlab: network namespaces not permitted: %w", err)
	}
	return nil
}

// DelaySupported reports whether the kernel has the netem qdisc, which
// Config.Delay needs.
func DelaySupported(ctx context.Context) bool {
	ns := uniqueName("netem")
	defer removeNS(ns)
	if run(ctx, "ip", "netns", "add", ns) != nil {
		return false
	}
	return run(ctx, "tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms") == nil
}

// run runs a command and returns its error with its output.
func run(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

func runAll(ctx context.Context, cmds ...[]string) error {
	for _, c := range cmds {
		if err := run(ctx, c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("netlab: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Command trackerbench drives UDP and HTTP announces against a BitTorrent
// tracker and prints the announces sent and replies received per second.
package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	target     string // host:port
	proto      string // udp, http
	swarms     int
	peers      int
	numWant    int
	conns      int
	batch      int
	keepAlive  bool
	duration   time.Duration
	fill       bool
	rssPID     int
	sources    int
	quiet      bool
	hashes     [][20]byte
	escaped    []string
	totalPeers int
}

type result struct {
	sent, replies, failures, timeouts atomic.Int64
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "trackerbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trackerbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	whitelist := fs.String("write-whitelist", "", "write the benchmark's infohashes (hex, one a line) to this file and exit")
	fs.StringVar(&o.target, "target", "127.0.0.1:6969", "tracker address host:port (loopback only)")
	fs.StringVar(&o.proto, "proto", "udp", "udp or http")
	fs.IntVar(&o.swarms, "swarms", 10000, "number of swarms (infohashes)")
	fs.IntVar(&o.peers, "peers", 10, "peers per swarm")
	fs.IntVar(&o.numWant, "numwant", 50, "numwant sent with each announce")
	fs.IntVar(&o.conns, "conns", 0, "UDP sockets or HTTP connections in parallel (0: 4 for udp, 32 for http)")
	fs.IntVar(&o.batch, "batch", 32, "UDP announces in flight per socket")
	fs.BoolVar(&o.keepAlive, "keepalive", false, "HTTP: reuse connections")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure")
	fs.BoolVar(&o.fill, "fill", false, "announce every peer of every swarm once, then report (for memory measurements)")
	fs.IntVar(&o.rssPID, "rss-pid", 0, "with -fill: print this process's resident memory growth per peer")
	fs.IntVar(&o.sources, "sources", 1, "HTTP: spread connections over this many 127.0.0.x source addresses")
	fs.BoolVar(&o.quiet, "q", false, "print only the result line")
	cpuPID := fs.Int("cpu-pid", 0, "also print the CPU time this process (the tracker) used, and replies per CPU-second")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.swarms < 1 || o.peers < 1 || o.peers > 65000 {
		return fmt.Errorf("-swarms must be >= 1 and -peers in [1, 65000]")
	}
	if o.conns == 0 {
		o.conns = 4
		if o.proto == "http" {
			o.conns = 32
		}
	}
	o.totalPeers = o.swarms * o.peers
	o.hashes = makeHashes(o.swarms)
	if *whitelist != "" {
		return writeWhitelist(*whitelist, o.hashes)
	}
	if err := checkLoopback(o.target); err != nil {
		return err
	}
	var rssBefore int64
	if o.rssPID > 0 {
		var err error
		if rssBefore, err = readRSS(o.rssPID); err != nil {
			return err
		}
	}
	var res result
	var err error
	var cpuBefore time.Duration
	if *cpuPID > 0 {
		if cpuBefore, err = readCPU(*cpuPID); err != nil {
			return err
		}
	}
	start := time.Now()
	switch o.proto {
	case "udp":
		err = runUDP(ctx, &o, &res)
	case "http":
		o.escaped = make([]string, len(o.hashes))
		for i, h := range o.hashes {
			o.escaped[i] = escape(h[:])
		}
		err = runHTTP(ctx, &o, &res)
	default:
		return fmt.Errorf("-proto must be udp or http, got %q", o.proto)
	}
	if err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	ka := ""
	if o.proto == "http" {
		ka = " keepalive=" + strconv.FormatBool(o.keepAlive)
	}
	fmt.Fprintf(stdout, "%s target=%s swarms=%d peers/swarm=%d numwant=%d conns=%d%s: announces/s=%.0f replies/s=%.0f failures=%d timeouts=%d (%.1fs)\n",
		o.proto, o.target, o.swarms, o.peers, o.numWant, o.conns, ka,
		float64(res.sent.Load())/el, float64(res.replies.Load())/el, res.failures.Load(), res.timeouts.Load(), el)
	if *cpuPID > 0 {
		after, err := readCPU(*cpuPID)
		if err != nil {
			return err
		}
		cpu := (after - cpuBefore).Seconds()
		fmt.Fprintf(stdout, "cpu pid=%d used=%.2fs (%.0f%% of one core) replies/cpu-s=%.0f\n",
			*cpuPID, cpu, 100*cpu/el, float64(res.replies.Load())/cpu)
	}
	if o.rssPID > 0 {
		time.Sleep(500 * time.Millisecond)
		after, err := readRSS(o.rssPID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rss pid=%d before=%d after=%d growth=%d bytes peers=%d bytes/peer=%.1f\n",
			o.rssPID, rssBefore, after, after-rssBefore, o.totalPeers, float64(after-rssBefore)/float64(o.totalPeers))
	}
	return nil
}

// makeHashes returns a deterministic infohash set, so that a whitelist
// written once matches every later run.
func makeHashes(n int) [][20]byte {
	hs := make([][20]byte, n)
	for i := range hs {
		hs[i] = sha1.Sum([]byte("trackerbench-" + strconv.Itoa(i)))
	}
	return hs
}

func writeWhitelist(path string, hashes [][20]byte) error {
	var b strings.Builder
	for _, h := range hashes {
		b.WriteString(hex.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func escape(b []byte) string {
	const hexd = "0123456789ABCDEF"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte('%')
		s.WriteByte(hexd[c>>4])
		s.WriteByte(hexd[c&15])
	}
	return s.String()
}

// readRSS returns the resident set size of pid in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read rss: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("read rss: no VmRSS for pid %d", pid)
}

// readCPU returns the user and system time pid has used.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu: %w", err)
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("read cpu: short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read cpu: bad /proc/%d/stat", pid)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(u+st) * time.Second / ticks, nil
}

// Command swarm measures what lanseedd's swarm gains over plain HTTP from one server: N subscribers on a shaped LAN of network namespaces fetch one file both ways.
//
// Run it as root from the module's root:
//
//	go run ./bench/swarm -n 20 -size 100MiB -rate 50mbit
//
// See README.md beside this file.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lanseedd/lanseedd/bench/internal/benchkit"
	"github.com/lanseedd/lanseedd/internal/netlab"
)

type options struct {
	clients  int
	size     int64
	rate     string
	server   string // the server's link rate, when not rate
	delay    string
	queue    int
	subnet   string
	chart    string
	lanseedd string
	config   string
	workDir  string
	check    bool
	keep     bool
	webSeeds []bool
	debugLog bool
	aria2BT  []string
	client   string
	solo     bool
	httpRun  bool
	stack    bool
	timeline bool
	timeout  time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, errCheck):
		fmt.Fprintln(os.Stderr, "swarm:", err)
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "swarm:", err)
		os.Exit(1)
	}
}

// errCheck is returned when -check is set and lanseedd lost to HTTP.
var errCheck = errors.New("check failed")

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("swarm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.String("size", "100MiB", "file size (bytes, or with KiB, MiB, GiB)")
	fs.IntVar(&o.clients, "n", 20, "number of subscribers")
	fs.StringVar(&o.rate, "rate", "50mbit", "rate of every link, each way (tc syntax)")
	fs.StringVar(&o.server, "server-rate", "", "rate of the server's link, each way, when it is faster or slower than the clients' (tc syntax; default: -rate)")
	fs.StringVar(&o.delay, "delay", "2ms", "delay of every link, each way (tc syntax; needs the kernel's netem, dropped with a warning without it)")
	fs.IntVar(&o.queue, "queue", 0, "packets that may wait at each end of every link (0: the kernel's default, 1,000 for a veth)")
	fs.StringVar(&o.subnet, "subnet", netlab.DefaultSubnet.String(), "the LAN's IPv4 subnet")
	fs.StringVar(&o.chart, "chart", "swarm.png", "PNG chart of every client's completion time (empty: none)")
	fs.StringVar(&o.lanseedd, "lanseedd", "", "lanseedd binary to run (default: go build ./cmd/lanseedd)")
	fs.StringVar(&o.config, "lanseedd-config", "", "config file for lanseedd run (default: none, only the flags the benchmark sets)")
	fs.StringVar(&o.workDir, "dir", "", "work directory, removed at the end (default: a new one in /dev/shm, or the temporary directory)")
	fs.Func("aria2-bt", "extra aria2c option for the BitTorrent clients, e.g. --bt-max-peers=10 (repeatable)", func(v string) error {
		o.aria2BT = append(o.aria2BT, v)
		return nil
	})
	fs.StringVar(&o.client, "client", "aria2", "BitTorrent client of the subscribers: aria2 (aria2c) or transmission (transmission-cli, uTP off)")
	fs.BoolVar(&o.debugLog, "aria2-log", false, "BitTorrent clients log more: aria2 at info level into debug.log, transmission its debug messages into client.log, in their work directory (with -keep)")
	webSeed := fs.String("webseed", "on", "lanseedd's torrent as served (on), stripped of every web seed (off), or both one after the other (with -lanseedd-config setting http.web_seed_mode: always, to see what a listed web seed costs)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (logs of every client and of lanseedd) and print its path")
	fs.BoolVar(&o.check, "check", false, "exit 1 unless every client finished and lanseedd's slowest client beat HTTP's")
	fs.BoolVar(&o.solo, "solo", true, "also time one lanseedd client alone")
	fs.BoolVar(&o.httpRun, "http", true, "run the plain HTTP scenario (false: lanseedd only, for tuning; -check then fails)")
	fs.BoolVar(&o.stack, "stack", true, "run the seeds' own stack too: mktorrent's torrent, opentracker with a whitelist, a seeding aria2c (needs the Debian packages mktorrent and opentracker)")
	fs.BoolVar(&o.timeline, "timeline", false, "also print every BitTorrent swarm second by second: how busy the server's and the clients' links were, and how much of the file the clients had")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up a scenario after this long (default: 3× HTTP's expected time + 1m)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.client != "aria2" && o.client != "transmission" {
		return o, fmt.Errorf("-client: want aria2 or transmission, got %q", o.client)
	}
	switch *webSeed {
	case "on":
		o.webSeeds = []bool{true}
	case "off":
		o.webSeeds = []bool{false}
	case "both":
		o.webSeeds = []bool{true, false}
	default:
		return o, fmt.Errorf("-webseed: want on, off or both, got %q", *webSeed)
	}
	var err error
	if o.size, err = benchkit.ParseSize(*size); err != nil {
		return o, fmt.Errorf("-size: %w", err)
	}
	if o.clients < 1 || o.clients > 200 {
		return o, fmt.Errorf("-n: must be 1..200, got %d", o.clients)
	}
	if _, err := benchkit.ParseRate(o.rate); err != nil {
		return o, fmt.Errorf("-rate: %w", err)
	}
	if o.server != "" {
		if _, err := benchkit.ParseRate(o.server); err != nil {
			return o, fmt.Errorf("-server-rate: %w", err)
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("aria2c"); err != nil {
		return errors.New("needs aria2c (Debian package aria2)")
	}
	if _, err := exec.LookPath("transmission-cli"); err != nil && o.client == "transmission" {
		return errors.New("-client transmission needs transmission-cli (Debian package transmission-cli)")
	}
	if o.stack {
		for _, tool := range []string{"mktorrent", "opentracker"} {
			if _, err := exec.LookPath(tool); err != nil {
				return fmt.Errorf("-stack needs %s (Debian package %[1]s; -stack=false leaves the stack out)", tool)
			}
		}
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "swarm: "+format+"\n", a...) }
	kit, err := benchkit.Prepare(ctx, benchkit.Options{WorkDir: o.workDir, Prefix: "lanseedd-swarm-",
		Keep: o.keep, Lanseedd: o.lanseedd, Delay: o.delay}, logf)
	if err != nil {
		return err
	}
	defer kit.Close()
	dir, bin := kit.Dir, kit.Lanseedd
	o.delay = kit.Delay
	content := filepath.Join(dir, "content")
	if err := os.MkdirAll(content, 0o755); err != nil {
		return err
	}
	const fileName = "film.bin"
	if err := writeRandom(filepath.Join(content, fileName), o.size); err != nil {
		return err
	}

	subnet, err := netip.ParsePrefix(o.subnet)
	if err != nil {
		return fmt.Errorf("-subnet: %w", err)
	}
	logf("building the LAN: 1 server + %d clients, %s each way, delay %s%s", o.clients, o.rate, orNone(o.delay), o.linkNote())
	lab, err := netlab.New(ctx, netlab.Config{Hosts: o.clients + 1, Rate: o.rate, Rates: []string{o.server}, Delay: o.delay, Queue: o.queue, Subnet: subnet})
	if err != nil {
		return err
	}
	defer lab.Close()

	b := &bench{opts: o, lab: lab, dir: dir, content: content, fileName: fileName, bin: bin, logf: logf}
	rep, err := b.run(ctx)
	if err != nil {
		return err
	}
	rep.print(stdout)
	if o.chart != "" {
		if err := rep.chart(o.chart); err != nil {
			return err
		}
		logf("chart written to %s", o.chart)
	}
	if o.check {
		if !o.httpRun {
			return fmt.Errorf("%w: -check needs the HTTP scenario", errCheck)
		}
		if rep.http.failed > 0 {
			return fmt.Errorf("%w: %d HTTP clients did not finish", errCheck, rep.http.failed)
		}
		for _, v := range rep.variants {
			if v.swarm.failed > 0 {
				return fmt.Errorf("%w: %s: %d lanseedd clients did not finish", errCheck, v.name(), v.swarm.failed)
			}
			if v.swarm.max() > rep.http.max() {
				return fmt.Errorf("%w: %s: lanseedd's slowest client took %s, HTTP's %s", errCheck, v.name(), v.swarm.max(), rep.http.max())
			}
		}
	}
	return nil
}

func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Older than the seeder's quiet period, so it is published at once.
	old := time.Now().Add(-time.Minute)
	return os.Chtimes(path, old, old)
}

// linkNote is what the report adds to a link's description for
// -server-rate and -queue.
func (o options) linkNote() string {
	note := ""
	if o.server != "" {
		note += fmt.Sprintf(", server %s", o.server)
	}
	if o.queue > 0 {
		note += fmt.Sprintf(", queue %d packets", o.queue)
	}
	return note
}

// serverRate is the server's link rate in bits a second.
func (o options) serverRate() float64 {
	r := o.server
	if r == "" {
		r = o.rate
	}
	rate, _ := benchkit.ParseRate(r)
	return rate
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Command mirror measures how fast a lanseedd mirror node fills an empty mirror root from a primary node, against rsync, on a shaped LAN of network namespaces.
//
// Run it as root from the module's root:
//
//	go run ./bench/mirror -size 1GiB -files 64 -rate 200mbit
//
// See README.md beside this file.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
	size      int64
	files     int
	rate      string
	delay     string
	subnet    string
	runs      int
	secondAt  float64
	lanseedd  string
	pgSocket  string
	workDir   string
	keep      bool
	logLevel  string
	superSeed bool
	timeout   time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "mirror:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.String("size", "1GiB", "content size in all (bytes, or with KiB, MiB, GiB), split evenly over -files files")
	fs.IntVar(&o.files, "files", 64, "number of files (one catalog row each)")
	fs.StringVar(&o.rate, "rate", "200mbit", "rate of every link, each way (tc syntax)")
	fs.StringVar(&o.delay, "delay", "2ms", "delay of every link, each way (tc syntax; needs the kernel's netem, dropped with a warning without it)")
	fs.StringVar(&o.subnet, "subnet", netlab.DefaultSubnet.String(), "the LAN's IPv4 subnet")
	fs.IntVar(&o.runs, "runs", 1, "times to run the three scenarios")
	fs.Float64Var(&o.secondAt, "second-at", 0.25, "two mirrors: the second starts once the first has received this fraction of the content's size (0: both at once)")
	fs.StringVar(&o.lanseedd, "lanseedd", "", "lanseedd binary to run (default: go build ./cmd/lanseedd)")
	fs.StringVar(&o.pgSocket, "pg-socket", "/var/run/postgresql", "directory of the PostgreSQL server's unix socket (user postgres, trust authentication); the catalog is a new database there, dropped at the end")
	fs.StringVar(&o.workDir, "dir", "", "work directory, removed at the end (default: a new one in /dev/shm, or the temporary directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (content, logs of every daemon) and print its path")
	fs.StringVar(&o.logLevel, "log-level", "info", "the daemons' log level (debug, info, warn, error), in nodes/NAME/state/lanseedd.log of the work directory")
	fs.BoolVar(&o.superSeed, "super-seed", true, "the daemons super-seed, as by default (false: every daemon runs with -super-seed=false)")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up a scenario after this long (default: 3× the line rate's time + 1m)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.size, err = benchkit.ParseSize(*size); err != nil {
		return o, fmt.Errorf("-size: %w", err)
	}
	if o.files < 1 || o.files > 100000 {
		return o, fmt.Errorf("-files: must be 1..100000, got %d", o.files)
	}
	if o.size < int64(o.files) {
		return o, fmt.Errorf("-size: %d bytes cannot make %d files", o.size, o.files)
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-runs: must be at least 1, got %d", o.runs)
	}
	if o.secondAt < 0 || o.secondAt >= 1 {
		return o, fmt.Errorf("-second-at: want a fraction in [0, 1), got %v", o.secondAt)
	}
	if _, err := benchkit.ParseRate(o.rate); err != nil {
		return o, fmt.Errorf("-rate: %w", err)
	}
	switch o.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return o, fmt.Errorf("-log-level: want debug, info, warn or error, got %q", o.logLevel)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("rsync"); err != nil {
		return errors.New("needs rsync (Debian package rsync)")
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "mirror: "+format+"\n", a...) }
	kit, err := benchkit.Prepare(ctx, benchkit.Options{WorkDir: o.workDir, Prefix: "lanseedd-mirror-",
		Keep: o.keep, Lanseedd: o.lanseedd, Delay: o.delay}, logf)
	if err != nil {
		return err
	}
	defer kit.Close()
	dir, bin := kit.Dir, kit.Lanseedd
	o.delay = kit.Delay
	content := filepath.Join(dir, "content")
	logf("writing %s of random bytes in %d files", benchkit.HumanSize(o.size), o.files)
	files, err := writeContent(content, o.size, o.files)
	if err != nil {
		return err
	}

	subnet, err := netip.ParsePrefix(o.subnet)
	if err != nil {
		return fmt.Errorf("-subnet: %w", err)
	}
	logf("building the LAN: a primary and two other hosts, %s each way, delay %s", o.rate, orNone(o.delay))
	lab, err := netlab.New(ctx, netlab.Config{Hosts: 3, Rate: o.rate, Delay: o.delay, Subnet: subnet})
	if err != nil {
		return err
	}
	defer lab.Close()

	cat, err := newCatalog(ctx, o.pgSocket, fmt.Sprintf("lanseedd_mirrorbench_%d", os.Getpid()))
	if err != nil {
		return err
	}
	defer cat.drop()

	b := &bench{opts: o, lab: lab, dir: dir, content: content, files: files, bin: bin, cat: cat, logf: logf}
	rep, err := b.run(ctx)
	if rep != nil {
		rep.print(stdout)
	}
	return err
}

// file is one file of the content: its path under the content root, its
// size and its SHA-256.
type file struct {
	path string
	size int64
	sum  [sha256.Size]byte
}

// contentPaths names n files under the content root, eight to a
// directory: d00/f000.bin, d00/f001.bin, …, d01/f008.bin.
func contentPaths(n int) []string {
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("d%02d/f%03d.bin", i/8, i)
	}
	return paths
}

// splitSize splits total bytes into n sizes that differ by at most one.
func splitSize(total int64, n int) []int64 {
	sizes := make([]int64, n)
	for i := range sizes {
		sizes[i] = total / int64(n)
		if int64(i) < total%int64(n) {
			sizes[i]++
		}
	}
	return sizes
}

// writeContent writes total random bytes in n files under root, dated an
// hour back so that the primary publishes them at once.
func writeContent(root string, total int64, n int) ([]file, error) {
	sizes := splitSize(total, n)
	old := time.Now().Add(-time.Hour)
	var files []file
	for i, rel := range contentPaths(n) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, sizes[i]); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		if err := os.Chtimes(p, old, old); err != nil {
			return nil, err
		}
		fl := file{path: rel, size: sizes[i]}
		h.Sum(fl.sum[:0])
		files = append(files, fl)
	}
	return files, nil
}

// verify checks that root holds every file, same size and same SHA-256.
func verify(root string, files []file) error {
	for _, f := range files {
		p := filepath.Join(root, f.path)
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Size() != f.size {
			return fmt.Errorf("%s: %d bytes, want %d", p, fi.Size(), f.size)
		}
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		r, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return err
		}
		if got := h.Sum(nil); string(got) != string(f.sum[:]) {
			return fmt.Errorf("%s: SHA-256 %x, want %x", p, got, f.sum)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Package benchkit holds what the benchmarks share: their work directory,
// the lanseedd they build, and the sizes and link rates of their flags and
// reports.
package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lanseedd/lanseedd/internal/netlab"
)

// Options are the flags every namespace benchmark has.
type Options struct {
	WorkDir  string // -dir: empty for a new directory named Prefix…
	Prefix   string
	Keep     bool   // -keep: the work directory stays
	Lanseedd string // -lanseedd: a binary to run, empty to build one
	Delay    string // -delay, in tc's syntax
}

// Bench is a benchmark's place on this machine: its work directory, the
// lanseedd binary it runs, and the links' delay.
type Bench struct {
	Dir, Lanseedd string
	// Delay is Options.Delay, or empty where the kernel has no netem.
	Delay string
	keep  bool
	logf  func(string, ...any)
}

// Prepare checks that the namespace LAN can be built, drops the delay
// with a warning where the kernel cannot add one, makes the work
// directory and builds lanseedd unless o names a binary. Close undoes it.
func Prepare(ctx context.Context, o Options, logf func(string, ...any)) (*Bench, error) {
	if err := netlab.Available(ctx); err != nil {
		return nil, err
	}
	b := &Bench{Lanseedd: o.Lanseedd, Delay: o.Delay, keep: o.Keep, logf: logf}
	if b.Delay != "" && !netlab.DelaySupported(ctx) {
		logf("the kernel has no netem qdisc: links get no delay")
		b.Delay = ""
	}
	dir, err := WorkDir(o.WorkDir, o.Prefix)
	if err != nil {
		return nil, err
	}
	b.Dir = dir
	if b.Lanseedd == "" {
		b.Lanseedd = filepath.Join(dir, "lanseedd")
		logf("building lanseedd")
		if err := BuildLanseedd(ctx, b.Lanseedd); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// Close removes the work directory, or with Options.Keep says where it is.
func (b *Bench) Close() {
	if b.keep {
		b.logf("work directory kept: %s", b.Dir)
		return
	}
	os.RemoveAll(b.Dir)
}

// WorkDir returns dir, created if need be, or with dir empty a new
// directory named prefix…, in /dev/shm where there is one (content and
// state then stay in memory, off the disk the benchmark does not measure).
func WorkDir(dir, prefix string) (string, error) {
	if dir != "" {
		return dir, os.MkdirAll(dir, 0o755)
	}
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	return os.MkdirTemp(base, prefix)
}

// BuildLanseedd builds ./cmd/lanseedd of the module the go command is in
// into out.
func BuildLanseedd(ctx context.Context, out string) error {
	mod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(mod)))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/lanseedd")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/lanseedd in %s: %w\n%s", root, err, b)
	}
	return nil
}

// ParseSize reads "100MiB", "20MB", "1GiB" or a plain byte count.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size such as 100MiB or 1GiB, got %q", s)
	}
	return n * mult, nil
}

// ParseRate reads a tc rate ("50mbit", "1gbit", "800kbit") in bits per
// second.
func ParseRate(s string) (float64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			n, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil || n <= 0 {
				break
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("want a rate such as 50mbit or 1gbit, got %q", s)
}

// HumanSize writes a size in whole GiB or MiB where it is one, else in bytes.
func HumanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

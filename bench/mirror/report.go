package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lanseedd/lanseedd/bench/internal/benchkit"
)

type report struct {
	opts  options
	total int64
	files int
	runs  []result
}

// result is one run of the three scenarios.
type result struct {
	rsync rsyncRun
	one   mirrorRun
	two   mirrorRun
}

// print writes the runs as a Markdown table: a row per scenario and per
// mirror, times from each one's own start, MB/s of the content it
// received (both mirrors: of the two copies, over the whole span), the
// time against rsync's in the same run, and what the primary's link and
// the mirrors' links sent meanwhile, in copies of the content.
func (r *report) print(w io.Writer) {
	size := float64(r.total)
	copies := func(b uint64) string {
		return fmt.Sprintf("%.0f MiB (%.2f×)", float64(b)/(1<<20), float64(b)/size)
	}
	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	mbps := func(bytes float64, d time.Duration) string { return fmt.Sprintf("%.1f", bytes/d.Seconds()/1e6) }
	fmt.Fprintf(w, "content %s in %d files, link %s each way, delay %s\n\n", benchkit.HumanSize(r.total), r.files, r.opts.rate, orNone(r.opts.delay))
	fmt.Fprintf(w, "| run | scenario | time | MB/s | ÷ rsync | primary sent | mirrors sent |\n")
	fmt.Fprintf(w, "|---:|---|---:|---:|---:|---:|---:|\n")
	for i, res := range r.runs {
		rs := res.rsync.time
		row := func(name string, d time.Duration, bytes float64, failed bool, got int64, primary, mirrors string) {
			t, rate, ratio := sec(d), mbps(bytes, d), fmt.Sprintf("%.2f", d.Seconds()/rs.Seconds())
			if failed {
				t = fmt.Sprintf("not done after %s (%.0f%%)", sec(d), 100*float64(got)/bytes)
				rate, ratio = "-", "-"
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", i+1, name, t, rate, ratio, primary, mirrors)
		}
		row("rsync", rs, size, false, 0, copies(res.rsync.primaryTx), "-")
		if one := res.one; len(one.times) == 1 {
			row("one mirror", one.times[0], size, one.failed[0], one.got[0], copies(one.primaryTx), copies(one.mirrorTx[0]))
		}
		if two := res.two; len(two.times) == 2 {
			row("two mirrors: A", two.times[0], size, two.failed[0], two.got[0], "", "")
			row(fmt.Sprintf("two mirrors: B, started %s after A", sec(two.offsets[1])), two.times[1], size, two.failed[1], two.got[1], "", "")
			sent := make([]string, len(two.mirrorTx))
			for j, tx := range two.mirrorTx {
				sent[j] = fmt.Sprintf("%s %s", strings.ToUpper(two.names[j]), copies(tx))
			}
			row("two mirrors: both, A's start to the last done", two.span(), 2*size, two.failed[0] || two.failed[1], two.got[0]+two.got[1],
				copies(two.primaryTx), strings.Join(sent, ", "))
		}
	}
}

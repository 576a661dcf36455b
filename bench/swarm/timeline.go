package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/lanseedd/lanseedd/internal/netlab"
)

// sample is every host's counters at one moment of a scenario; host 0 is
// the server.
type sample struct {
	at time.Duration // since the scenario's clients started
	c  []netlab.Counters
}

// timelineRow is one window of a scenario: how busy the links were, in
// percent of the link's rate, and how much of the file the clients had.
type timelineRow struct {
	at time.Duration // the window's start
	// serverUp is the server's upload; clientsUp the clients' upload, the
	// mean over all clients.
	serverUp, clientsUp float64
	// down is the clients' download: the slowest, median and fastest.
	downMin, downMed, downMax float64
	// gotMin and gotMed are what the clients had received by the window's
	// end, in percent of the file (headers and retransmissions count).
	gotMin, gotMed float64
}

// recordTimeline reads every host's counters every interval until the
// returned stop is called, which returns the samples.
func recordTimeline(l *netlab.Lab, interval time.Duration, logf func(string, ...any)) (stop func() []sample) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []sample, 1)
	start := time.Now()
	go func() {
		var ss []sample
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			c, err := l.AllCounters(ctx)
			if err != nil {
				if ctx.Err() == nil {
					logf("timeline: %v", err)
				}
				done <- ss
				return
			}
			ss = append(ss, sample{time.Since(start), c})
			select {
			case <-ctx.Done():
				done <- ss
				return
			case <-tick.C:
			}
		}
	}()
	return func() []sample {
		cancel()
		return <-done
	}
}

// timeline cuts samples into windows of the given length; rate is a
// client's link rate in bits a second, serverRate the server's, and size
// the file's.
func timeline(ss []sample, rate, serverRate float64, window time.Duration, size int64) []timelineRow {
	if len(ss) < 2 || rate <= 0 || serverRate <= 0 || size <= 0 {
		return nil
	}
	first := ss[0]
	// pct is bytes sent in d, in percent of a link of rate bits a second.
	pct := func(bytes uint64, d time.Duration, rate float64) float64 {
		return float64(bytes) * 8 / d.Seconds() / rate * 100
	}
	var rows []timelineRow
	for i := 0; i < len(ss)-1; {
		j := i + 1
		for j < len(ss)-1 && ss[j].at-ss[i].at < window {
			j++
		}
		a, b := ss[i], ss[j]
		d := b.at - a.at
		clients := len(a.c) - 1
		if d <= 0 || clients < 1 || len(b.c) != len(a.c) {
			break
		}
		row := timelineRow{at: a.at - first.at, serverUp: pct(b.c[0].TxBytes-a.c[0].TxBytes, d, serverRate)}
		var up uint64
		down := make([]float64, clients)
		got := make([]float64, clients)
		for k := 1; k <= clients; k++ {
			up += b.c[k].TxBytes - a.c[k].TxBytes
			down[k-1] = pct(b.c[k].RxBytes-a.c[k].RxBytes, d, rate)
			got[k-1] = float64(b.c[k].RxBytes-first.c[k].RxBytes) / float64(size) * 100
		}
		row.clientsUp = pct(up, d, rate) / float64(clients)
		slices.Sort(down)
		slices.Sort(got)
		row.downMin, row.downMed, row.downMax = down[0], down[(clients-1)/2], down[clients-1]
		row.gotMin, row.gotMed = got[0], got[(clients-1)/2]
		rows = append(rows, row)
		i = j
	}
	return rows
}

// printTimeline writes rows as a Markdown table.
func printTimeline(w io.Writer, title string, rows []timelineRow) {
	fmt.Fprintf(w, "\n%s, second by second (%% of the link's rate; received: %% of the file, headers included):\n\n", title)
	fmt.Fprintf(w, "| s | server upload | clients' upload, mean | client download, slowest | median | fastest | received, least | median |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", r.at.Seconds(),
			r.serverUp, r.clientsUp, r.downMin, r.downMed, r.downMax, r.gotMin, r.gotMed)
	}
}

package main

import (
	"fmt"
	"image/color"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/lanseedd/lanseedd/bench/internal/benchkit"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

type report struct {
	opts     options
	http     scenario
	stack    scenario
	stackErr error // the stack could not be brought up: no stack row
	variants []variant
}

// hasStack tells whether the run has a row of the seeds' stack.
func (r *report) hasStack() bool { return r.opts.stack && r.stackErr == nil }

// solo is the fastest time one lanseedd client alone took: the link's
// limit for one client, which the swarm is measured against.
func (r *report) solo() time.Duration {
	var best time.Duration
	for _, v := range r.variants {
		if v.solo > 0 && (best == 0 || v.solo < best) {
			best = v.solo
		}
	}
	return best
}

func (s scenario) sorted() []time.Duration {
	t := slices.Clone(s.times)
	slices.Sort(t)
	return t
}

func (s scenario) max() time.Duration {
	if len(s.times) == 0 {
		return 0
	}
	return slices.Max(s.times)
}

// p50 is the median by nearest rank.
func (s scenario) p50() time.Duration {
	t := s.sorted()
	if len(t) == 0 {
		return 0
	}
	return t[(len(t)-1)/2]
}

// print writes the result as a Markdown table, one row per lanseedd
// variant.
func (r *report) print(w io.Writer) {
	size := float64(r.opts.size)
	copies := func(b uint64) string {
		return fmt.Sprintf("%.0f MiB (%.1f×)", float64(b)/(1<<20), float64(b)/size)
	}
	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	fmt.Fprintf(w, "| clients | link, each way | file | HTTP p50 | HTTP max | lanseedd torrent | lanseedd p50 | lanseedd max | solo | HTTP max / lanseedd max | lanseedd max / solo | server upload, HTTP | server upload, lanseedd |\n")
	fmt.Fprintf(w, "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, v := range r.variants {
		solo, soloRatio := "-", "-"
		if v.solo > 0 {
			solo = sec(v.solo)
			soloRatio = fmt.Sprintf("%.2f", v.swarm.max().Seconds()/r.solo().Seconds())
		}
		httpP50, httpMax, ratio, httpTx := "-", "-", "-", "-"
		if r.opts.httpRun {
			httpP50, httpMax, httpTx = sec(r.http.p50()), sec(r.http.max()), copies(r.http.serverTx)
			ratio = fmt.Sprintf("%.1f", r.http.max().Seconds()/v.swarm.max().Seconds())
		}
		fmt.Fprintf(w, "| %d | %s, delay %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.opts.clients, r.opts.rate, orNone(r.opts.delay), r.opts.linkNote(), benchkit.HumanSize(r.opts.size),
			httpP50, httpMax, v.name(), sec(v.swarm.p50()), sec(v.swarm.max()), solo,
			ratio, soloRatio, httpTx, copies(v.swarm.serverTx))
	}
	if r.stackErr != nil {
		fmt.Fprintf(w, "\nThe seeds' own stack could not run in this run: %v.\n", r.stackErr)
	}
	if r.hasStack() {
		fmt.Fprintf(w, "\nThe seeds' own stack in the same run (mktorrent's torrent, opentracker with a whitelist, a seeding aria2c):\n\n")
		fmt.Fprintf(w, "| stack p50 | stack max | stack max / solo | server upload, stack | lanseedd torrent | lanseedd max / stack max |\n")
		fmt.Fprintf(w, "|---:|---:|---:|---:|---|---:|\n")
		for _, v := range r.variants {
			soloRatio := "-"
			if s := r.solo(); s > 0 {
				soloRatio = fmt.Sprintf("%.2f", r.stack.max().Seconds()/s.Seconds())
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.2f |\n", sec(r.stack.p50()), sec(r.stack.max()), soloRatio,
				copies(r.stack.serverTx), v.name(), v.swarm.max().Seconds()/r.stack.max().Seconds())
		}
	}
	if len(r.variants) > 0 {
		fmt.Fprintf(w, "\nlanseedd's upload by listener (from its admin API; the interface counts headers and retransmissions too):\n\n")
		fmt.Fprintf(w, "| lanseedd torrent | server interface | seeder | web seed | web seed requests (refused while seeding) |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|\n")
		for _, v := range r.variants {
			d := v.swarm.daemon
			fmt.Fprintf(w, "| %s | %s | %s | %s | %d (%d) |\n", v.name(), copies(v.swarm.serverTx),
				copies(uint64(max(d.seeder, 0))), copies(uint64(max(d.webSeed, 0))), d.webSeedRequests, d.webSeedStoodDown)
		}
	}
	if r.http.failed > 0 {
		fmt.Fprintf(w, "\n%d HTTP clients did not finish.\n", r.http.failed)
	}
	if r.stack.failed > 0 {
		fmt.Fprintf(w, "\n%d clients of the stack did not finish.\n", r.stack.failed)
	}
	for _, v := range r.variants {
		if v.swarm.failed > 0 {
			fmt.Fprintf(w, "\n%s: %d lanseedd clients did not finish.\n", v.name(), v.swarm.failed)
		}
	}
	if s := r.solo(); s > 0 {
		fmt.Fprintf(w, "\nsolo: one client alone; lanseedd max / solo uses the fastest solo, %s.\n", sec(s))
	}
	if len(r.stack.timeline) > 0 {
		printTimeline(w, "The seeds' stack", r.stack.timeline)
	}
	for _, v := range r.variants {
		if len(v.swarm.timeline) > 0 {
			printTimeline(w, "lanseedd, "+v.name(), v.swarm.timeline)
		}
	}
}

// chart draws every client's completion time, fastest first, in both
// scenarios, with the solo time and 1.5× it as lines.
func (r *report) chart(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%d clients fetch %s, every link %s each way%s", r.opts.clients, benchkit.HumanSize(r.opts.size), r.opts.rate, r.opts.linkNote())
	p.X.Label.Text = "client (fastest first)"
	// A logarithmic axis: the swarm's seconds and HTTP's minutes both
	// stay readable, and so does the swarm against the goal.
	p.Y.Label.Text = "completion time (s, logarithmic)"
	p.Y.Scale = plot.LogScale{}
	p.Add(plotter.NewGrid())
	points := func(s scenario) plotter.XYs {
		var xy plotter.XYs
		for i, d := range s.sorted() {
			xy = append(xy, plotter.XY{X: float64(i + 1), Y: d.Seconds()})
		}
		return xy
	}
	type series struct {
		name  string
		s     scenario
		color color.Color
		shape draw.GlyphDrawer
	}
	var all []series
	if r.opts.httpRun {
		all = append(all, series{"plain HTTP from the server", r.http, color.RGBA{R: 200, G: 60, B: 40, A: 255}, draw.CircleGlyph{}})
	}
	if r.hasStack() {
		all = append(all, series{"the seeds' stack (mktorrent, opentracker, aria2c)", r.stack, color.RGBA{R: 140, G: 80, B: 170, A: 255}, draw.CrossGlyph{}})
	}
	slowest := max(r.http.max(), r.stack.max())
	for _, v := range r.variants {
		sr := series{"lanseedd, " + v.name(), v.swarm, color.RGBA{R: 30, G: 110, B: 200, A: 255}, draw.TriangleGlyph{}}
		if !v.webSeed {
			sr.color, sr.shape = color.RGBA{R: 20, G: 150, B: 60, A: 255}, draw.SquareGlyph{}
		}
		all = append(all, sr)
		slowest = max(slowest, v.swarm.max())
	}
	for _, sr := range all {
		line, pts, err := plotter.NewLinePoints(points(sr.s))
		if err != nil {
			return err
		}
		line.Color = sr.color
		pts.Color, pts.Shape, pts.Radius = sr.color, sr.shape, vg.Points(3)
		p.Add(line, pts)
		p.Legend.Add(sr.name, line, pts)
	}
	if solo := r.solo(); solo > 0 {
		for _, l := range []struct {
			name string
			y    float64
			dash []vg.Length
		}{
			{"one lanseedd client alone", solo.Seconds(), []vg.Length{vg.Points(2), vg.Points(2)}},
			{"1.5 × alone (the goal)", 1.5 * solo.Seconds(), []vg.Length{vg.Points(6), vg.Points(3)}},
		} {
			h, err := plotter.NewLine(plotter.XYs{{X: 1, Y: l.y}, {X: float64(r.opts.clients), Y: l.y}})
			if err != nil {
				return err
			}
			h.Color, h.Dashes = color.Gray{Y: 90}, l.dash
			p.Add(h)
			p.Legend.Add(l.name, h)
		}
	}
	fastest := slowest
	for _, sr := range all {
		if t := sr.s.sorted(); len(t) > 0 {
			fastest = min(fastest, t[0])
		}
	}
	if solo := r.solo(); solo > 0 {
		fastest = min(fastest, solo)
	}
	// Headroom above the slowest client for the legend.
	p.Y.Min = 0.7 * fastest.Seconds()
	p.Y.Max = 2.5 * max(slowest, time.Duration(1.5*float64(r.solo()))).Seconds()
	var ticks []plot.Tick
	for decade := 1.0; decade <= p.Y.Max; decade *= 10 {
		for _, m := range []float64{1, 2, 3, 5} {
			if v := m * decade; v >= p.Y.Min && v <= p.Y.Max {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
			}
		}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(9*vg.Inch, 5*vg.Inch, path)
}

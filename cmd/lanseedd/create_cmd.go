package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lanseedd/lanseedd/torrentfile"
	"github.com/lanseedd/lanseedd/web"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
func (l *listFlag) Type() string       { return "URL" }

// createCommand makes a .torrent for a file or directory, as mktorrent
// does: `lanseedd create [flags] PATH`.
func createCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create [flags] PATH",
		Short: "make a .torrent of a file or directory (as mktorrent)",
		Args:  cobra.ExactArgs(1),
	}
	// The one-letter flags are mktorrent's, so that a mktorrent command
	// line (mktorrent -a URL -l 18 -o OUT PATH) works as it is.
	fs := cmd.Flags()
	var announce, webSeeds listFlag
	out := fs.StringP("output", "o", "", "output file (default NAME.torrent in the current directory; - for stdout)")
	fs.VarP(&announce, "announce", "a", "tracker URL; repeat for backup tiers, separate URLs of one tier with commas")
	fs.VarP(&webSeeds, "web-seed", "w", "web seed URL (BEP 19); repeatable")
	fs.Var(&webSeeds, "webseed", "") // the older spelling, hidden
	fs.MarkHidden("webseed")
	pieceLength := fs.StringP("piece-length", "l", "auto", "piece length: bytes (262144, 256K, 1M), mktorrent's exponent (18), or auto (1,000–2,000 pieces)")
	private := fs.BoolP("private", "p", false, "set the private flag (no DHT or PEX)")
	comment := fs.StringP("comment", "c", "", "comment")
	source := fs.StringP("source", "s", "", "source string in the info dictionary (changes the infohash)")
	noDate := fs.BoolP("no-date", "d", false, "leave out the creation date")
	force := fs.BoolP("force", "f", false, "overwrite the output file")
	workers := fs.IntP("workers", "t", 0, "hashing goroutines (default one per core)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return create(cmd.Context(), args[0], createFlags{
			out: *out, announce: announce, webSeeds: webSeeds, pieceLength: *pieceLength, private: *private,
			comment: *comment, source: *source, noDate: *noDate, force: *force, workers: *workers,
		}, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

// createFlags are the flags of `lanseedd create`.
type createFlags struct {
	out                string
	announce, webSeeds []string
	pieceLength        string
	private            bool
	comment, source    string
	noDate, force      bool
	workers            int
}

func create(ctx context.Context, path string, opt createFlags, stdout, stderr io.Writer) error {
	o := torrentfile.CreateOptions{
		Announce: torrentfile.AnnounceTiers(opt.announce),
		WebSeeds: opt.webSeeds,
		Private:  opt.private,
		Source:   opt.source,
		Comment:  opt.comment,
		Workers:  opt.workers,
	}
	if opt.pieceLength != "auto" {
		pl, err := torrentfile.ParsePieceLength(opt.pieceLength)
		if err != nil {
			return fmt.Errorf("create: -piece-length: %w", err)
		}
		o.PieceLength = pl
	}
	if !opt.noDate {
		o.CreationDate = time.Now()
	}
	if opt.out == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		opt.out = filepath.Base(abs) + ".torrent"
	}
	// Fail before hashing, not after, if the output exists.
	var w io.Writer = stdout
	if opt.out != "-" {
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if opt.force {
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		f, err := os.OpenFile(opt.out, flags, 0o644)
		if err != nil {
			return fmt.Errorf("create: %w (-f overwrites)", err)
		}
		defer f.Close()
		w = f
	}
	bar := newProgressBar(stderr)
	o.Progress = bar.update
	start := time.Now()
	mi, err := torrentfile.Create(ctx, path, o)
	bar.done()
	if err != nil {
		if opt.out != "-" {
			os.Remove(opt.out)
		}
		return fmt.Errorf("create: %w", err)
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("create: write %s: %w", opt.out, err)
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		if err := f.Close(); err != nil {
			return fmt.Errorf("create: write %s: %w", opt.out, err)
		}
	}
	info, _ := mi.UnmarshalInfo()
	d := time.Since(start)
	msg := fmt.Sprintf("%s  %s  %d pieces of %s, %s in %s (%s/s)\n",
		mi.HashInfoBytes().HexString(), opt.out, info.NumPieces(), web.FormatBytes(info.PieceLength),
		web.FormatBytes(info.TotalLength()), d.Round(time.Millisecond), web.FormatBytes(int64(float64(info.TotalLength())/max(d.Seconds(), 1e-9))))
	if opt.out == "-" {
		fmt.Fprint(stderr, msg)
	} else {
		fmt.Fprint(stdout, msg)
	}
	return nil
}

// progressBar draws hashing progress on a terminal, at most ten times a
// second; on anything else it stays quiet.
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time

	mu   sync.Mutex
	last time.Time
	drew bool
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	return &progressBar{w: w, on: ok && term.IsTerminal(int(f.Fd())), start: time.Now()}
}

func (p *progressBar) update(done, total int64) {
	if !p.on || total == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last, p.drew = now, true
	const width = 30
	n := int(done * width / total)
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r[%s%s] %3d%%  %s / %s  %s/s ", strings.Repeat("#", n), strings.Repeat(" ", width-n),
		done*100/total, web.FormatBytes(done), web.FormatBytes(total), web.FormatBytes(int64(rate)))
}

func (p *progressBar) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drew {
		fmt.Fprintln(p.w)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lanseedd/lanseedd/seeder"
	"github.com/lanseedd/lanseedd/web"
	"golang.org/x/term"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runCreate makes a .torrent for a file or directory, as mktorrent does:
// `lanseedd create [flags] PATH`.
func runCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var announce, webSeeds listFlag
	out := fs.String("o", "", "output file (default NAME.torrent in the current directory; - for stdout)")
	fs.Var(&announce, "announce", "tracker URL; repeat for backup tiers, separate URLs of one tier with commas")
	fs.Var(&webSeeds, "webseed", "web seed URL (BEP 19); repeatable")
	pieceLength := fs.String("piece-length", "auto", "piece length: bytes (262144, 256K, 1M), mktorrent's exponent (18), or auto (1,000–2,000 pieces)")
	private := fs.Bool("private", false, "set the private flag (no DHT or PEX)")
	comment := fs.String("comment", "", "comment")
	source := fs.String("source", "", "source string in the info dictionary (changes the infohash)")
	noDate := fs.Bool("no-date", false, "leave out the creation date")
	force := fs.Bool("f", false, "overwrite the output file")
	workers := fs.Int("workers", 0, "hashing goroutines (default one per core)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lanseedd create [flags] PATH")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("create: give one file or directory")
	}
	path := fs.Arg(0)
	o := seeder.CreateOptions{
		Announce: seeder.AnnounceTiers(announce),
		WebSeeds: webSeeds,
		Private:  *private,
		Source:   *source,
		Comment:  *comment,
		Workers:  *workers,
	}
	if *pieceLength != "auto" {
		pl, err := seeder.ParsePieceLength(*pieceLength)
		if err != nil {
			return fmt.Errorf("create: -piece-length: %w", err)
		}
		o.PieceLength = pl
	}
	if !*noDate {
		o.CreationDate = time.Now()
	}
	if *out == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		*out = filepath.Base(abs) + ".torrent"
	}
	// Fail before hashing, not after, if the output exists.
	var w io.Writer = stdout
	if *out != "-" {
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if *force {
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		f, err := os.OpenFile(*out, flags, 0o644)
		if err != nil {
			return fmt.Errorf("create: %w (-f overwrites)", err)
		}
		defer f.Close()
		w = f
	}
	bar := newProgressBar(stderr)
	o.Progress = bar.update
	start := time.Now()
	mi, err := seeder.Create(ctx, path, o)
	bar.done()
	if err != nil {
		if *out != "-" {
			os.Remove(*out)
		}
		return fmt.Errorf("create: %w", err)
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("create: write %s: %w", *out, err)
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		if err := f.Close(); err != nil {
			return fmt.Errorf("create: write %s: %w", *out, err)
		}
	}
	info, _ := mi.UnmarshalInfo()
	d := time.Since(start)
	msg := fmt.Sprintf("%s  %s  %d pieces of %s, %s in %s (%s/s)\n",
		mi.HashInfoBytes().HexString(), *out, info.NumPieces(), web.FormatBytes(info.PieceLength),
		web.FormatBytes(info.TotalLength()), d.Round(time.Millisecond), web.FormatBytes(int64(float64(info.TotalLength())/max(d.Seconds(), 1e-9))))
	if *out == "-" {
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

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// componentKey names the part of the daemon a line comes from. Parts nest
// (the seeder's BitTorrent client logs as "seeder.bittorrent"), and a line
// carries the key once.
const componentKey = "component"

// newLogger logs text or JSON to w. When w is the journal's stream, each
// line starts with its syslog priority, so that journalctl -p filters by
// level, and the time is left out, since the journal stamps every line.
// Durations are written as text ("1.5s") in both formats.
func newLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	return newLoggerFor(w, format, level, onJournal(w, os.Getenv("JOURNAL_STREAM")))
}

func newLoggerFor(w io.Writer, format string, level slog.Leveler, journal bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if journal && a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		if a.Value.Kind() == slog.KindDuration {
			// slog's JSON handler writes nanoseconds, which nobody reads.
			return slog.String(a.Key, a.Value.Duration().String())
		}
		return a
	}}
	out := w
	var p *priorityOut
	if journal {
		p = &priorityOut{w: w}
		out = &p.buf
	}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(out, opts)
	} else {
		h = slog.NewTextHandler(out, opts)
	}
	if p != nil {
		h = &priorityHandler{inner: h, out: p}
	}
	return slog.New(&componentHandler{inner: h})
}

// onJournal reports whether w is the stream systemd connected to the
// journal. systemd puts that stream's device and inode in JOURNAL_STREAM;
// the variable is inherited by children whose stderr goes elsewhere, so
// only a match with w's own device and inode counts (systemd.exec(5)).
func onJournal(w io.Writer, journalStream string) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok || journalStream == "" {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fmt.Sprintf("%d:%d", st.Dev, st.Ino) == journalStream
}

// syslogPriority is the sd-daemon(3) prefix of a level: journald strips it
// and files the line under that priority.
func syslogPriority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "<3>" // err
	case l >= slog.LevelWarn:
		return "<4>" // warning
	case l >= slog.LevelInfo:
		return "<6>" // info
	default:
		return "<7>" // debug
	}
}

// priorityOut is where a priorityHandler and all the handlers derived from
// it write: one buffer, so that the prefix and the line leave in one write
// and lines of concurrent loggers do not interleave.
type priorityOut struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   io.Writer
}

// priorityHandler prefixes every line with its syslog priority.
type priorityHandler struct {
	inner slog.Handler // writes into out.buf
	out   *priorityOut
}

func (h *priorityHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *priorityHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.buf.Reset()
	h.out.buf.WriteString(syslogPriority(r.Level))
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	_, err := h.out.w.Write(h.out.buf.Bytes())
	if h.out.buf.Cap() > 64<<10 {
		// One huge line should not pin its buffer for ever.
		h.out.buf = bytes.Buffer{}
	}
	return err
}

func (h *priorityHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &priorityHandler{inner: h.inner.WithAttrs(as), out: h.out}
}

func (h *priorityHandler) WithGroup(name string) slog.Handler {
	return &priorityHandler{inner: h.inner.WithGroup(name), out: h.out}
}

// componentHandler keeps one component key per line: a component given
// on a logger that already has one is appended to it with a dot, where slog
// would write the key twice (which JSON readers resolve each their own way).
type componentHandler struct {
	inner     slog.Handler
	component string // not yet handed to inner
	grouped   bool   // a group is open: attributes belong to it, component included
}

func (h *componentHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *componentHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.grouped {
		return h.inner.Handle(ctx, r)
	}
	comp, found := h.component, false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == componentKey {
			found = true
		}
		return !found
	})
	if comp == "" && !found {
		return h.inner.Handle(ctx, r)
	}
	// The component goes first, before the record's own attributes.
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	var rest []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == componentKey {
			comp = joinComponent(comp, a)
		} else {
			rest = append(rest, a)
		}
		return true
	})
	out.AddAttrs(slog.String(componentKey, comp))
	out.AddAttrs(rest...)
	return h.inner.Handle(ctx, out)
}

func (h *componentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if h.grouped {
		return &componentHandler{inner: h.inner.WithAttrs(as), grouped: true}
	}
	comp := h.component
	rest := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		if a.Key == componentKey {
			comp = joinComponent(comp, a)
		} else {
			rest = append(rest, a)
		}
	}
	inner := h.inner
	if len(rest) > 0 {
		inner = inner.WithAttrs(rest)
	}
	return &componentHandler{inner: inner, component: comp}
}

func (h *componentHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	inner := h.inner
	if h.component != "" && !h.grouped {
		// Hand the component over before the group opens, so that it stays
		// at the top level.
		inner = inner.WithAttrs([]slog.Attr{slog.String(componentKey, h.component)})
	}
	return &componentHandler{inner: inner.WithGroup(name), grouped: true}
}

func joinComponent(parent string, a slog.Attr) string {
	name := a.Value.Resolve().String()
	if parent == "" {
		return name
	}
	return parent + "." + name
}
